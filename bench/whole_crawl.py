"""Whole-program crawl throughput: `crawlmap run` against Scrapy, equal politeness, real pages.

Both crawlers run as whole processes (start-up, engine, robots.txt, crawl, extraction, store
and exit all included) against the same nginx serving Debian's python3.11-doc pages (real
Sphinx HTML nobody here wrote) with gzip on, from 1 host and from 20 hosts (127.0.0.11...),
with the same per-host limit (crawlmap's per_host_concurrency = Scrapy's
CONCURRENT_REQUESTS_PER_DOMAIN, 4 by default), robots.txt obeyed and compression on on both
sides. Rounds alternate crawlmap / Scrapy; the ratio is reported as min / median / max.

Setup (not part of the test suite):
    apt-get update && apt-get install -y nginx python3.11-doc
    .venv/bin/python -m pip install -e '.[bench]'          # Scrapy
Run:
    .venv/bin/python -m bench.whole_crawl                   # 1 host and 20 hosts, 3 rounds
    .venv/bin/python -m bench.whole_crawl --hosts 20 --pages-per-host 100 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path("/usr/share/doc/python3.11/html")
PORT = 8089
FIRST_HOST = 11  # 127.0.0.11, 127.0.0.12, ...
SCRAPY_WORKER = "--scrapy-worker"

NGINX_CONF = """
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    types {{ text/html html; text/css css; application/javascript js; image/png png; }}
    default_type application/octet-stream;
    keepalive_requests 100000;
    gzip on; gzip_min_length 256;
    gzip_types text/css application/javascript;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    server {{
{listens}
        root {docs};
        location = /robots.txt {{
            default_type text/plain; return 200 "User-agent: *\\nAllow: /\\n";
        }}
    }}
}}
"""


def start_nginx(tmp: Path, hosts: int) -> subprocess.Popen[bytes]:
    listens = "\n".join(f"        listen 127.0.0.{FIRST_HOST + n}:{PORT};" for n in range(hosts))
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, listens=listens, docs=DOCS))
    process = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"])
    time.sleep(0.5)
    return process


def page_paths(limit: int) -> list[str]:
    paths = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.html"))
    return paths[:limit]


def urls_for(hosts: int, per_host: int) -> list[str]:
    paths = page_paths(per_host)
    return [
        f"http://127.0.0.{FIRST_HOST + h}:{PORT}/{path}" for path in paths for h in range(hosts)
    ]


def run_crawlmap(urls_file: Path, work: Path, per_host: int) -> tuple[float, int]:
    crawlmap = Path(sys.executable).with_name("crawlmap")
    command = [
        str(crawlmap),
        "run",
        "--pages-file",
        str(urls_file),
        "--allow-private-networks",
        "--db",
        str(work / "crawlmap.db"),
        "--json",
        "--quiet",
    ]
    if per_host != 4:  # the default; -c needs the v0.2 CLI
        command += ["-c", f"crawlmap.per_host_concurrency={per_host}"]
    env = {**os.environ, "CRAWLMAP_HOME": str(work / "home")}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=work, env=env, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"crawlmap run failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, int(summary["ok"])


def scrapy_worker(urls_file: str, per_host: int, hosts: int) -> None:
    """In a subprocess: crawl with Scrapy and extract what crawlmap extracts."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    urls = Path(urls_file).read_text().split()
    ok = {"n": 0}

    class Facts(scrapy.Spider):
        name = "facts"

        async def start(self):  # type: ignore[no-untyped-def]
            for url in urls:
                yield scrapy.Request(url, callback=self.parse, dont_filter=True)

        def parse(self, response):  # type: ignore[no-untyped-def]
            title = response.css("title::text").get()
            texts = response.xpath(
                "//body//text()[not(ancestor::script or ancestor::style)]"
            ).getall()
            words = len(" ".join(texts).split())
            links = len(response.css("a[href]"))
            if title is not None:
                ok["n"] += 1
            yield {"title": title, "words": words, "links": links}

    process = CrawlerProcess(
        settings={
            "LOG_LEVEL": "ERROR",
            "ROBOTSTXT_OBEY": True,
            "CONCURRENT_REQUESTS": per_host * hosts,
            "CONCURRENT_REQUESTS_PER_DOMAIN": per_host,
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "COMPRESSION_ENABLED": True,
            "COOKIES_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "USER_AGENT": "crawlmap-bench (+https://github.com/crawlmap/crawlmap)",
        }
    )
    process.crawl(Facts)
    process.start()
    print(json.dumps({"ok": ok["n"]}))


def run_scrapy(urls_file: Path, per_host: int, hosts: int) -> tuple[float, int]:
    command = [
        sys.executable,
        "-m",
        "bench.whole_crawl",
        SCRAPY_WORKER,
        str(urls_file),
        str(per_host),
        str(hosts),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    return seconds, int(json.loads(done.stdout.strip().splitlines()[-1])["ok"])


def compare(hosts: int, per_host_pages: int, per_host: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="crawlmap-bench-") as name:
        tmp = Path(name)
        nginx = start_nginx(tmp, hosts)
        try:
            urls = urls_for(hosts, per_host_pages)
            urls_file = tmp / "urls.txt"
            urls_file.write_text("\n".join(urls) + "\n")
            print(
                f"\n{hosts} host(s) x {len(urls) // hosts} pages = {len(urls)} pages, "
                f"per-host concurrency {per_host}, gzip on, robots.txt obeyed"
            )
            ratios: list[float] = []
            for round_number in range(1, rounds + 1):
                work = tmp / f"round{round_number}"
                work.mkdir()
                ours, ours_ok = run_crawlmap(urls_file, work, per_host)
                theirs, theirs_ok = run_scrapy(urls_file, per_host, hosts)
                ratios.append(theirs / ours)
                print(
                    f"  round {round_number}: crawlmap {ours:6.2f} s ({ours_ok} ok, "
                    f"{len(urls) / ours:6.1f} pages/s)   Scrapy {theirs:6.2f} s "
                    f"({theirs_ok} ok, {len(urls) / theirs:6.1f} pages/s)   "
                    f"ratio {theirs / ours:.2f}x"
                )
            print(
                f"  crawlmap speed / Scrapy speed: min {min(ratios):.2f}x, "
                f"median {statistics.median(ratios):.2f}x, max {max(ratios):.2f}x"
            )
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == SCRAPY_WORKER:
        scrapy_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hosts", type=int, action="append", help="default: 1 and 20")
    parser.add_argument(
        "--pages-per-host",
        type=int,
        default=None,
        help="default: all 530 pages for 1 host, 100 each for more hosts",
    )
    parser.add_argument("--per-host-concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    missing = [
        what
        for what, ok in (("nginx", shutil.which("nginx")), ("python3.11-doc", DOCS.is_dir()))
        if not ok
    ]
    if missing:
        print(f"SKIPPED: {', '.join(missing)} missing: apt-get install -y nginx python3.11-doc")
        return
    try:
        import scrapy  # noqa: F401
    except ImportError:
        print("SKIPPED: Scrapy is not installed (pip install -e '.[bench]')")
        return
    for hosts in args.hosts or [1, 20]:
        per_host_pages = args.pages_per_host or (1000 if hosts == 1 else 100)
        compare(hosts, per_host_pages, args.per_host_concurrency, args.rounds)


if __name__ == "__main__":
    main()
