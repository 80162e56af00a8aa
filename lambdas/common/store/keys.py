"""Keys, expiry and time helpers shared by both backends (pure: no I/O)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

# DynamoDB sort keys hold up to 1024 bytes (partition keys 2048): a URL may be up to 2083
# characters, so long ones are hashed.
MAX_KEY_BYTES = 1024

T = TypeVar("T")


def _bounded_key(prefix: str, name: str) -> str:
    key = f"{prefix}{name}"
    if len(key.encode("utf-8")) <= MAX_KEY_BYTES:
        return key
    return f"{prefix}sha256:" + hashlib.sha256(name.encode("utf-8")).hexdigest()


def page_key(url: str) -> str:
    """The key part naming a page: `PAGE#<url>`, or a SHA-256 of it when too long for a key."""
    return _bounded_key("PAGE#", url)


def host_note_key(host: str) -> str:
    """The sort key of a host note: `HOST#<scheme://host:port>` (hashed if ever too long)."""
    return _bounded_key("HOST#", host)


def run_key(run_id: str) -> str:
    return f"RUN#{run_id}"


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 timestamp (Step Functions writes `...Z`); naive means UTC."""
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def expires_at(started_at: str, ttl_days: int) -> int:
    """Epoch seconds at which a run's records expire (from the run's start: deterministic)."""
    return int((parse_instant(started_at) + timedelta(days=ttl_days)).timestamp())


def is_older(candidate: str, existing: str) -> bool:
    """Whether run start `candidate` is before `existing` (text order if either is not ISO)."""
    try:
        return parse_instant(candidate) < parse_instant(existing)
    except ValueError:
        return candidate < existing


def instant_key(started_at: str) -> str:
    """A run start as fixed-width UTC text, so text order is time order (DynamoDB compares
    strings: a ConditionExpression on it must agree with is_older)."""
    try:
        return parse_instant(started_at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return started_at


def runs_sort_key(started_at: str, run_id: str) -> str:
    return f"{instant_key(started_at)}#{run_id}"


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """The items in lists of `size` (the last may be shorter), consumed lazily."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
