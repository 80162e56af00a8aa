"""PageResults: one builder per kind of ending (success, 304, failure, skip), and the batch's
results made to fit Step Functions' payload limit whatever the URL lengths and batch size."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from lambdas.common.models import (
    MAX_ERROR_CHARS,
    MAX_URL_CHARS,
    BatchResult,
    PageResult,
    PageTask,
    PreviousState,
    truncated,
    unmeasured_result,
)
from lambdas.common.safe_http import SafeResponse
from lambdas.crawl_batch.parse import (
    MAX_DESCRIPTION,
    MAX_EXTRACTED,
    MAX_TITLE,
    PageFacts,
)

# Step Functions' limit on a state's input/output is 256 KiB of UTF-8; the margin leaves room
# for what the Map and Lambda integration wrap around a BatchResult.
STATE_PAYLOAD_LIMIT = 256 * 1024
RESULT_BYTES_LIMIT = STATE_PAYLOAD_LIMIT - 8 * 1024


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def failed_result(
    url: str,
    error: str,
    *,
    attempts: int,
    status: int | None = None,
    response: SafeResponse | None = None,
) -> PageResult:
    result = unmeasured_result(url, error=truncated(error, MAX_ERROR_CHARS), attempts=attempts)
    result["status"] = status
    if response is not None:
        result["final_url"] = response.url
        result["elapsed_ms"] = response.elapsed_ms
        result["redirects"] = response.redirects
        result["content_type"] = response.content_type
    return result


def skipped_result(url: str, reason: str, *, attempts: int) -> PageResult:
    result = unmeasured_result(url, error=truncated(reason, MAX_ERROR_CHARS), attempts=attempts)
    result["outcome"] = "skipped"
    return result


def _measured(task: PageTask, response: SafeResponse, *, attempts: int) -> PageResult:
    result = unmeasured_result(task["url"], error=None, attempts=attempts)
    result["final_url"] = response.url
    result["ok"] = True
    result["status"] = response.status
    result["elapsed_ms"] = response.elapsed_ms
    result["content_type"] = response.content_type
    result["redirects"] = response.redirects
    result["fetched_at"] = now_iso()
    return result


def success_result(
    task: PageTask, response: SafeResponse, facts: PageFacts, *, attempts: int
) -> PageResult:
    """A 2xx response and what was extracted from it -> its PageResult."""
    result = _measured(task, response, attempts=attempts)
    result["bytes"] = len(response.body)
    result["etag"] = response.headers.get("etag")
    result["last_modified"] = response.headers.get("last-modified")
    result["kind"] = facts.kind
    result["title"] = facts.title
    result["description"] = facts.description
    result["canonical"] = facts.canonical
    result["h1"] = facts.h1
    result["links"] = facts.links
    result["words"] = facts.words
    result["content_hash"] = facts.content_hash
    result["extracted"] = dict(facts.extracted)
    result["fingerprints"] = dict(facts.fingerprints)
    previous = task["previous"]
    if previous is None:
        result["outcome"] = "new"
    elif previous.get("content_hash") == facts.content_hash:
        result["outcome"] = "unchanged"
    else:
        result["outcome"] = "changed"
        result["changed_fields"] = changed_fields(previous, facts.fingerprints)
    return result


def changed_fields(previous: PreviousState, current: dict[str, str]) -> list[str]:
    """The fields whose hash differs from the last fetch's; ["unknown"] when the store has no
    per-field hashes for the page (stored before v0.2, or under another fingerprint)."""
    before = previous.get("fingerprints")
    if not before:
        return ["unknown"]
    names = sorted(set(before) | set(current))
    differing = [name for name in names if before.get(name) != current.get(name)]
    return differing or ["unknown"]


def not_modified_result(task: PageTask, response: SafeResponse, *, attempts: int) -> PageResult:
    """A 304: unchanged; validators and hashes carried over so the store keeps them."""
    previous = task["previous"] or PreviousState(etag=None, last_modified=None, content_hash=None)
    result = _measured(task, response, attempts=attempts)
    result["outcome"] = "unchanged"
    result["status"] = 304
    result["bytes"] = 0
    result["content_hash"] = previous["content_hash"]
    result["etag"] = response.headers.get("etag") or previous["etag"]
    result["last_modified"] = response.headers.get("last-modified") or previous["last_modified"]
    if previous.get("fingerprints"):
        result["fingerprints"] = dict(previous["fingerprints"])
    return result


# --------------------------------------------------------------------------- fitting


def _payload_bytes(value: Any) -> int:
    # As the Lambda runtime serializes a return value (json.dumps defaults: ASCII escapes and
    # ", " / ": " separators): the largest of the forms it may travel in.
    return len(json.dumps(value).encode("utf-8"))


# Caps per compaction level, tightest last: (urls, error, title/h1, description, extracted).
_LEVELS: tuple[tuple[int, int, int, int, int], ...] = (
    (MAX_URL_CHARS, MAX_ERROR_CHARS, MAX_TITLE, MAX_DESCRIPTION, MAX_EXTRACTED),
    (512, 300, 120, 160, 120),
    (128, 160, 60, 60, 40),
    (40, 80, 24, 24, 16),
)


def _compact(result: PageResult, level: int) -> PageResult:
    urls, error, title, description, extracted = _LEVELS[level]
    page = PageResult(**result)
    if page["final_url"] is not None:
        if level == len(_LEVELS) - 1 and page["final_url"] == page["url"]:
            page["final_url"] = None  # the tightest form: null means "the url itself"
        else:
            page["final_url"] = truncated(page["final_url"], urls)
    for name, limit in (
        ("canonical", urls),
        ("error", error),
        ("title", title),
        ("h1", title),
        ("description", description),
    ):
        value = page[name]  # type: ignore[literal-required]
        if isinstance(value, str):
            page[name] = truncated(value, limit)  # type: ignore[literal-required]
    page["extracted"] = {
        key: None if value is None else truncated(value, extracted)
        for key, value in page["extracted"].items()
    }
    return page


def fitted(batch_id: int, results: Sequence[PageResult]) -> BatchResult:
    """The BatchResult, its long fields cut (with TRUNCATION_MARKER) as far as it takes to stay
    within RESULT_BYTES_LIMIT: first to their usual caps, then tighter, evenly for all pages."""
    batch = BatchResult(batch_id=batch_id, results=[_compact(r, 0) for r in results])
    for level in range(1, len(_LEVELS)):
        if _payload_bytes(batch) <= RESULT_BYTES_LIMIT:
            break
        batch = BatchResult(batch_id=batch_id, results=[_compact(r, level) for r in results])
    return batch
