"""JSON decoded as the bytes arrive: memory stays bounded by one chunk plus one element.

Result files and results objects may hold thousands of page results; StoreAndNotify reads
them element by element instead of loading them whole.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from lambdas.common.errors import InvalidInputError

_WHITESPACE = re.compile(r"[ \t\r\n]*")


class _JsonStream:
    """A cursor over one top-level JSON value arriving as a stream of byte chunks."""

    def __init__(self, chunks: Iterable[bytes], source: str, field: str) -> None:
        self._chunks = iter(chunks)
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()
        self._buffer = ""
        self._pos = 0
        self._eof = False
        self._source = source
        self._field = field

    def _error(self, problem: str) -> InvalidInputError:
        return InvalidInputError(self._field, f"{self._source}: {problem}")

    def _fill(self) -> bool:
        """Append the next chunk (dropping what was consumed); False once the stream is done."""
        if self._eof:
            return False
        chunk = next(self._chunks, None)
        try:
            if chunk is None:
                self._eof = True
                tail = self._utf8.decode(b"", final=True)
            else:
                tail = self._utf8.decode(chunk)
        except UnicodeDecodeError:
            raise self._error("is not UTF-8") from None
        self._buffer = self._buffer[self._pos :] + tail
        self._pos = 0
        return True

    def _next_char(self) -> str | None:
        """The next non-whitespace character (not consumed), or None at the end."""
        while True:
            match = _WHITESPACE.match(self._buffer, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._fill():
                return None

    def _expect(self, allowed: str) -> str:
        char = self._next_char()
        if char is None or char not in allowed:
            found = "the end" if char is None else repr(char)
            raise self._error(f"expected {' or '.join(allowed)} but found {found}")
        self._pos += 1
        return char

    def _value(self) -> Any:
        self._next_char()
        while True:
            try:
                value, end = self._json.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                if self._fill():
                    continue
                raise self._error(f"is not valid JSON ({exc.msg})") from None
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(self._buffer) and self._fill():
                continue
            self._pos = end
            return value

    def _elements(self) -> Iterator[Any]:
        self._expect("[")
        if self._next_char() == "]":
            self._pos += 1
            return
        while True:
            yield self._value()
            if self._expect(",]") == "]":
                return

    def _end(self) -> None:
        if self._next_char() is not None:
            raise self._error("has data after the JSON value")

    def array(self) -> Iterator[Any]:
        yield from self._elements()
        self._end()

    def member_array(self, name: str, others: dict[str, Any]) -> Iterator[Any]:
        """The elements of the array under key `name` of a top-level object; the object's
        other members are decoded whole into `others` (complete once iteration ends)."""
        self._expect("{")
        if self._next_char() == "}":
            self._pos += 1
        else:
            while True:
                key = self._value()
                if not isinstance(key, str):
                    raise self._error("expected an object key")
                self._expect(":")
                if key == name and self._next_char() == "[":
                    yield from self._elements()
                else:
                    others[key] = self._value()
                if self._expect(",}") == "}":
                    break
        self._end()


def iter_json_array(
    chunks: Iterable[bytes], source: str = "result file", field: str = "batches.result_writer"
) -> Iterator[Any]:
    """Each element of a JSON array, decoded as the bytes arrive."""
    return _JsonStream(chunks, source, field).array()


def iter_member_array(
    chunks: Iterable[bytes],
    name: str,
    source: str,
    field: str,
    others: dict[str, Any] | None = None,
) -> Iterator[Any]:
    """Each element of the array `object[name]` of a JSON object, decoded as the bytes arrive
    (e.g. the `results` of a BatchResult, the `pages` of a Batch)."""
    return _JsonStream(chunks, source, field).member_array(name, {} if others is None else others)
