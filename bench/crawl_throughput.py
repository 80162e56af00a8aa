"""Crawl throughput: crawl_batch's core vs Scrapy, same URL list, same server, same concurrency.

A small asyncio HTTP/1.1 server (keep-alive, pre-rendered ~12 KiB pages with a title, meta
description, canonical, h1, 60 links and paragraphs, plus an allow-all robots.txt) runs in
its own process on 127.0.0.1. Each crawler then fetches the same N pages with the same
concurrency, obeys robots.txt, and extracts the same facts (title, description, canonical,
h1, link count, visible-text words + sha256). Scrapy runs in a subprocess (Twisted's reactor
starts once per process); each side is timed from its first request to its last result.

What it includes: the crawl cores only, not whole processes (crawlmap's crawl_batch core in
this process; Scrapy's engine in a subprocess, its start-up not timed). bench/whole_crawl.py
compares the whole programs. Rounds alternate the two, --rounds times (min/median/max).

Run:  .venv/bin/python -m bench.crawl_throughput        (2000 pages, concurrency 16, 3 rounds)
      .venv/bin/python -m bench.crawl_throughput --pages 500 --concurrency 8 --rounds 5
Needs: pip install scrapy (the bench extra).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import subprocess
import sys
import time
from typing import Any

WORDS = [
    "crawl",
    "map",
    "batch",
    "state",
    "machine",
    "lambda",
    "retry",
    "catch",
    "page",
    "result",
    "robots",
    "delay",
    "host",
    "limit",
    "budget",
    "deadline",
    "redirect",
    "charset",
    "selector",
    "canonical",
    "heading",
    "link",
    "words",
]


def render_page(n: int, total: int) -> bytes:
    links = "".join(
        f'<li><a href="/page/{(n * 7 + k) % total}">page {k}</a></li>' for k in range(60)
    )
    paragraphs = "".join(
        "<p>" + " ".join(WORDS[(n + i + j) % len(WORDS)] for j in range(40)) + "</p>"
        for i in range(15)
    )
    html = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Benchmark page {n}</title>"
        f'<meta name="description" content="Page {n} of the throughput benchmark">'
        f'<link rel="canonical" href="/page/{n}"><style>p{{margin:0}}</style>'
        "<script>window.x = 1;</script></head><body>"
        f"<h1>Page {n}</h1><nav><ul>{links}</ul></nav>{paragraphs}</body></html>"
    )
    return html.encode()


def serve(port_queue: Any, total: int) -> None:
    """The benchmark site: keep-alive HTTP/1.1 over asyncio streams, everything pre-rendered."""

    def response(body: bytes, content_type: str, status: str = "200 OK") -> bytes:
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
        )
        return head.encode() + body

    pages = {
        f"/page/{n}".encode(): response(render_page(n, total), "text/html; charset=utf-8")
        for n in range(total)
    }
    pages[b"/robots.txt"] = response(b"User-agent: *\nAllow: /\n", "text/plain")
    missing = response(b"not found", "text/plain", "404 Not Found")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                writer.write(pages.get(path, missing))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port_queue.put(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def run_ours(urls: list[str], concurrency: int) -> tuple[float, int]:
    from lambdas.common.models import PageTask
    from lambdas.common.settings import Settings
    from lambdas.crawl_batch.core import CrawlOptions, crawl_pages

    settings = Settings(
        allow_private_networks=True,  # the benchmark site is on 127.0.0.1
        per_host_concurrency=concurrency,
        request_timeout=30.0,
        obey_robots=True,
    )
    tasks = [PageTask(url=url, previous=None) for url in urls]

    async def crawl() -> tuple[float, int]:
        started = time.perf_counter()
        results = await crawl_pages(tasks, settings, CrawlOptions(time_budget_s=600.0))
        elapsed = time.perf_counter() - started
        return elapsed, sum(1 for r in results if r["ok"] and r["title"])

    return asyncio.run(crawl())


SCRAPY_WORKER = "--scrapy-worker"


def scrapy_worker(urls_file: str, concurrency: int) -> None:
    """Runs in a subprocess: crawl the URLs with Scrapy and print {"seconds", "ok"}."""
    import hashlib

    import scrapy
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    with open(urls_file, encoding="utf-8") as handle:  # noqa: PTH123 - plain script
        urls = json.load(handle)
    marks: dict[str, float] = {}
    ok = {"n": 0}

    class Facts(scrapy.Spider):
        name = "facts"

        async def start(self) -> Any:
            marks.setdefault("start", time.perf_counter())
            for url in urls:
                yield scrapy.Request(url, callback=self.parse, dont_filter=True)

        def parse(self, response: Any) -> Any:
            title = response.css("title::text").get()
            description = response.xpath(
                "//meta[translate(@name,'DESCRIPTION','description')='description']/@content"
            ).get()
            canonical = response.xpath("//link[@rel='canonical']/@href").get()
            h1 = " ".join(response.css("h1 ::text").getall())
            links = len(response.css("a[href]"))
            texts = response.xpath(
                "//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]"
            ).getall()
            text = " ".join(" ".join(texts).split())
            digest = hashlib.sha256(text.encode()).hexdigest()
            if title:
                ok["n"] += 1
            marks["end"] = time.perf_counter()
            yield {
                "title": title,
                "description": description,
                "canonical": canonical and response.urljoin(canonical),
                "h1": h1,
                "links": links,
                "words": len(text.split()),
                "hash": digest,
            }

    process = CrawlerProcess(
        settings={
            "LOG_LEVEL": "ERROR",
            "ROBOTSTXT_OBEY": True,
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "COOKIES_ENABLED": False,
            "RETRY_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "HTTPCACHE_ENABLED": False,
            "USER_AGENT": "crawlmap-bench (+https://github.com/crawlmap/crawlmap)",
        }
    )
    crawler = process.create_crawler(Facts)
    crawler.signals.connect(
        lambda: marks.__setitem__("start", time.perf_counter()), signal=signals.engine_started
    )
    process.crawl(crawler)
    process.start()
    print(json.dumps({"seconds": marks["end"] - marks["start"], "ok": ok["n"]}))


def run_scrapy(urls: list[str], concurrency: int) -> tuple[float, int]:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(urls, handle)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.crawl_throughput",
            SCRAPY_WORKER,
            handle.name,
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    return float(report["seconds"]), int(report["ok"])


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == SCRAPY_WORKER:
        scrapy_worker(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        import scrapy  # noqa: F401
    except ImportError:
        print("SKIPPED: Scrapy is not installed (pip install scrapy, the bench extra)")
        return

    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    server = context.Process(target=serve, args=(ports, args.pages), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=60)
        urls = [f"http://127.0.0.1:{port}/page/{n}" for n in range(args.pages)]
        print(f"{args.pages} pages, concurrency {args.concurrency}, server pid {server.pid}")
        ratios = []
        print(f"{'round':>5} {'crawler':28} {'seconds':>8} {'pages/s':>9} {'ok':>6}")
        for number in range(1, args.rounds + 1):  # alternating: a load drift hits both alike
            rows = []
            for label, runner in (("crawlmap crawl_batch core", run_ours), ("Scrapy", run_scrapy)):
                seconds, ok = runner(urls, args.concurrency)
                assert ok == args.pages, f"{label}: {ok} of {args.pages} pages extracted"
                rows.append((label, seconds, ok))
                print(f"{number:5d} {label:28} {seconds:8.2f} {args.pages / seconds:9.1f} {ok:6d}")
            ratios.append(rows[1][1] / rows[0][1])
        print(
            f"crawlmap / Scrapy throughput over {args.rounds} rounds: min {min(ratios):.2f}x, "
            f"median {statistics.median(ratios):.2f}x, max {max(ratios):.2f}x "
            "(core only: each side from its first request to its last result)"
        )
    finally:
        server.terminate()
        server.join(timeout=10)


if __name__ == "__main__":
    main()
