"""`crawlmap run`'s input: the URLs, --pages-file or --sitemap as the execution input, and
the input pages in canonical form."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crawlmap.cli.arguments import read_option_file
from crawlmap.cli.exits import UsageError
from lambdas.common.urls import UrlError, canonicalize


def read_pages_file(path: str) -> list[str]:
    """URLs from a file: a JSON array, or one URL per line ('#' comments and blanks skipped)."""
    text = read_option_file(Path(path), f"--pages-file {path}")
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--pages-file {path}: not a valid JSON array ({exc.msg})") from None
        except RecursionError:
            raise UsageError(f"--pages-file {path}: JSON nested too deeply") from None
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise UsageError(f"--pages-file {path}: the JSON array must hold URL strings")
        urls = list(data)
    else:
        lines = (line.strip() for line in text.splitlines())
        urls = [line for line in lines if line and not line.startswith("#")]
    if not urls:
        raise UsageError(f"--pages-file {path}: no URLs in it (one per line, or a JSON array)")
    return urls


def canonical_pages(urls: Sequence[str], source: str = "URL") -> list[str]:
    """Each URL's canonical form, first occurrence first; UsageError names a bad one."""
    seen: dict[str, None] = {}
    for index, url in enumerate(urls, start=1):
        try:
            seen.setdefault(canonicalize(_text(url)), None)
        except UrlError as exc:
            raise UsageError(f"{source} {index} ({url!r}): {exc}") from None
    return list(seen)


def _text(value: str) -> str:
    """`value` if it is text UTF-8 can carry: a lone surrogate (from a JSON escape such as
    \\ud800, or undecodable bytes in argv) cannot travel in the execution input."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UrlError(f"not valid Unicode text (lone surrogate at position {exc.start})") from None
    return value


def execution_input(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """The execution input for `crawlmap run` and the canonical input pages (none: sitemap)."""
    if args.sitemap and (args.urls or args.pages_file):
        raise UsageError("give either URLs / --pages-file or --sitemap, not both")
    payload: dict[str, Any]
    pages: list[str] = []
    if args.sitemap:
        try:
            canonicalize(_text(args.sitemap))
        except UrlError as exc:
            raise UsageError(f"--sitemap {args.sitemap!r}: {exc}") from None
        payload = {"sitemap": args.sitemap}
    else:
        urls = list(args.urls)
        pages = canonical_pages(urls)
        if args.pages_file:
            from_file = read_pages_file(args.pages_file)
            pages = list(dict.fromkeys(pages + canonical_pages(from_file, "--pages-file entry")))
            urls += from_file
        if not urls:
            raise UsageError("nothing to crawl: give URLs, --pages-file FILE or --sitemap URL")
        payload = {"pages": urls}
    if args.batch_size is not None:
        payload["batch_size"] = args.batch_size
    if args.distributed_threshold is not None:
        payload["distributed_threshold"] = args.distributed_threshold
    return payload, pages
