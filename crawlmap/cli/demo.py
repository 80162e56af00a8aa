"""`crawlmap demo`: crawl a demo site on 127.0.0.1 and show the run."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from crawlmap.cli.arguments import DB_HELP, add_engine_arguments, int_in
from crawlmap.cli.engine_setup import engine_options
from crawlmap.cli.exits import UsageError
from crawlmap.cli.outcome import print_outcome, save_definition
from crawlmap.cli.store import check_store, store_errors
from crawlmap.console import CrawlProgress, results_table
from crawlmap.engine.runner import run_execution
from lambdas.common import env


def add_demo_command(commands: Any) -> None:
    demo = commands.add_parser("demo", help="crawl a demo site on 127.0.0.1 and show the run")
    demo.add_argument("--port", type=int_in(0, 65535), default=0, help="demo site port")
    demo.add_argument("--db", metavar="PATH", help=DB_HELP)
    add_engine_arguments(demo)
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from crawlmap.demo import DemoSite

    database = check_store(args, write=True)
    console = Console(stderr=True)
    site = DemoSite(port=args.port)
    try:
        site.start()
    except OSError as exc:
        raise UsageError(f"--port {args.port}: cannot serve there ({exc.strerror})") from None
    with site:
        console.print(f"[bold]crawlmap demo[/]: a demo site is serving on {site.base}")
        console.print(
            "Crawling its sitemap through the synthesized state machine on the local engine "
            "(one page per Map iteration, so Step Functions' retries show in the history)."
        )
        progress = CrawlProgress(console)
        # Private networks allowed: the demo crawls its own loopback site.
        options = engine_options(args, progress, {env.ALLOW_PRIVATE_NETWORKS: "true"})
        with progress, store_errors(args, database):
            record = run_execution({"sitemap": site.url("/sitemap.xml"), "batch_size": 1}, options)
    save_definition(record, options.template)
    order = {f"{site.base}{path}": i for i, path in enumerate(site.demo_paths())}
    rows = sorted(record.results, key=lambda r: order.get(r["url"], len(order)))
    console.print(results_table(rows, base=site.base))
    print_outcome(console, record, progress, failures=False)
    return 0 if record.status == "SUCCEEDED" else 1
