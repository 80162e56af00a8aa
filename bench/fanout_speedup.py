"""Fan-out on a latency-bound crawl of many hosts: the Map state's window against the ideal.

The case of issue 15: 400 pages of 100 ms each on 40 loopback hosts (127.0.0.101 to
127.0.0.140, 10 pages each), one page per batch, concurrency 40 (what `crawlmap run
--max-concurrency 40 -c crawlmap.distributed_max_concurrency=40 --batch-size 1` synthesizes:
both Maps at 40, whichever ListPages picks), on the local engine with the real synthesized
template and handlers. With 10 pages a host and per_host_concurrency 4 (cdk.json), the per-host
limits do not bind: 40 hosts keep 40 requests in flight at about one each. robots.txt is off
(CRAWLMAP_OBEY_ROBOTS false), so every page is exactly one request.

The figure is the Map state's window in the run's history (MapStateEntered to MapStateExited)
divided by the ideal, pages x latency / concurrency = 400 x 0.1 s / 40 = 1.0 s. It includes
everything that happens in that window in the measured process: moto's ASL interpreter
(scheduling each iteration, its state transitions, the distributed Map's ItemReader and
ResultWriter on moto's S3), the engine's adapter, and the handlers themselves (CrawlBatch:
the event, S3 reads and writes through moto, the fetch through httpx and asyncio, parsing,
the result), all in ONE Python process, sharing one GIL, on this 2-core machine. It excludes
the sites: the 40 hosts are served by one child process (one crawlmap.demo.DemoSite per
address), which also counts each host's requests and the most it answered at once, so the
bench asserts that every page was fetched exactly once and that no host saw more requests in
flight than per_host_concurrency. On AWS every invocation has its own CPU; here the process's
CPU per one-page batch, not the sites, bounds the window (bench/README.md, "Fan-out").

`--sequential` also times the same crawl core (CrawlBatch's crawl_batch) called page after
page in this process, one page per call, for a speedup figure. Rounds alternate the runs
(fan-out, then sequential, per round), so a drift in the machine's load hits both alike.

    .venv/bin/python bench/fanout_speedup.py [--rounds 3] [--sequential] [--json]
        [--hosts 40] [--pages-per-host 10] [--latency-ms 100] [--concurrency 40]
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from figures import spread  # bench/figures.py (this script's folder is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
FIRST_HOST = 101  # 127.0.0.101 ..


def hosts_of(count: int) -> list[str]:
    if not 1 <= count <= 254 - FIRST_HOST:
        raise SystemExit(f"--hosts must be 1..{254 - FIRST_HOST}")
    return [f"127.0.0.{FIRST_HOST + n}" for n in range(count)]


# -- the sites (a child process)


def serve(hosts: list[str]) -> None:
    """One DemoSite per host, in this (child) process. Prints {host: base URL}; then, for each
    line on stdin, prints each host's requests by path and the most it answered at once since
    the last line, and starts counting afresh. Ends at EOF."""
    from crawlmap.demo import DemoSite

    sites = [DemoSite(host=host).start() for host in hosts]
    print(json.dumps({site.host: site.base for site in sites}), flush=True)
    for _ in sys.stdin:
        report = {}
        for site in sites:  # between runs: nothing is in flight
            report[site.host] = {"hits": dict(site.hits), "max_in_flight": site.max_in_flight}
            site.hits.clear()
            site.max_in_flight = 0
        print(json.dumps(report), flush=True)
    for site in sites:
        site.stop()


class Sites:
    """The child process serving the hosts, and its counts."""

    def __init__(self, child: subprocess.Popen[str], bases: dict[str, str]) -> None:
        self.child = child
        self.bases = bases

    def counts(self) -> dict[str, dict[str, Any]]:
        """Each host's requests by path and its most in flight since the last call."""
        stdin, stdout = self._pipes()
        stdin.write("report\n")
        stdin.flush()
        counted: dict[str, dict[str, Any]] = json.loads(stdout.readline())
        return counted

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.child.stdin is not None
        assert self.child.stdout is not None
        return self.child.stdin, self.child.stdout


@contextlib.contextmanager
def sites_in_a_child(hosts: list[str]) -> Iterator[Sites]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", *hosts],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise SystemExit("the site process did not start (is 127.0.0.0/8 all loopback?)")
        yield Sites(child, json.loads(line))
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextlib.contextmanager
def site_in_another_process() -> Iterator[str]:
    """One demo site on 127.0.0.1 in a child process (bench/scale_distributed.py's site)."""
    with sites_in_a_child(["127.0.0.1"]) as sites:
        yield sites.bases["127.0.0.1"]


# -- the measured runs


