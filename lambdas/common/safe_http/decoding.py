"""Content-Encoding decoding with bounded memory: gzip, deflate and brotli bombs stop at the cap.

Every decompressor produces at most DECODE_PIECE bytes per call, and _BodyCollector refuses
to hold more than the body cap after decoding, so a bomb costs at most the cap plus one piece.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Protocol

import brotli
import httpx

from lambdas.common.safe_http.errors import BadResponseError, FetchError


def _brotli_can_bound_output() -> bool:
    """brotli >= 1.2 can cap each call's output; older versions could expand a bomb at once."""
    try:
        brotli.Decompressor().process(b"", output_buffer_limit=1)
    except TypeError:
        return False
    except brotli.error:
        return True
    return True


BROTLI_BOUNDED = _brotli_can_bound_output()
ACCEPT_ENCODING = "gzip, deflate, br" if BROTLI_BOUNDED else "gzip, deflate"
DECODE_PIECE = 64 * 1024  # largest piece a decompressor may produce per call
MAX_CONTENT_CODINGS = 5  # what curl allows; a thousand stacked layers is an attack, not a site


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...
    def flush(self) -> Iterator[bytes]: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    """gzip / deflate with bounded output per call (zlib's max_length + unconsumed_tail)."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            yield from self._drain(data)
        except zlib.error:
            if self._encoding == "deflate" and not self._started:
                # Some servers send raw deflate without the zlib header.
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                self._wbits = -zlib.MAX_WBITS
                try:
                    yield from self._drain(data)
                    return
                except zlib.error:
                    pass
            raise BadResponseError(f"body is not valid {self._encoding} data") from None

    def _drain(self, data: bytes) -> Iterator[bytes]:
        pending = data
        while True:
            piece = self._inflater.decompress(pending, DECODE_PIECE)
            self._started = True
            if piece:
                yield piece
            pending = self._inflater.unconsumed_tail
            if not pending and len(piece) < DECODE_PIECE:
                return

    def flush(self) -> Iterator[bytes]:
        yield from self.feed(b"")


class _Brotli:
    """brotli with bounded output per call (output_buffer_limit, brotli >= 1.2)."""

    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            piece = self._decompressor.process(data, output_buffer_limit=DECODE_PIECE)
            if piece:
                yield piece
            # A full piece may mean more output is pending even when all input was taken.
            while len(piece) >= DECODE_PIECE or not self._decompressor.can_accept_more_data():
                piece = self._decompressor.process(b"", output_buffer_limit=DECODE_PIECE)
                if not piece and self._decompressor.can_accept_more_data():
                    break
                if piece:
                    yield piece
        except brotli.error:
            raise BadResponseError("body is not valid br data") from None

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Chain:
    def __init__(self, decoders: list[_Decoder]) -> None:
        self._decoders = decoders

    def _through(self, pieces: Iterable[bytes], start: int) -> Iterator[bytes]:
        if start == len(self._decoders):
            yield from pieces
            return
        decoder = self._decoders[start]
        for piece in pieces:
            yield from self._through(decoder.feed(piece), start + 1)

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through([data], 0)

    def flush(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self._decoders):
            yield from self._through(decoder.flush(), index + 1)


def _decoder_for(content_encoding: str | None) -> _Decoder:
    """Decoders for a Content-Encoding header, in the order to apply them."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > MAX_CONTENT_CODINGS:
        raise BadResponseError(
            f"too many Content-Encoding layers ({len(codings)}; at most {MAX_CONTENT_CODINGS})"
        )
    decoders: list[_Decoder] = []
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            decoders.append(_Zlib("gzip"))
        elif coding == "deflate":
            decoders.append(_Zlib("deflate"))
        elif coding == "br" and BROTLI_BOUNDED:
            decoders.append(_Brotli())
        else:
            raise BadResponseError(f"unsupported Content-Encoding {coding[:40]!r}")
    if not decoders:
        return _Identity()
    return decoders[0] if len(decoders) == 1 else _Chain(decoders)


def _human_size(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


class _BodyCollector:
    """Decode and collect a body, refusing to hold more than max_bytes after decoding."""

    def __init__(self, headers: httpx.Headers, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        declared = headers.get("content-length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(
                f"body larger than {_human_size(max_bytes)} (Content-Length {int(declared)})"
            )
        self._decoder = _decoder_for(headers.get("content-encoding"))
        self._buffer = bytearray()

    def decode(self, raw: bytes, *, final: bool = False) -> Iterator[bytes]:
        """The decoded pieces of `raw` (then of the decoder's flush when `final`), each checked
        against the cap before the caller keeps it (the async fetch reserves memory for each
        piece in between)."""
        pieces = self._decoder.flush() if final else self._decoder.feed(raw)
        for piece in pieces:
            if len(self._buffer) + len(piece) > self._max_bytes:
                raise FetchError(f"body larger than {_human_size(self._max_bytes)}")
            yield piece

    def keep(self, piece: bytes) -> None:
        self._buffer += piece

    def feed(self, raw: bytes) -> None:
        for piece in self.decode(raw):
            self.keep(piece)

    def finish(self) -> bytes:
        for piece in self.decode(b"", final=True):
            self.keep(piece)
        return self.body()

    def body(self) -> bytes:
        return bytes(self._buffer)
