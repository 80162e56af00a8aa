"""Redirect and header helpers of lambdas.common.safe_http (safe_http/fetch.py)."""

import httpx

from lambdas.common.safe_http import headers_for_hop, parse_retry_after, redirect_target


def test_redirect_target_resolves_relative_and_drops_fragment() -> None:
    response = httpx.Response(301, headers={"location": "../b?x=1#frag"})
    assert redirect_target(response, "https://a.test/dir/page") == "https://a.test/b?x=1"
    assert redirect_target(httpx.Response(200), "https://a.test/") is None
    assert redirect_target(httpx.Response(302), "https://a.test/") is None  # no Location


def test_credentials_kept_same_origin_dropped_cross_origin() -> None:
    headers = {"Authorization": "Bearer x", "Cookie": "a=b", "User-Agent": "ua"}
    same = headers_for_hop(headers, "https://a.test/x", "https://a.test:443/y")
    assert same == headers
    for other in ("https://b.test/", "http://a.test/x", "https://a.test:8443/"):
        assert headers_for_hop(headers, "https://a.test/x", other) == {"User-Agent": "ua"}


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