class CpuClock:
    """This process's CPU time (every thread), sampled every 20 ms against the wall clock, so
    the CPU spent inside the Map window of the history can be read afterwards."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (epoch seconds, process CPU seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-cpu-clock")

    def __enter__(self) -> CpuClock:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append((time.time(), time.process_time()))
            if self._stop.wait(0.02):
                self.samples.append((time.time(), time.process_time()))
                return

    def cpu_between(self, start: datetime, stop: datetime) -> float:
        def at(moment: datetime) -> float:
            when = moment.timestamp()
            index = bisect.bisect_left(self.samples, (when, -1.0))
            index = min(max(index, 1), len(self.samples) - 1)
            (t0, c0), (t1, c1) = self.samples[index - 1], self.samples[index]
            return c0 + (c1 - c0) * (min(max(when, t0), t1) - t0) / ((t1 - t0) or 1)

        return at(stop) - at(start)


def check_counts(
    counts: Mapping[str, Mapping[str, Any]], pages: list[str], per_host_limit: int
) -> dict[str, int]:
    """Every page fetched exactly once, nothing else fetched, no host over its limit."""
    fetched = {
        (host, path): int(hits)
        for host, counted in counts.items()
        for path, hits in counted["hits"].items()
    }
    expected = {(urlsplit(page).hostname, urlsplit(page).path): 1 for page in pages}
    assert fetched == expected, {
        "fetched more than once": sorted(p for p, n in fetched.items() if n > 1)[:10],
        "not fetched": sorted(set(expected) - set(fetched))[:10],
        "not asked for": sorted(set(fetched) - set(expected))[:10],
    }
    in_flight = {host: int(c["max_in_flight"]) for host, c in counts.items()}
    over = {host: n for host, n in in_flight.items() if n > per_host_limit}
    assert not over, f"hosts over per_host_concurrency {per_host_limit}: {over}"
    return in_flight


def fan_out(pages: list[str], template: Mapping[str, Any]) -> dict[str, Any]:
    from crawlmap.crawl_hooks import CrawlHooks
    from crawlmap.engine.runner import EngineOptions, run_execution
    from lambdas.common import env

    with tempfile.TemporaryDirectory() as home, CpuClock() as clock:
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        record = run_execution(
            {"pages": pages, "batch_size": 1},
            EngineOptions(
                home=Path(home),
                template=template,
                hooks=CrawlHooks(),
                env_overrides={env.ALLOW_PRIVATE_NETWORKS: "true", env.OBEY_ROBOTS: "false"},
            ),
        )
        process_cpu_s = time.process_time() - cpu_started  # every thread of this process
        wall_s = time.perf_counter() - wall_started
        seen = [r["url"] for r in record.results]  # read from the run folder, before it goes
    assert record.status == "SUCCEEDED", record.cause
    assert record.summary is not None
    assert record.summary["ok"] == len(pages), record.summary
    assert sorted(seen) == sorted(pages), "results: not every page exactly once"
    # The outer Map's window: its first entry to its last exit (an inline run nests the lanes'
    # Maps inside it; a distributed run's children are not in the parent's history).
    entered = [e for e in record.events if e["type"] == "MapStateEntered"]
    exited = [e for e in record.events if e["type"] == "MapStateExited"]
    assert entered, [e["type"] for e in record.events]
    assert len(exited) == len(entered), "a Map state did not exit"
    map_start = datetime.fromisoformat(entered[0]["timestamp"])
    map_stop = datetime.fromisoformat(exited[-1]["timestamp"])
    window_s = (map_stop - map_start).total_seconds()
    window_cpu_s = clock.cpu_between(map_start, map_stop)
    functions = record.meta["functions"]
    crawl = next(f for name, f in functions.items() if name.startswith("CrawlBatch"))
    return {
        "map_window_s": window_s,
        # This process's CPU (all threads) in the window: near 1 s per s when the GIL binds.
        "map_window_process_cpu_s": round(window_cpu_s, 2),
        "map_window_process_cpu_ms_per_batch": round(window_cpu_s * 1000 / crawl["invocations"], 1),
        "mode": str(record.meta["mode"]),
        "child_executions": (record.meta.get("distributed") or {}).get("child_executions"),
        "crawl_batch_invocations": crawl["invocations"],
        # The engine's meter (engine/cpu.py): CPU the handler used, not the interpreter's.
        "crawl_batch_cpu_ms_per_invocation": round(crawl["cpu_ms_total"] / crawl["invocations"], 2),
        "run_wall_s": round(wall_s, 2),  # the whole execution: ListPages to StoreAndNotify
        "run_process_cpu_s": round(process_cpu_s, 2),
    }


def sequential(pages: list[str]) -> float:
    from lambdas.common.settings import Settings
    from lambdas.crawl_batch.core import crawl_batch

    settings = Settings(allow_private_networks=True, obey_robots=False)
    started = time.perf_counter()
    for index, url in enumerate(pages):
        result = crawl_batch(
            {"run_id": "sequential", "batch_id": index, "pages": [{"url": url, "previous": None}]},
            settings,
        )
        assert result["results"][0]["ok"], result
    return time.perf_counter() - started


def measure(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from crawlmap.cli.engine_setup import list_pages_environment
    from crawlmap.engine.template import load_template
    from crawlmap.runfolder import cache_dir
    from lambdas.common import env
    from stacks.config import parse_context_options

    # What `--max-concurrency N -c crawlmap.distributed_max_concurrency=N` gives the run.
    context = parse_context_options(
        [
            f"max_concurrency={args.concurrency}",
            f"crawlmap.distributed_max_concurrency={args.concurrency}",
        ]
    )
    template = load_template(cache_dir(), context)
    per_host_limit = int(list_pages_environment(template)[env.PER_HOST_CONCURRENCY])
    hosts = hosts_of(args.hosts)
    pages_count = args.hosts * args.pages_per_host
    ideal_s = pages_count * args.latency_ms / 1000 / args.concurrency
    runs: list[dict[str, Any]] = []
    sequential_s: list[float] = []
    with sites_in_a_child(hosts) as sites:
        for number in range(args.rounds):
            # Each run asks for pages no run asked for before: "exactly once" is per run.
            pages = [
                f"{sites.bases[host]}/delay/{args.latency_ms}/r{number}-{host}-p{i}"
                for i in range(args.pages_per_host)
                for host in hosts
            ]
            sites.counts()  # start counting afresh
            run = fan_out(pages, template)
            run["max_in_flight_per_host"] = max(
                check_counts(sites.counts(), pages, per_host_limit).values()
            )
            run["vs_ideal"] = round(run["map_window_s"] / ideal_s, 2)
            runs.append(run)
            print(json.dumps({"round": number + 1, **run}), file=sys.stderr)
            if args.sequential:
                sequential_s.append(sequential(pages))
                check_counts(sites.counts(), pages, per_host_limit)
                print(json.dumps({"round": number + 1, "sequential_s": sequential_s[-1]}),
                      file=sys.stderr)  # fmt: skip
    ratios = [r["vs_ideal"] for r in runs]
    result: dict[str, Any] = {
        "hosts": args.hosts,
        "pages": pages_count,
        "latency_ms": args.latency_ms,
        "batch_size": 1,
        "concurrency": args.concurrency,
        "per_host_concurrency": per_host_limit,
        "rounds": args.rounds,
        "mode": sorted({r["mode"] for r in runs}),
        "ideal_s": round(ideal_s, 3),
        "map_window_s": spread([r["map_window_s"] for r in runs], 2),
        "vs_ideal": spread(ratios, 2),
        "goal_vs_ideal": 1.2,
        "runs": runs,
    }
    if sequential_s:
        windows = [r["map_window_s"] for r in runs]
        result["sequential_s"] = spread(sequential_s, 2)
        result["speedup_vs_sequential"] = spread(
            [s / w for s, w in zip(sequential_s, windows, strict=True)], 1
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sequential", action="store_true", help="also time page after page")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument("--pages-per-host", type=int, default=10)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--serve", nargs="+", metavar="HOST", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    result = measure(args)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    ratio = result["vs_ideal"]
    window = result["map_window_s"]
    print(
        f"{result['pages']} pages x {args.latency_ms} ms on {args.hosts} hosts, one page per "
        f"batch, concurrency {args.concurrency} ({', '.join(result['mode'])} Map), "
        f"{args.rounds} rounds"
    )
    print(
        f"Map window min {window['min']:.2f} / median {window['median']:.2f} / max "
        f"{window['max']:.2f} s against the ideal {result['ideal_s']:.2f} s: "
        f"{ratio['min']:.2f} / {ratio['median']:.2f} / {ratio['max']:.2f}x the ideal "
        f"(goal <= {result['goal_vs_ideal']}x)"
    )
    print(
        f"every page fetched exactly once; most in flight on one host: "
        f"{max(r['max_in_flight_per_host'] for r in result['runs'])} "
        f"(per_host_concurrency {result['per_host_concurrency']})"
    )
    if "sequential_s" in result:
        seq, speedup = result["sequential_s"], result["speedup_vs_sequential"]
        print(
            f"sequential: median {seq['median']:.1f} s; fan-out speedup min {speedup['min']} / "
            f"median {speedup['median']} / max {speedup['max']}x"
        )


if __name__ == "__main__":
    main()
