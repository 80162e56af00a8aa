"""The distributed path at scale, locally: every page once, wall time, memory, payload, history.

For each page count, one run in a fresh process (so peak memory is that run's) of the
synthesized state machine with distributed_threshold 1: ListPages writes the batches and lanes
to S3 (moto), the distributed Map reads the lanes with its ItemReader, runs one child per lane
(its batches in a row) and writes the results with its ResultWriter; StoreAndNotify reads them
back. The site (a child process on 127.0.0.1) answers at once, so the figures are the engine's
and the functions'.

Reported per run: wall time of the execution and the process's CPU over every thread in it
(near the wall time: the run is CPU-bound on one GIL), peak RSS of the process, the largest state
input/output in the parent's history and the largest Lambda event/result (both must stay under
Step Functions' 256 KiB), the parent history's event count (the quota is 25,000), child
executions and S3 requests.

    .venv/bin/python bench/scale_distributed.py [--pages 1000 2500 5000 10000] [--batch-size 10]
        [--rounds 1]

The memory check of issue 15: `--pages 5000 25000 --rounds 3` (peak_rss_growth_mib).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from figures import spread  # bench/figures.py (this script's folder is on sys.path)

LIMIT = 256 * 1024


def one_run(pages: int, batch_size: int, base: str) -> dict[str, Any]:
    from crawlmap.crawl_hooks import CrawlHooks
    from crawlmap.engine.runner import EngineOptions, run_execution
    from crawlmap.engine.template import load_template
    from crawlmap.runfolder import crawlmap_home, iter_results
    from crawlmap.runfolder.schema import RESULTS
    from lambdas.common import env

    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    template = load_template(crawlmap_home() / "cache")
    urls = [f"{base}/echo/page-{i}" for i in range(pages)]
    with tempfile.TemporaryDirectory() as home:
        started, cpu_started = time.perf_counter(), time.process_time()
        record = run_execution(
            {"pages": urls, "batch_size": batch_size, "distributed_threshold": 1},
            EngineOptions(
                home=Path(home),
                template=template,
                hooks=CrawlHooks(),
                env_overrides={
                    env.ALLOW_PRIVATE_NETWORKS: "true",
                    env.OBEY_ROBOTS: "false",
                    env.MAX_PAGES: str(pages),  # over the default (100,000) too
                },
            ),
        )
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started  # every thread of this process
        # streamed from the run folder: record.results would hold every result (in the peak)
        seen, not_ok = [], Counter[str]()
        for result in iter_results(record.run_dir / RESULTS):
            seen.append(result["url"])
            if not result["ok"]:
                reason = f"{result['outcome']}: {result.get('error') or result.get('status')}"
                not_ok[reason[:160]] += 1
    first, last = record.events[0]["timestamp"], record.events[-1]["timestamp"]
    functions = record.meta["functions"]
    return {
        "pages": pages,
        "status": record.status,
        "mode": record.meta["mode"],
        "every_page_once": len(seen) == len(set(seen)) == pages and set(seen) == set(urls),
        "summary_ok": (record.summary or {}).get("ok"),
        "not_ok": dict(not_ok.most_common(5)),
        "execution_s": round(
            (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds(), 2
        ),
        "run_execution_s": round(wall, 2),
        "ms_per_page": round(wall * 1000 / pages, 2),
        "process_cpu_s": round(cpu, 2),  # near run_execution_s: CPU-bound (one GIL)
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "largest_state_payload_bytes": record.meta["largest_state_payload_bytes"],
        "largest_lambda_event_bytes": max(f["max_event_bytes"] for f in functions.values()),
        "largest_lambda_result_bytes": max(f["max_result_bytes"] for f in functions.values()),
        "parent_history_events": record.meta["history_events"],
        "child_executions": record.meta["distributed"]["child_executions"],
        "child_state_transitions": record.meta["distributed"]["child_state_transitions"],
        "s3_requests": record.meta["s3_requests"],
        "store_writes": record.meta["store_writes"],
        "notes": record.meta["notes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[1000, 2500, 5000, 10000])
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument(
        "--rounds", type=int, default=1, help="run the sizes this many times, alternating"
    )
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.pages[0], args.batch_size, args.base)))
        return

    sys.path.insert(0, str(Path(__file__).parent))
    from fanout_speedup import site_in_another_process

    from crawlmap.engine.template import load_template
    from crawlmap.runfolder import crawlmap_home

    # Synthesize (or find) the template here, so no measured run pays for CDK's import.
    load_template(crawlmap_home() / "cache")

    rows = []
    with site_in_another_process() as base:
        for pages in args.pages * args.rounds:
            done = subprocess.run(
                [sys.executable, __file__, "--one", "--pages", str(pages),
                 "--batch-size", str(args.batch_size), "--base", base],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode:
                raise SystemExit(f"the {pages}-page run failed:\n{done.stderr[-4000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    for row in rows:
        assert row["every_page_once"], row
        assert row["largest_state_payload_bytes"] < LIMIT, row
        assert row["largest_lambda_event_bytes"] < LIMIT, row
        assert row["largest_lambda_result_bytes"] < LIMIT, row
    print(
        json.dumps({"batch_size": args.batch_size, "runs": rows, **per_size_spread(rows)}, indent=1)
    )


def per_size_spread(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per size, min/median/max of peak RSS and ms per page over the rounds; and how much the
    largest size's median peak exceeds the smallest's (memory flat in the run's size: ~0)."""
    sizes = sorted({row["pages"] for row in rows})
    per_size = {}
    for size in sizes:
        runs = [row for row in rows if row["pages"] == size]
        per_size[size] = {
            key: spread(row[key] for row in runs) for key in ("peak_rss_mib", "ms_per_page")
        }
    growth = (
        per_size[sizes[-1]]["peak_rss_mib"]["median"] - per_size[sizes[0]]["peak_rss_mib"]["median"]
    )
    return {"per_size": per_size, "peak_rss_growth_mib": round(growth, 1)}


if __name__ == "__main__":
    main()
