"""Canonical URLs: the identity of a page for dedupe and for the store."""

import pytest

from lambdas.common.urls import MAX_URL_LENGTH, UrlError, canonicalize


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("HTTP://Example.COM/a", "http://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com/a#section", "http://example.com/a"),
        ("http://example.com/a?b=2&a=1", "http://example.com/a?a=1&b=2"),
        ("http://example.com/?utm_source=x&UTM_medium=y&id=3", "http://example.com/?id=3"),
        ("http://example.com/?gclid=abc&fbclid=def&q=1", "http://example.com/?q=1"),
        ("http://example.com/?flag=&a=1", "http://example.com/?a=1&flag="),
        ("  http://example.com/a  ", "http://example.com/a"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://bücher.de/", "http://bücher.de/"),
        ("http://example.com./", "http://example.com./"),
    ],
)
def test_canonical_form(given: str, canonical: str) -> None:
    assert canonicalize(given) == canonical


def test_configured_tracking_parameters_are_removed_too() -> None:
    url = "http://example.com/?ref=newsletter&id=3"
    assert canonicalize(url, tracking_params={"ref"}) == "http://example.com/?id=3"
    assert canonicalize(url) == "http://example.com/?id=3&ref=newsletter"


def test_duplicates_collapse_to_one_identity() -> None:
    variants = [
        "http://example.com/page",
        "HTTP://EXAMPLE.com:80/page#top",
        "http://example.com/page?utm_campaign=x",
    ]
    assert len({canonicalize(v) for v in variants}) == 1


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("ftp://example.com/", "only http and https"),
        ("/relative/path", "only http and https"),
        ("", "empty URL"),
        ("http://", "has no host"),
        ("http://exa mple.com/", "whitespace"),
        ("http://user:secret@example.com/", "credentials"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://a..b/", "not a valid host name"),
        ("http://" + "a" * 64 + ".com/", "not a valid host name"),
        ("http://example.com/" + "a" * MAX_URL_LENGTH, "longer than 2083"),
    ],
)
def test_urls_crawlmap_will_not_fetch_are_refused_with_the_reason(given: str, problem: str) -> None:
    with pytest.raises(UrlError, match=problem):
        canonicalize(given)


def test_a_non_string_is_refused() -> None:
    with pytest.raises(UrlError, match="not a string"):
        canonicalize(42)  # type: ignore[arg-type]
