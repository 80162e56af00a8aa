"""Memory of a batch of big pages from many hosts (issue 10): the bytes CrawlBatch buffers stay
within its budget (half of the function's 512 MB), whatever the batch holds.

60 hosts (127.0.0.100 to 127.0.0.159, one server each, in a child process) each serve one page
of --mib MiB (default 9: under the 10 MiB body cap, so every page is crawled). `crawlmap run`
crawls the 60 pages as one batch (--batch-size 60) in a subprocess; its peak RSS (the whole
process: Python, the engine, moto, the handlers) is compared with the same run on 60 pages of
1 KiB, side by side, alternating, --rounds times. Without the budget the batch would hold
60 x 9 MiB = 540 MiB of bodies at once.

    .venv/bin/python bench/batch_memory.py [--rounds 3] [--mib 9]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOSTS = [f"127.0.0.{100 + n}" for n in range(60)]
ROOT = Path(__file__).resolve().parents[1]


def serve(mib: int) -> None:
    """The sites: /big is `mib` MiB of HTML, /small 1 KiB; robots.txt allows all."""
    big = b"<html><title>big</title><body>" + b"x" * (mib * 1024 * 1024) + b"</body></html>"
    small = b"<html><title>small</title><body>" + b"x" * 1024 + b"</body></html>"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = big if self.path.startswith("/big") else small
            if self.path == "/robots.txt":
                body = b"User-agent: *\nAllow: /\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    servers = [ThreadingHTTPServer((host, 8099), Handler) for host in HOSTS]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    time.sleep(3600)


def one_run(kind: str, template: Path) -> float:
    """Peak RSS (MiB) of one `crawlmap run` subprocess crawling the 60 pages of `kind`."""
    pages = [f"http://{host}:8099/{kind}" for host in HOSTS]
    with tempfile.TemporaryDirectory() as home:
        command = [
            sys.executable, "-c",
            "import json, resource, sys; from crawlmap.cli import main; code = main(sys.argv[1:]);"
            " print(json.dumps({'rss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
            " 'code': code}))",
            "run", "--quiet", "--allow-private-networks", "--batch-size", "60",
            "--template", str(template), "--db", f"{home}/store.db", *pages,
        ]  # fmt: skip
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**os.environ, "CRAWLMAP_HOME": home},
            cwd=ROOT,
            check=False,
        )
    last = json.loads(done.stdout.strip().splitlines()[-1])
    if last["code"] != 0:
        raise SystemExit(f"the {kind} run failed: {done.stderr[-2000:]}")
    return float(last["rss_kib"]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mib", type=int, default=9)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.mib)
        return
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from crawlmap.engine.template import load_template
    from crawlmap.runfolder import cache_dir

    template = Path(tempfile.mkdtemp()) / "template.json"
    template.write_text(json.dumps(load_template(cache_dir())))
    site = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--mib", str(args.mib)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert site.stdout is not None
        assert site.stdout.readline().strip() == "ready"
        figures: dict[str, list[float]] = {"small": [], "big": []}
        for _ in range(args.rounds):  # alternating, so load drifts hit both alike
            for kind in ("small", "big"):
                figures[kind].append(one_run(kind, template))
    finally:
        site.kill()
    budget_mib = 512 * 0.5
    for kind, values in figures.items():
        print(
            f"{kind:5s} pages: peak RSS min {min(values):.0f} / median "
            f"{statistics.median(values):.0f} / max {max(values):.0f} MiB (whole process)"
        )
    growth = statistics.median(figures["big"]) - statistics.median(figures["small"])
    print(
        f"60 x {args.mib} MiB pages add {growth:.0f} MiB to the peak (median); the bodies "
        f"alone would be {60 * args.mib} MiB; CrawlBatch's budget is {budget_mib:.0f} MiB"
    )


if __name__ == "__main__":
    main()
