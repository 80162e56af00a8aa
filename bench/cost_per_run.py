"""Cost per run: a measured local run through the distributed path, scaled to 100,000 pages.

1. A small HTTP server on 127.0.0.1 serves N pages (~1.5 KiB of HTML each, an allow-all
   robots.txt, one page in 100 answering 404) after --latency-ms (default 100 ms, a realistic
   web page). It runs in a child process, so serving never competes with the crawl for this
   process's GIL; --hosts N serves the same site on N ports (N hosts to the crawler, whose
   per-host limit is per host name and port).
2. The local engine runs the synthesized state machine on them with distributed_threshold 1,
   so the DISTRIBUTED Map (EXPRESS children) is taken; the run folder records the history,
   the functions' invocations and durations, the child executions, store writes, S3 requests.
   The durations are the ones the engine records per invocation, as Lambda bills them.
3. crawlmap.cost prices that run (prices.json, us-east-1) and scales it linearly to the
   target page count; the naive design (one Lambda per page in a Standard inline Map) is
   priced from the same measurements.

Why the child concurrency is the core count (--child-concurrency, default os.cpu_count()):
on AWS every Lambda invocation has a CPU of its own; locally all of them are threads of one
Python process. With the configured 100 children at once on 2 cores, each invocation's
recorded duration includes the time it waited for the GIL (79.5 ms per page recorded vs
26.4 ms with one batch alone), which AWS would not bill. Running about one child per core
keeps the recorded durations what one invocation really takes; the cost model does not
depend on the concurrency (it prices invocations and durations, not wall time).

Goal (issue 5): 100,000 pages for <= $0.10 of compute + orchestration (Step Functions +
Lambda; data transfer excluded) and >= 50x cheaper than the naive design.

Run:  .venv/bin/python -m bench.cost_per_run                (5,000 pages, batches of 100, 100 ms)
      .venv/bin/python -m bench.cost_per_run --hosts 25      (the same pages on 25 hosts)
      .venv/bin/python -m bench.cost_per_run --run-dir .crawlmap/runs/<id>   (price a saved run)
      .venv/bin/python -m bench.cost_per_run --moto     (moto-made history of the same shape:
                                                          the fallback while the engine's
                                                          distributed path is unavailable)
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crawlmap.cost import estimate_run, format_cost, project_run
from crawlmap.crawl_hooks import CrawlHooks
from crawlmap.engine.runner import EngineOptions, run_execution
from crawlmap.engine.template import load_template
from crawlmap.history import RunFolder, load_run
from crawlmap.runfolder import crawlmap_home
from lambdas.common import env as env_names

GOAL_USD = 0.10
GOAL_RATIO = 50.0
PARAGRAPH = "<p>" + "crawlmap fans a crawl out over a Map state. " * 24 + "</p>"


class SiteHandler(http.server.BaseHTTPRequestHandler):
    latency_s = 0.0

    def do_GET(self) -> None:
        if self.path == "/robots.txt":
            self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
            return
        if self.latency_s:
            time.sleep(self.latency_s)
        number = self.path.rsplit("/", 1)[-1]
        if number.isdigit() and int(number) % 100 == 99:
            self._send(404, b"<h1>Not found</h1>", "text/html")
            return
        body = (
            f"<!doctype html><html><head><title>Page {number}</title>"
            f'<meta name="description" content="Bench page {number}"></head>'
            f"<body><h1>Page {number}</h1>{PARAGRAPH}"
            f'<a href="/p/{number}1">next</a></body></html>'
        ).encode()
        self._send(200, body, "text/html; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class SiteServer(http.server.ThreadingHTTPServer):
    """As production servers are set up (nginx: tcp_nodelay on, a listen backlog of 511), so
    the figures measure the crawler, not socketserver's defaults (a backlog of 5 drops the
    SYNs of a burst of connections, retried 1-7 s later; without TCP_NODELAY every response
    on a kept-alive connection waits ~40 ms for the client's delayed ACK)."""

    daemon_threads = True
    request_queue_size = 512


class NoDelaySiteHandler(SiteHandler):
    disable_nagle_algorithm = True


