"""Speed 7g (memory): moto's S3 keeps every object's body in memory.

Checked against moto 5.2.5: FakeKey holds its body in a SpooledTemporaryFile that stays in
memory up to MOTO_S3_DEFAULT_KEY_BUFFER_SIZE (5 MiB; a smaller one would hold an open file per
object). A distributed run writes two objects per batch (its pages, its results: about 1 KB a
page), so moto's S3 alone grew with the run (17 MiB more at 25,000 pages than at 5,000; about
850 MiB at a million). The engine gives each key a SpilledBody instead: the bytes go to one
append-only, already-unlinked file per process (BodyStore) and the key keeps an offset and a
length. What moto does with a body (seek, truncate, write, read in chunks for the ETag, close)
behaves as before; an overwritten body's old bytes stay in the file until the process ends.
"""

from __future__ import annotations

import os
import tempfile
import threading
from typing import IO, Any

from moto.s3 import models as s3_models


class BodyStore:
    """One append-only temporary file (unlinked at creation, so the OS frees it at exit)."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._end = 0
        self._lock = threading.Lock()

    def append(self, data: bytes) -> int:
        """Write `data` at the end; its offset."""
        with self._lock:
            if self._file is None:
                # open for the process's life (unlinked already): no `with` to close it
                self._file = tempfile.TemporaryFile(prefix="crawlmap-s3-bodies-")  # noqa: SIM115
            offset, view = self._end, memoryview(data)
            while view:
                written = os.pwrite(self._file.fileno(), view, offset + len(data) - len(view))
                view = view[written:]
            self._end += len(data)
            return offset

    def read(self, offset: int, length: int) -> bytes:
        assert self._file is not None, "read before any write"
        chunks, done = [], 0
        while done < length:  # pread needs no lock: it does not move a shared position
            chunk = os.pread(self._file.fileno(), length - done, offset + done)
            if not chunk:
                raise OSError(f"S3 body store: {length - done} bytes missing at {offset + done}")
            chunks.append(chunk)
            done += len(chunk)
        return b"".join(chunks)


_store = BodyStore()


class SpilledBody:
    """The file-like FakeKey keeps its body in (where moto made a SpooledTemporaryFile)."""

    __slots__ = ("_length", "_offset", "_position", "closed")

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # moto passes max_size
        self._offset = 0
        self._length = 0
        self._position = 0
        self.closed = False

    def seek(self, position: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._length}[whence]
        if base + position < 0:
            raise ValueError(f"negative seek position {base + position}")
        self._position = base + position
        return self._position

    def tell(self) -> int:
        return self._position

    def truncate(self, size: int | None = None) -> int:
        size = self._position if size is None else size
        if size > self._length:  # grows: zero-filled, as a file would be
            self.write_at(self._length, b"\0" * (size - self._length))
        else:  # shrinks: the bytes kept are the first `size`, where they are
            self._length = size
        return size

    def write(self, data: bytes) -> int:
        self.write_at(self._position, bytes(data))
        self._position += len(data)
        return len(data)

    def write_at(self, position: int, data: bytes) -> None:
        if not data:
            return
        if position == self._length == 0:  # what moto does: seek(0), truncate(), write(all)
            self._offset, self._length = _store.append(data), len(data)
            return
        old = self._bytes(0, self._length).ljust(position, b"\0")
        new = old[:position] + data + old[position + len(data) :]
        self._offset, self._length = _store.append(new), len(new)

    def read(self, size: int | None = -1) -> bytes:
        end = self._length if size is None or size < 0 else min(self._length, self._position + size)
        if end <= self._position:
            return b""
        data = self._bytes(self._position, end - self._position)
        self._position = end
        return data

    def _bytes(self, start: int, length: int) -> bytes:
        return _store.read(self._offset + start, length) if length > 0 else b""

    def close(self) -> None:
        self.closed = True


class _TempfileWithSpilledBodies:
    """moto.s3.models' `tempfile`, with SpooledTemporaryFile swapped for SpilledBody."""

    SpooledTemporaryFile = SpilledBody

    def __getattr__(self, name: str) -> Any:
        return getattr(tempfile, name)


def install() -> None:
    s3_models.tempfile = _TempfileWithSpilledBodies()
