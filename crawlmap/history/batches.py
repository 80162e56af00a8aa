"""What the history says about crawlmap's batches: CrawlBatch's input and output payloads.

The parser is generic (any state machine's history); this module alone knows the contract's
shapes (docs/CONTRACT.md): a CrawlBatch input carries `batch_id`, `lane_id` and `pages`, its
output is a BatchResult or (after a Catch) a BatchFailure, and a distributed batch returns
`{"batch_id", "lane_id", "results_key", "pages": n}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def batch_place(value: Any) -> tuple[int | None, int | None]:
    """(lane_id, batch_index) from a CrawlBatch or CrawlBatchDistributed input (v0.2)."""
    if not isinstance(value, Mapping):
        return None, None
    return _int(value.get("lane_id")), _int(value.get("batch_index"))


def batch_page_count(value: Any) -> int | None:
    """The page count a distributed batch returns (`{"batch_id", "results_key", "pages": n}`)."""
    if isinstance(value, Mapping) and "results_key" in value:
        return _int(value.get("pages"))
    return None


def batch_id_of(value: Any) -> int | None:
    return _int(value.get("batch_id")) if isinstance(value, Mapping) else None


def batch_pages(value: Any) -> tuple[int | None, tuple[str, ...]]:
    """batch_id and page URLs from a CrawlBatch input ({'batch_id', 'pages': [{'url'}...]})."""
    if not isinstance(value, Mapping):
        return None, ()
    batch_id = value.get("batch_id")
    pages = value.get("pages")
    urls: list[str] = []
    if isinstance(pages, list):
        for page in pages:
            if isinstance(page, Mapping) and isinstance(page.get("url"), str):
                urls.append(page["url"])
            elif isinstance(page, str):
                urls.append(page)
    return (batch_id if isinstance(batch_id, int) else None), tuple(urls)


def batch_counts(value: Any) -> tuple[int | None, int | None]:
    """(ok, failed) page counts from a BatchResult or BatchFailure (docs/CONTRACT.md)."""
    if not isinstance(value, Mapping):
        return None, None
    failure = value.get("failure")
    if isinstance(failure, Mapping) and isinstance(failure.get("pages"), list):
        return 0, len(failure["pages"])
    results = value.get("results")
    if isinstance(results, list):
        ok = sum(1 for r in results if isinstance(r, Mapping) and r.get("ok") is True)
        skipped = sum(
            1 for r in results if isinstance(r, Mapping) and r.get("outcome") == "skipped"
        )
        return ok, len(results) - ok - skipped
    return None, None
