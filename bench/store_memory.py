"""Peak memory of StoreAndNotify on a distributed run of 100,000 results (goal: <= 256 MiB).

Writes a ResultWriter manifest.json and result files in AWS's format (10 pages per child
execution, 1,000 child records per file, 1% of children FAILED as a whole) to a temporary
folder, then runs the StoreAndNotify core into a fresh SQLite store, in a child process per
measurement so each starts clean:
- `streaming`: the real code (result files read in 1 MiB chunks, decoded record by record,
  written in chunks of 500);
- `load-all`: the same records loaded whole with json.loads and collected in one list first,
  for comparison.
Each is measured twice: the process's peak RSS (Linux VmHWM, which starts afresh at exec,
unlike ru_maxrss, which a child inherits from its parent; both are reported) and its growth
over the RSS just before the run, and
tracemalloc's peak of Python allocations (a separate run, as tracemalloc slows things down).
The S3 reader is a local stand-in that serves the files from disk in chunks, like
botocore's StreamingBody.iter_chunks.

    .venv/bin/python bench/store_memory.py [--results 100000] [--json]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lambdas.common.models import PageResult, RunInfo
from lambdas.common.notifier import ConsoleNotifier
from lambdas.common.store import SQLiteStore
from lambdas.store_and_notify.batches import legacy_inline_results
from lambdas.store_and_notify.storing import StoringContext, store_results

PAGES_PER_BATCH = 10
RECORDS_PER_FILE = 1000
BUCKET = "bench-bucket"
STARTED = "2026-01-01T00:00:00.000Z"
OUTCOMES = ["unchanged"] * 14 + ["changed", "changed", "new", "new", "failed", "skipped"]


class LocalResultReader:
    """ResultReader over a folder standing in for the bucket: chunked reads like S3's body."""

    def __init__(self, root: Path, chunk_bytes: int = 1024 * 1024) -> None:
        self.root = root
        self.chunk_bytes = chunk_bytes

    def read_bytes(self, bucket: str, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def iter_chunks(self, bucket: str, key: str) -> Iterator[bytes]:
        with (self.root / key).open("rb") as handle:
            while chunk := handle.read(self.chunk_bytes):
                yield chunk


def synthetic_result(index: int) -> PageResult:
    outcome = OUTCOMES[index % len(OUTCOMES)]
    ok = outcome in ("new", "changed", "unchanged")
    url = f"https://site{index % 50}.example.test/section/{index // 50}/page-{index}.html"
    return PageResult(
        url=url,
        final_url=url if ok else None,
        ok=ok,
        outcome=outcome,  # type: ignore[typeddict-item]
        status=200 if ok else (None if outcome == "skipped" else 503),
        error=None if ok else ("robots.txt disallows" if outcome == "skipped" else "HTTP 503"),
        attempts=1,
        elapsed_ms=87,
        bytes=24_576,
        content_type="text/html; charset=utf-8",
        title=f"Page {index}: a title of ordinary length for a web page",
        description="A meta description of about the length search engines show, " * 2,
        canonical=url,
        h1=f"Heading of page {index}",
        links=42,
        words=830,
        content_hash=f"sha256:{index:064x}" if ok else None,
        etag=f'W/"{index:x}-abc"' if ok else None,
        last_modified="Tue, 30 Dec 2025 10:00:00 GMT" if ok else None,
        redirects=0,
        extracted={},
        fetched_at="2026-01-01T00:00:05.123Z" if ok else None,
    )


def write_run(root: Path, total: int) -> dict[str, Any]:
    """Result files + manifest.json under root/runs/bench/results; returns the Map's output."""
    prefix = "runs/bench/results/map-run"
    (root / prefix).mkdir(parents=True, exist_ok=True)
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    batches = range((total + PAGES_PER_BATCH - 1) // PAGES_PER_BATCH)
    records: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": []}

    def flush(status: str) -> None:
        key = f"{prefix}/{status}_{len(files[status])}.json"
        body = json.dumps(records[status]).encode()
        (root / key).write_bytes(body)
        files[status].append({"Key": key, "Size": len(body)})
        records[status] = []

    for batch_id in batches:
        first = batch_id * PAGES_PER_BATCH
        results = [synthetic_result(i) for i in range(first, min(first + PAGES_PER_BATCH, total))]
        pages = [{"url": r["url"], "previous": None} for r in results]
        record: dict[str, Any] = {
            "ExecutionArn": f"arn:aws:states:us-east-1:123456789012:express:crawl:m:{batch_id}",
            "Input": json.dumps({"run_id": "bench", "batch_id": batch_id, "pages": pages}),
            "InputDetails": {"Included": True},
            "Name": str(batch_id),
            "StartDate": STARTED,
            "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:crawl/m",
            "StopDate": STARTED,
        }
        if batch_id % 100 == 99:  # 1% of children fail as a whole (e.g. States.Timeout)
            status = "FAILED"
            record |= {"Status": "FAILED", "Error": "States.Timeout", "Cause": "timed out"}
        else:
            status = "SUCCEEDED"
            output = {"batch_id": batch_id, "results": results}
            record |= {"Status": "SUCCEEDED", "Output": json.dumps(output)}
            record["OutputDetails"] = {"Included": True}
        records[status].append(record)
        if len(records[status]) == RECORDS_PER_FILE:
            flush(status)
    for status in ("SUCCEEDED", "FAILED"):
        if records[status]:
            flush(status)
    manifest = {
        "DestinationBucket": BUCKET,
        "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:crawl/m:map-run",
        "ResultFiles": files,
    }
    manifest_key = f"{prefix}/manifest.json"
    (root / manifest_key).write_text(json.dumps(manifest))
    return {"result_writer": {"Bucket": BUCKET, "Key": manifest_key}}


def run_info(total: int) -> RunInfo:
    return RunInfo(
        run_id="bench",
        started_at=STARTED,
        mode="distributed",
        page_count=total,
        batch_count=(total + PAGES_PER_BATCH - 1) // PAGES_PER_BATCH,
        duplicates_dropped=0,
        batches_location={"bucket": BUCKET, "key": "runs/bench/batches.json"},
        results_prefix="runs/bench/results",
    )


def load_all(root: Path, batches: dict[str, Any]) -> list[Any]:
    """The naive way: every result file parsed whole, every batch output kept in one list."""
    reader = LocalResultReader(root)
    location = batches["result_writer"]
    manifest = json.loads(reader.read_bytes(location["Bucket"], location["Key"]))
    items: list[Any] = []
    for status in ("SUCCEEDED", "FAILED"):
        for entry in manifest["ResultFiles"][status]:
            for record in json.loads(reader.read_bytes(BUCKET, entry["Key"])):
                if "Output" in record:
                    items.append(json.loads(record["Output"]))
                else:
                    given = json.loads(record["Input"])
                    failure = {"pages": given["pages"], "error": record["Error"], "cause": ""}
                    items.append({"batch_id": given["batch_id"], "results": [], "failure": failure})
    return items


def proc_status_kib(field: str) -> int | None:
    """A /proc/self/status figure in KiB (Linux), e.g. VmRSS now or VmHWM (peak since exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def measure(root: Path, total: int, mode: str, use_tracemalloc: bool) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    batches = json.loads((root / "batches.json").read_text())
    store = SQLiteStore(root / f"store-{mode}-{use_tracemalloc}.db")
    store.previous_states(["https://warm.up/"])  # open the database outside the measurement
    context = StoringContext(store, ConsoleNotifier(stream=io.StringIO()), LocalResultReader(root))
    event: dict[str, Any] = {"run": run_info(total), "batches": batches}
    gc.collect()
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_before_kib = proc_status_kib("VmRSS")
    if use_tracemalloc:
        tracemalloc.start()
    began = time.perf_counter()
    if mode == "load-all":
        event["batches"] = load_all(root, batches)
        summary = store_results(event, context).summary
        assert sum(1 for _ in legacy_inline_results(event["batches"])) == total
    else:
        summary = store_results(event, context).summary
    elapsed = time.perf_counter() - began
    peak_traced = tracemalloc.get_traced_memory()[1] if use_tracemalloc else None
    tracemalloc.stop()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_growth_kib = peak_kib - baseline_kib
    hwm_kib = proc_status_kib("VmHWM")
    stored = sum(1 for _ in store.run_results("bench"))
    return {
        "mode": mode,
        "tracemalloc": use_tracemalloc,
        "seconds": round(elapsed, 2),
        "tracemalloc_peak_mib": None if peak_traced is None else round(peak_traced / 2**20, 1),
        "ru_maxrss_growth_mib": round(rss_growth_kib / 1024, 1),
        "ru_maxrss_peak_mib": round(peak_kib / 1024, 1),
        # The whole process (interpreter included) and its growth during the run, per VmHWM.
        "peak_rss_mib": None if hwm_kib is None else round(hwm_kib / 1024, 1),
        "rss_growth_mib": (
            None
            if hwm_kib is None or rss_before_kib is None
            else round((hwm_kib - rss_before_kib) / 1024, 1)
        ),
        "total": summary["total"],
        "failed": summary["failed"],
        "stored": stored,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--measure", nargs=3, metavar=("ROOT", "MODE", "TRACE"), help="internal")
    parser.add_argument("--generate", metavar="ROOT", help="internal")
    args = parser.parse_args()
    if args.generate:
        root = Path(args.generate)
        (root / "batches.json").write_text(json.dumps(write_run(root, args.results)))
        return
    if args.measure:
        root, mode, trace = args.measure
        print(json.dumps(measure(Path(root), args.results, mode, trace == "1")))
        return
    with tempfile.TemporaryDirectory(prefix="crawlmap-bench-") as folder:
        root = Path(folder)
        began = time.perf_counter()
        # Generated in a child process, so this process stays small (children inherit its
        # ru_maxrss).
        command = [sys.executable, __file__, "--results", str(args.results), "--generate", folder]
        subprocess.run(command, check=True)
        written = sum(p.stat().st_size for p in root.rglob("*.json"))
        runs = []
        for mode in ("streaming", "load-all"):
            for trace in ("0", "1"):
                command = [sys.executable, __file__, "--results", str(args.results)]
                command += ["--measure", folder, mode, trace]
                output = subprocess.run(command, check=True, capture_output=True, text=True)
                runs.append(json.loads(output.stdout))
        report = {
            "results": args.results,
            "result_files_mib": round(written / 2**20, 1),
            "setup_seconds": round(time.perf_counter() - began, 1),
            "goal_mib": 256,
            "runs": runs,
        }
    if args.json:
        print(json.dumps(report))
        return
    print(f"{args.results} results, {report['result_files_mib']} MiB of result files")
    print(
        f"{'mode':<10} {'tracemalloc':>11} {'seconds':>8} {'traced peak':>12}"
        f" {'RSS growth':>11} {'peak RSS':>10} {'ru_maxrss growth':>17} {'ru_maxrss':>10}"
    )
    for run in runs:
        traced = (
            "-" if run["tracemalloc_peak_mib"] is None else f"{run['tracemalloc_peak_mib']} MiB"
        )
        print(
            f"{run['mode']:<10} {'on' if run['tracemalloc'] else 'off':>11} {run['seconds']:>8}"
            f" {traced:>12} {str(run['rss_growth_mib']) + ' MiB':>11}"
            f" {str(run['peak_rss_mib']) + ' MiB':>10}"
            f" {str(run['ru_maxrss_growth_mib']) + ' MiB':>17}"
            f" {str(run['ru_maxrss_peak_mib']) + ' MiB':>10}"
            f"   (counted {run['total']}, failed {run['failed']}, stored {run['stored']})"
        )


if __name__ == "__main__":
    main()
