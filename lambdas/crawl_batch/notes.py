"""The run's HostNotes: how one lane tells every other lane to back off a host (429/503,
Retry-After). CrawlBatch reads its hosts' notes at batch start and before a retry, and writes
one when a server asks for a pause; the store keeps them (lambdas.common.store: DynamoDB item
`RUN#<run>`/`HOST#<host>`, SQLite table host_notes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Protocol

from lambdas.common.models import HostNote
from lambdas.common.retries import UNAVAILABLE_BACKOFF_S


class HostNotes(Protocol):
    """What CrawlBatch needs of the store (lambdas.common.store.HostNotes is one)."""

    def host_notes(self, run_id: str, hosts: Iterable[str]) -> dict[str, HostNote]: ...

    def put_host_note(self, run_id: str, host: str, note: HostNote) -> HostNote:
        """Store `note` unless a later one is there; return the note in effect."""
        ...


class ProcessHostNotes:
    """Notes kept in this process only: what a run without a store shares (the local engine's
    invocations share a process; on Lambda one container's invocations)."""

    def __init__(self) -> None:
        self._notes: dict[tuple[str, str], HostNote] = {}
        self._lock = threading.Lock()

    def host_notes(self, run_id: str, hosts: Iterable[str]) -> dict[str, HostNote]:
        with self._lock:
            return {h: self._notes[(run_id, h)] for h in hosts if (run_id, h) in self._notes}

    def put_host_note(self, run_id: str, host: str, note: HostNote) -> HostNote:
        with self._lock:
            existing = self._notes.get((run_id, host))
            if existing is not None and existing["not_before"] >= note["not_before"]:
                return existing
            self._notes[(run_id, host)] = note
            return note


def backoff_note(status: int, retry_after: float | None) -> HostNote | None:
    """The note a response asks for: 429/503 with Retry-After, or a 503 without one."""
    if status not in (429, 503):
        return None
    if retry_after is None:
        if status == 429:
            return None
        wait, said = UNAVAILABLE_BACKOFF_S, "no Retry-After"
    else:
        wait, said = retry_after, f"Retry-After {retry_after:g} s"
    return HostNote(not_before=time.time() + wait, reason=f"HTTP {status}, {said}")
