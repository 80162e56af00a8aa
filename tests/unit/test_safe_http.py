"""The address guard, bounded decoders and redirect helpers of lambdas.common.safe_http."""

import gzip
import zlib

import brotli
import httpx
import pytest

from lambdas.common.safe_http import (
    AddressRefusedError,
    FetchError,
    _BodyCollector,
    address_problem,
    check_address,
    headers_for_hop,
    parse_retry_after,
    redirect_target,
)


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("10.0.0.5", "a private"),
        ("172.16.3.4", "a private"),
        ("192.168.1.1", "a private"),
        ("127.0.0.1", "a loopback"),
        ("127.255.0.9", "a loopback"),
        ("::1", "a loopback"),
        ("169.254.169.254", "the cloud metadata"),
        ("169.254.170.2", "the cloud metadata"),
        ("fd00:ec2::254", "the cloud metadata"),
        ("169.254.1.2", "a link-local"),
        ("fe80::1", "a link-local"),
        ("fe80::1%eth0", "a link-local"),
        ("100.64.0.1", "a carrier-grade NAT"),
        ("100.127.255.254", "a carrier-grade NAT"),
        ("fc00::1", "a unique-local"),
        ("fdab:1234::1", "a unique-local"),
        ("224.0.0.1", "a multicast"),
        ("ff02::1", "a multicast"),
        ("0.0.0.0", "an unspecified"),
        ("::", "an unspecified"),
        ("240.0.0.1", "a reserved"),
        ("255.255.255.255", "a reserved"),
        ("::ffff:10.0.0.5", "an IPv4-mapped private"),
        ("::ffff:127.0.0.1", "an IPv4-mapped loopback"),
        ("::ffff:169.254.169.254", "an IPv4-mapped form of the cloud metadata"),
        ("::10.0.0.5", "an IPv4-compatible private"),
        ("2002:a00:5::1", "an 6to4 private"),
        ("2002:a9fe:a9fe::1", "an 6to4 form of the cloud metadata"),
        ("64:ff9b::a00:5", "an NAT64 private"),
        ("64:ff9b::7f00:1", "an NAT64 loopback"),
        ("2001:db8::1", "a reserved (documentation)"),
    ],
)
def test_non_public_addresses_are_named(ip: str, kind: str) -> None:
    assert address_problem(ip) == kind


@pytest.mark.parametrize(
    "ip", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(ip: str) -> None:
    assert address_problem(ip) is None
    check_address(ip)  # does not raise


def test_refusal_message_names_the_address_and_kind() -> None:
    with pytest.raises(AddressRefusedError) as caught:
        check_address("10.0.0.5")
    assert caught.value.reason == "refused: 10.0.0.5 is a private address"
    assert not caught.value.transient


def test_allow_private_networks_opens_private_but_never_metadata() -> None:
    check_address("127.0.0.1", allow_private_networks=True)
    check_address("10.1.2.3", allow_private_networks=True)
    check_address("::ffff:192.168.0.1", allow_private_networks=True)
    for metadata in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"):
        with pytest.raises(AddressRefusedError, match="metadata"):
            check_address(metadata, allow_private_networks=True)


def test_a_non_ip_string_is_refused() -> None:
    with pytest.raises(AddressRefusedError, match="not an IP address"):
        check_address("localhost")


def _collect(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    headers = httpx.Headers({"content-encoding": encoding} if encoding else {})
    collector = _BodyCollector(headers, max_bytes)
    for start in range(0, len(body), 16 * 1024):
        collector.feed(body[start : start + 16 * 1024])
    return collector.finish()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda d: zlib.compress(d)[2:-4]),  # raw deflate, no zlib header
        ("br", brotli.compress),
        ("gzip, br", lambda d: brotli.compress(gzip.compress(d))),
        (None, lambda d: d),
    ],
)
def test_decoders_round_trip(encoding: str | None, encode: object) -> None:
    original = b"<html>" + b"hello world " * 50_000 + b"</html>"
    assert callable(encode)
    assert _collect(encode(original), encoding, 10 * 1024 * 1024) == original


@pytest.mark.parametrize(("encoding", "encode"), [("gzip", gzip.compress), ("br", brotli.compress)])
def test_decoded_size_over_cap_is_refused(encoding: str, encode: object) -> None:
    assert callable(encode)
    with pytest.raises(FetchError, match=r"body larger than 1 MiB"):
        _collect(encode(bytes(3 * 1024 * 1024)), encoding, 1024 * 1024)


def test_content_length_over_cap_is_refused_before_reading() -> None:
    with pytest.raises(FetchError, match=r"body larger than 1 KiB \(Content-Length 5000\)"):
        _BodyCollector(httpx.Headers({"content-length": "5000"}), 1024)


def test_unknown_encoding_and_corrupt_data_are_clear_errors() -> None:
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'zstd'"):
        _BodyCollector(httpx.Headers({"content-encoding": "zstd"}), 1024)
    with pytest.raises(FetchError, match="not valid gzip"):
        _collect(b"definitely not gzip", "gzip", 1024)


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
