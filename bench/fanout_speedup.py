"""Fan-out speedup on a latency-bound site: 400 pages of 100 ms each, concurrency 40.

The same pages, measured in the same process:
- fan-out: the synthesized state machine (Map concurrency 40, one page per Map iteration) on
  the local engine; the figure is the Map state's duration from the history. 400 one-page
  results exceed what an inline Map's state may hold, so ListPages picks the distributed
  Map: its child concurrency is set to the same 40;
- sequential: the same crawl code (CrawlBatch's core) called page after page.
The ideal fan-out time is pages x latency / concurrency = 1.0 s. robots.txt is off for both,
so every page costs exactly one request. The site runs in a child process (127.0.0.1).

Each run is one Python process, so CPU per Map iteration, not the site, bounds the fan-out
(safe_http builds its SSL context once per process for that reason: ~17 ms of CPU each;
CrawlBatch keeps its event loop and connection pool warm across invocations, as a warm
Lambda container does).

    .venv/bin/python bench/fanout_speedup.py [--pages 400] [--latency-ms 100] [--concurrency 40]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from crawlmap.crawl_hooks import CrawlHooks
from crawlmap.engine.runner import EngineOptions, run_execution
from crawlmap.engine.template import load_template
from crawlmap.runfolder import crawlmap_home
from lambdas.common import env
from lambdas.common.settings import Settings
from lambdas.crawl_batch.core import crawl_batch


@contextlib.contextmanager
def site_in_another_process() -> Iterator[str]:
    """The demo site in a child process, so serving does not compete with the crawl for the GIL.

    DemoSite itself behaves as production servers do (nginx: tcp_nodelay on, a listen backlog
    of 511), so the figures measure the crawler, not socketserver's defaults: no Nagle delay
    on kept-alive responses, and a listen backlog that survives 40 connects at once.
    """
    code = (
        "import sys\n"
        "from crawlmap.demo import DemoSite\n"
        "site = DemoSite().start()\n"
        "print(site.base, flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip()
    finally:
        child.terminate()
        child.wait(timeout=10)


def fan_out(pages: list[str], concurrency: int) -> tuple[float, int, str]:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    # 400 one-page results do not fit in an inline Map's 256 KiB state, so ListPages takes the
    # distributed path: the concurrency applies to whichever Map runs.
    template = load_template(
        crawlmap_home() / "cache",
        {"max_concurrency": concurrency, "distributed_max_concurrency": concurrency},
    )
    with tempfile.TemporaryDirectory() as home:
        record = run_execution(
            {"pages": pages, "batch_size": 1},
            EngineOptions(
                home=Path(home),
                template=template,
                hooks=CrawlHooks(),
                env_overrides={env.ALLOW_PRIVATE_NETWORKS: "true", env.OBEY_ROBOTS: "false"},
            ),
        )
        results = len(record.results)  # read from the run folder, before it goes
    assert record.status == "SUCCEEDED", record.cause
    assert record.summary is not None
    assert record.summary["ok"] == len(pages), record.summary
    map_events = [e for e in record.events if e["type"] in ("MapStateEntered", "MapStateExited")]
    assert len(map_events) == 2, [e["type"] for e in record.events[:12]]
    map_start, map_stop = (datetime.fromisoformat(e["timestamp"]) for e in map_events)
    return (map_stop - map_start).total_seconds(), results, str(record.meta["mode"])


def sequential(pages: list[str]) -> float:
    settings = Settings(allow_private_networks=True, obey_robots=False)
    started = time.perf_counter()
    for index, url in enumerate(pages):
        result = crawl_batch(
            {"run_id": "sequential", "batch_id": index, "pages": [{"url": url, "previous": None}]},
            settings,
        )
        assert result["results"][0]["ok"], result
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=40)
    args = parser.parse_args()
    with site_in_another_process() as base:
        pages = [f"{base}/delay/{args.latency_ms}/page-{i}" for i in range(args.pages)]
        fan_out_s, results, mode = fan_out(pages, args.concurrency)
        sequential_s = sequential(pages)
    ideal_s = args.pages * args.latency_ms / 1000 / args.concurrency
    print(
        json.dumps(
            {
                "pages": args.pages,
                "latency_ms": args.latency_ms,
                "concurrency": args.concurrency,
                "mode": mode,
                "results": results,
                "ideal_s": round(ideal_s, 2),
                "fan_out_s": round(fan_out_s, 2),
                "fan_out_vs_ideal": round(fan_out_s / ideal_s, 2),
                "sequential_s": round(sequential_s, 2),
                "speedup_vs_sequential": round(sequential_s / fan_out_s, 1),
                "goal_vs_ideal": 1.5,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