def serve(latency_ms: float, hosts: int) -> None:
    """The child process: serve the site on `hosts` ports; print their base URLs; run until
    stdin closes."""
    SiteHandler.latency_s = latency_ms / 1000
    bases = []
    for _ in range(hosts):
        server = SiteServer(("127.0.0.1", 0), NoDelaySiteHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        bases.append(f"http://127.0.0.1:{server.server_address[1]}")
    print(json.dumps(bases), flush=True)
    sys.stdin.read()


@contextlib.contextmanager
def site_in_another_process(latency_ms: float, hosts: int) -> Iterator[list[str]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.cost_per_run", "--serve", str(latency_ms), str(hosts)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        yield list(json.loads(child.stdout.readline()))
    finally:
        child.terminate()
        child.wait(timeout=10)


def page_urls(bases: list[str], first: int, count: int) -> list[str]:
    """Pages first..first+count-1, spread over the hosts in turn."""
    return [f"{bases[i % len(bases)]}/p/{i}" for i in range(first, first + count)]


def crawl_locally(
    bases: list[str], pages: int, batch_size: int, child_concurrency: int, work: Path
) -> dict[str, Any]:
    """Run the engine on the local site through the distributed path; return its summary."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    template = load_template(
        crawlmap_home() / "cache",
        {"distributed_max_concurrency": child_concurrency},
    )
    started = time.perf_counter()
    record = run_execution(
        {"pages": page_urls(bases, 0, pages), "batch_size": batch_size, "distributed_threshold": 1},
        EngineOptions(
            home=work / "home",
            hooks=CrawlHooks(db_path=work / "store.db"),
            template=template,
            env_overrides={env_names.ALLOW_PRIVATE_NETWORKS: "true"},
        ),
    )
    wall_s = time.perf_counter() - started
    summary: dict[str, Any] = dict(record.summary or {})
    summary["status"] = record.status
    summary["run_dir"] = str(record.run_dir)
    summary["wall_s"] = wall_s
    summary["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return summary


def crawl_alone(bases: list[str], first: int, count: int, batch_size: int) -> float:
    """Mean wall time (ms) of the real crawl_batch core on `count` pages in batches of
    `batch_size`, one batch at a time: what one Lambda invocation spends, without the other
    invocations the local engine runs in the same process."""
    from lambdas.common.settings import Settings
    from lambdas.crawl_batch.core import crawl_batch

    settings = Settings(allow_private_networks=True)
    spent = 0.0
    for batch_id, offset in enumerate(range(first, first + count, batch_size)):
        urls = page_urls(bases, offset, min(batch_size, first + count - offset))
        pages = [{"url": url, "previous": None} for url in urls]
        event: Any = {"run_id": "bench-alone", "batch_id": batch_id, "pages": pages}
        started = time.perf_counter()
        crawl_batch(event, settings)
        spent += (time.perf_counter() - started) * 1000
    return spent / count


def moto_history(pages: int, batch_size: int, work: Path) -> Path:
    """The fallback: the same state machine shape on moto with in-process stand-in functions
    (tests/fixtures/histories/make_fixtures.py), distributed path, one child per batch."""
    from tests.fixtures.histories.make_fixtures import FakeCrawl, run_fixture

    urls = [f"http://127.0.0.1:8000/p/{i}" for i in range(pages)]
    behaviour = {url: "404" for i, url in enumerate(urls) if i % 100 == 99}
    fake = FakeCrawl(behaviour, batch_size=batch_size, mode="distributed")
    return run_fixture("bench-moto", {"pages": urls}, fake, out_dir=work)


def scaling_rows(run: RunFolder, targets: list[int]) -> list[dict[str, Any]]:
    rows = []
    for target in targets:
        b = estimate_run(run, pages=target)
        rows.append(
            {
                "pages": target,
                "state_transitions": b.state_transitions,
                "billed_state_transitions": b.billed_state_transitions,
                "child_executions": b.usage.child_executions,
                "compute_orchestration_usd": b.compute_orchestration_usd,
                "total_usd": b.total_usd,
                "naive_compute_orchestration_usd": b.naive.compute_orchestration_usd,
                "naive_total_usd": b.naive.total_usd,
                "compute_ratio": b.compute_ratio,
                "ratio": b.ratio,
            }
        )
    return rows


def with_crawl_time(run: RunFolder, per_page_ms: float) -> RunFolder:
    """The same run, as if CrawlBatch (and so each child execution) had spent per_page_ms of
    billed time per page: for the break-even figures below."""
    pages = max(len(run.results), 1)
    meta = json.loads(json.dumps(run.meta))
    crawl = meta["functions"]["CrawlBatch"]
    measured_ms = crawl["duration_ms_total"]
    crawl["duration_ms_total"] = per_page_ms * pages
    distributed = meta.get("distributed")
    if isinstance(distributed, dict) and measured_ms:
        overhead = max(distributed["child_duration_ms_total"] - measured_ms, 0.0)
        distributed["child_duration_ms_total"] = per_page_ms * pages + overhead
    return RunFolder(path=run.path, history=run.history, meta=meta, results=run.results)


def break_even_ms(run: RunFolder, target: int) -> tuple[float, float]:
    """The largest CrawlBatch time per page (ms) that still meets each goal at `target` pages
    (cost <= $0.10; >= 50x cheaper than naive, naive priced from the measured fetch times)."""

    def meets(per_page_ms: float, which: str) -> bool:
        b = estimate_run(with_crawl_time(run, per_page_ms), pages=target)
        if which == "cost":
            return b.compute_orchestration_usd <= GOAL_USD
        return b.compute_ratio >= GOAL_RATIO

    found = []
    for which in ("cost", "ratio"):
        low, high = 0.0, 2000.0
        if not meets(low, which):
            found.append(0.0)
            continue
        for _ in range(40):
            middle = (low + high) / 2
            low, high = (middle, high) if meets(middle, which) else (low, middle)
        found.append(low)
    return found[0], found[1]


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'pages':>9} {'parent ST':>10} {'children':>9} {'billed ST':>10}"
        f" {'compute+orch':>13} {'total':>10} {'naive c+o':>11} {'naive total':>12}"
        f" {'c+o ratio':>10} {'ratio':>8}"
    )
    for r in rows:
        print(
            f"{r['pages']:>9,} {r['state_transitions']:>10,.0f} {r['child_executions']:>9,.0f}"
            f" {r['billed_state_transitions']:>10,.0f} ${r['compute_orchestration_usd']:>12.5f}"
            f" ${r['total_usd']:>9.5f} ${r['naive_compute_orchestration_usd']:>10.4f}"
            f" ${r['naive_total_usd']:>11.4f} {r['compute_ratio']:>9.1f}x {r['ratio']:>7.1f}x"
        )


def goal_figures(run: RunFolder, target: int, naive_page_ms: float | None) -> dict[str, Any]:
    b = estimate_run(run, pages=target, naive_page_ms=naive_page_ms)
    return {
        "pages": target,
        "compute_orchestration_usd": b.compute_orchestration_usd,
        "meets_cost_goal": b.compute_orchestration_usd <= GOAL_USD,
        "naive_compute_orchestration_usd": b.naive.compute_orchestration_usd,
        "naive_page_ms": b.naive.per_page_ms,
        "compute_ratio": b.compute_ratio,
        "meets_ratio_goal": b.compute_ratio >= GOAL_RATIO,
        "total_usd_incl_dynamodb_s3": b.total_usd,
        "ratio_incl_dynamodb_s3": b.ratio,
    }


def describe_goal(label: str, g: dict[str, Any]) -> str:
    return (
        f"{label}: compute + orchestration ${g['compute_orchestration_usd']:.4f}"
        f" (<= ${GOAL_USD:.2f}: {'met' if g['meets_cost_goal'] else 'NOT met'}),"
        f" naive ${g['naive_compute_orchestration_usd']:.4f} at {g['naive_page_ms']:.0f} ms"
        f" per page: {g['compute_ratio']:.1f}x (>= {GOAL_RATIO:.0f}x:"
        f" {'met' if g['meets_ratio_goal'] else 'NOT met'}); with DynamoDB and S3"
        f" ${g['total_usd_incl_dynamodb_s3']:.4f}, {g['ratio_incl_dynamodb_s3']:.1f}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pages", type=int, default=5000, help="pages in the measured run")
    parser.add_argument("--batch-size", type=int, default=100, help="pages per batch (child)")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="site latency per page")
    parser.add_argument("--hosts", type=int, default=1, help="serve the site on this many ports")
    parser.add_argument(
        "--child-concurrency",
        type=int,
        default=os.cpu_count() or 2,
        help="distributed Map children at once (default: one per core, see above)",
    )
    parser.add_argument("--target", type=int, default=100_000, help="pages to scale to")
    parser.add_argument("--run-dir", type=Path, help="price an existing run folder instead")
    parser.add_argument("--moto", action="store_true", help="use a moto-made history")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--project",
        type=int,
        metavar="PAGES",
        help="then print `crawlmap cost RUN --project PAGES --hosts N` (the cost goal)",
    )
    parser.add_argument("--project-hosts", type=int, default=100, help="hosts of --project")
    parser.add_argument(
        "--project-wait-ms", type=float, default=100.0, help="page wait of --project"
    )
    parser.add_argument("--work", type=Path, help="keep the site, store and run folder here")
    parser.add_argument(
        "--alone-pages", type=int, default=300, help="pages crawled one batch at a time"
    )
    parser.add_argument("--serve", nargs=2, metavar=("LATENCY_MS", "HOSTS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(float(args.serve[0]), int(args.serve[1]))
        return 0

    with tempfile.TemporaryDirectory(prefix="crawlmap-cost-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        measured: dict[str, Any] = {}
        alone: dict[str, float] = {}
        source = "run folder"
        if args.run_dir:
            run_dir = args.run_dir
        elif args.moto:
            run_dir, source = moto_history(args.pages, args.batch_size, work), "moto (fallback)"
        else:
            with site_in_another_process(args.latency_ms, args.hosts) as bases:
                measured = crawl_locally(
                    bases, args.pages, args.batch_size, args.child_concurrency, work
                )
                # The same handler core, one invocation at a time, on pages the run did not
                # crawl (so nothing is unchanged): batched, and one page per invocation.
                first = args.pages + 1000
                alone["batch_ms_per_page"] = crawl_alone(
                    bases, first, args.alone_pages, args.batch_size
                )
                alone["one_page_ms"] = crawl_alone(
                    bases, first + args.alone_pages, min(args.alone_pages, 100), 1
                )
            if measured.get("status") not in ("SUCCEEDED", "FAILED"):
                print(f"local run failed: {json.dumps(measured)[:1500]}", file=sys.stderr)
                return 1
            run_dir, source = Path(measured["run_dir"]), "local engine"
        run = load_run(run_dir)
        if run.meta.get("mode") != "distributed":
            print(f"the run took the {run.meta.get('mode')} path, not distributed", file=sys.stderr)
        pages = len(run.results)
        targets = sorted({pages, 10_000, 50_000, args.target})
        rows = scaling_rows(run, targets)
        crawl = run.meta["functions"]["CrawlBatch"]
        per_page_ms = crawl["duration_ms_total"] / max(pages, 1)
        fetch = [r["elapsed_ms"] for r in run.results if isinstance(r.get("elapsed_ms"), int)]
        cost_limit_ms, ratio_limit_ms = break_even_ms(run, args.target)
        result: dict[str, Any] = {
            "source": source,
            "run_status": run.history.status,
            "mode": run.meta.get("mode"),
            "measured_pages": pages,
            "batch_size": args.batch_size,
            "site_latency_ms": args.latency_ms,
            "hosts": args.hosts,
            "child_concurrency": args.child_concurrency,
            "wall_s": measured.get("wall_s"),
            "peak_mib": measured.get("peak_mib"),
            "load_average_1m": os.getloadavg()[0],
            "crawl_batch_ms_per_page": per_page_ms,
            "fetch_ms_mean": sum(fetch) / len(fetch) if fetch else None,
            "break_even_crawl_ms_per_page": {"cost": cost_limit_ms, "ratio": ratio_limit_ms},
            "scaling": rows,
            "goal": goal_figures(run, args.target, None),
        }
        if alone:
            alone_run = with_crawl_time(run, alone["batch_ms_per_page"])
            result["alone"] = {
                **alone,
                "goal": goal_figures(alone_run, args.target, alone["one_page_ms"]),
            }
        projected = None
        if args.project:
            projected = project_run(
                run, pages=args.project, hosts=args.project_hosts, page_wait_ms=args.project_wait_ms
            )
            result["projection"] = projected.to_json()
        if args.json:
            print(json.dumps(result, indent=1))
            return 0
        if projected is not None:
            print(format_cost(projected))
            print()
        print(format_cost(estimate_run(run)))
        print()
        print(
            f"Measured: {pages:,} pages via {source} ({result['mode']}, {run.history.status}),"
            f" batches of {args.batch_size}, site latency {args.latency_ms:g} ms,"
            f" {args.hosts} host(s), {args.child_concurrency} children at once"
            + (
                f", wall {measured['wall_s']:.1f} s, peak RSS {measured['peak_mib']:.0f} MiB"
                if measured
                else ""
            )
        )
        print("Scaled linearly (per-run parts fixed):")
        print_table(rows)
        print()
        print(describe_goal(f"At {args.target:,} pages, as measured in the run", result["goal"]))
        print(
            f"  CrawlBatch billed {per_page_ms:.1f} ms per page in the run (mean fetch"
            f" {result['fetch_ms_mean'] or 0:.0f} ms; 1-min load average"
            f" {result['load_average_1m']:.1f} on {os.cpu_count()} CPUs;"
            f" {args.child_concurrency} children at once, {args.hosts} host(s),"
            f" per-host concurrency 4). Both goals hold while it stays <="
            f" {min(cost_limit_ms, ratio_limit_ms):.1f} ms per page (cost: <= {cost_limit_ms:.1f}"
            f" ms; ratio: <= {ratio_limit_ms:.1f} ms against the naive price above)."
        )
        if alone:
            print(
                describe_goal(
                    f"At {args.target:,} pages, CrawlBatch measured alone"
                    f" ({alone['batch_ms_per_page']:.1f} ms per page in batches of"
                    f" {args.batch_size}; one page per invocation {alone['one_page_ms']:.0f} ms)",
                    result["alone"]["goal"],
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
