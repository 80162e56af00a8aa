"""The progress bar's counts (crawlmap/console.py): inline batch results, distributed batch
records (whose results are in S3) and failed invocations all move it."""

from __future__ import annotations

import io

from rich.console import Console

from crawlmap.console import CrawlProgress
from crawlmap.engine.adapter import Invocation


def invocation(result: object, event: object = None, error: str | None = None) -> Invocation:
    return Invocation("CrawlBatch", event or {}, result, error, None, 1.0)


def test_every_kind_of_batch_outcome_is_counted() -> None:
    out = io.StringIO()
    progress = CrawlProgress(Console(file=out, width=160, force_terminal=True))
    with progress:
        progress(invocation({"run": {"page_count": 9}, "lanes": []}))
        progress(
            invocation(
                {
                    "batch_id": 0,
                    "results": [
                        {"ok": True, "outcome": "new", "attempts": 1},
                        {"ok": False, "outcome": "failed", "attempts": 3},
                        {"ok": False, "outcome": "skipped", "attempts": 0},
                    ],
                },
                {"retry_count": 0},
            )
        )
        progress(
            invocation(
                {
                    "batch_id": 1,
                    "lane_id": 0,
                    "results_key": "runs/r/results/0/0.json",
                    "pages": 4,
                    "counts": {"ok": 3, "failed": 1, "skipped": 0},
                }
            )
        )
        progress(invocation(None, {"pages": [{"url": "u1"}, {"url": "u2"}]}, error="Boom"))
    assert (progress.total, progress.done) == (9, 9)
    assert (progress.ok, progress.failed, progress.skipped) == (4, 4, 1)
    assert progress.retried == 2  # the failed page's two retries inside its batch
    assert "pages/s" in out.getvalue()
    assert "ETA" in out.getvalue()
