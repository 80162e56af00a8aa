"""Bounded Content-Encoding decoding of lambdas.common.safe_http (safe_http/decoding.py)."""

import gzip
import zlib

import brotli
import httpx
import pytest

from lambdas.common.safe_http import FetchError
from lambdas.common.safe_http.decoding import _BodyCollector


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
