"""Time to first render of the execution report in headless Chromium, by run size.

Writes a run folder per size (tests/fixtures/histories/inline-lanes, a moto 5.2.5 history,
with a results.jsonl of that many synthetic pages: tests/unit/test_report_large.py), renders its
report, then opens it in a fresh headless Chromium (Debian's /usr/bin/chromium, driven over the
DevTools pipe as tests/browser does) per measurement and reads, from the page's own clock
(milliseconds since navigation start):
- `ready`: report.js has run (performance mark "report-ready"): the first page of rows is in
  the DOM, filters and sorting are wired;
- `fcp`: Chromium's first-contentful-paint.
Sizes alternate within each round. `--compare` adds the same 20,000-page run with every row
server-rendered (PAGED_ROWS raised above the row count): the report before paging.

    .venv/bin/python bench/report_render.py [--sizes 1000,20000,100000] [--rounds 3]
        [--compare] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from figures import spread  # bench/figures.py (this script's folder is on sys.path)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawlmap.report import paging, write_report
from tests.browser.test_report_chromium import CHROMIUM, DevTools
from tests.unit.test_report_large import write_large_run

TIMES = """(function () {
  var ready = performance.getEntriesByName('report-ready')[0];
  var paint = performance.getEntriesByName('first-contentful-paint')[0];
  return {ready: ready ? ready.startTime : null, fcp: paint ? paint.startTime : null,
          rows: document.querySelectorAll('#pages-table tbody tr').length};
})()"""


def measure(report: Path, scratch: Path) -> dict[str, Any]:
    browser = DevTools(scratch)
    try:
        browser.open(report.resolve().as_uri())
        # first-contentful-paint is recorded once the frame is painted: wait for it
        for _ in range(500):
            times: dict[str, Any] = browser.evaluate(TIMES)
            if times["fcp"] is not None:
                return times
            time.sleep(0.02)
        return times
    finally:
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,20000,100000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    sizes = [int(s) for s in options.sizes.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        reports: dict[str, Path] = {}
        facts: dict[str, dict[str, Any]] = {}
        cases = [(f"{n}", n, paging.PAGED_ROWS) for n in sizes]
        if options.compare:
            cases.append(("20000-all-rows-html", 20_000, 10**9))
        for name, pages, threshold in cases:
            run = write_large_run(root / f"run-{name}", pages)
            saved, paging.PAGED_ROWS = paging.PAGED_ROWS, threshold
            started = time.perf_counter()
            reports[name] = write_report(run, root / f"{name}.html")
            rendered = time.perf_counter() - started
            paging.PAGED_ROWS = saved
            facts[name] = {
                "pages": pages,
                "bytes": reports[name].stat().st_size,
                "python_render_s": round(rendered, 2),
            }
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in reports}
        for number in range(options.rounds):
            for name, report in reports.items():  # alternating: one of each per round
                scratch = root / f"profile-{name}-{number}"
                scratch.mkdir()
                samples[name].append(measure(report, scratch))
        results = {}
        for name, runs in samples.items():
            results[name] = {
                **facts[name],
                "rows_in_dom": runs[-1]["rows"],
                "ready_ms": spread([r["ready"] for r in runs]),
                "fcp_ms": spread([r["fcp"] for r in runs if r["fcp"] is not None] or [0.0]),
            }
    if options.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{options.rounds} rounds, fresh headless Chromium per measurement; ms since navigation")
    print(
        f"{'run':>22} {'file':>9} {'write_report':>12} {'rows in DOM':>11}"
        f"  {'ready min/median/max':>22}  fcp median"
    )
    for name, r in results.items():
        ready = r["ready_ms"]
        print(
            f"{name:>22} {r['bytes'] / 1e6:>7.1f}MB {r['python_render_s']:>11.2f}s"
            f" {r['rows_in_dom']:>11}  "
            f"{ready['min']:>6.0f} /{ready['median']:>6.0f} /{ready['max']:>6.0f}  "
            f"{r['fcp_ms']['median']:>10.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
