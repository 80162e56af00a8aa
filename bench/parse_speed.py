"""Parse + extract CPU per page: crawl_batch's selectolax path vs BeautifulSoup.

Corpus: Debian's python3.11-doc HTML (Sphinx output nobody here wrote), read from disk.
Both sides start from the raw bytes and produce the same facts: decoded text, title, meta
description, canonical, first h1, link count, configured selectors (text and attribute),
visible-text word count and its sha256. CPU time is time.process_time(), parsing and
extraction only (the core, not a process). The three sides alternate, --rounds times.

Run:  .venv/bin/python -m bench.parse_speed            (a stride sample of 120 pages)
      .venv/bin/python -m bench.parse_speed --all      (all 530 pages; BeautifulSoup is slow)
Needs: pip install beautifulsoup4 lxml (the bench extra); apt-get install -y python3.11-doc
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from bench.corpus.python_docs import INSTALL_HINT, python_doc_pages
from lambdas.crawl_batch.parse import compile_selectors, decode_body, extract_page

SELECTORS = {"first_paragraph": "div.body p", "next_page": "link[rel=next]@href"}
CONTENT_TYPE = "text/html"  # as a server would send it for these files (no charset)
Facts = tuple[Any, ...]


def ours(url: str, body: bytes) -> Facts:
    selectors = compile_selectors(SELECTORS)  # per page, as if uncached, to be conservative
    decoded = decode_body(body, CONTENT_TYPE)
    f = extract_page(decoded.text, url, selectors)
    return (f.title, f.description, f.canonical, f.h1, f.links, f.words, f.extracted)


def _bs4(parser: str) -> Callable[[str, bytes], Facts]:
    from bs4 import BeautifulSoup

    def run(url: str, body: bytes) -> Facts:
        soup = BeautifulSoup(body, parser)
        title_tag = soup.find("title")
        title = " ".join(title_tag.get_text().split()) if title_tag else None
        description = None
        for meta in soup.find_all("meta", attrs={"name": True}):
            if str(meta.get("name", "")).strip().lower() == "description":
                description = meta.get("content")
                break
        canonical = None
        for link in soup.find_all("link", attrs={"rel": True, "href": True}):
            if "canonical" in [str(r).lower() for r in link.get("rel") or []]:
                canonical = urljoin(url, str(link["href"]))
                break
        h1_tag = soup.find("h1")
        h1 = " ".join(h1_tag.get_text(" ").split()) if h1_tag else None
        links = 0
        for a in soup.find_all("a", href=True):
            href = str(a["href"]).strip()
            if href and not href.startswith("#"):
                scheme = href.split(":", 1)[0].lower() if ":" in href else ""
                if not scheme or scheme in ("http", "https") or "/" in scheme:
                    links += 1
        extracted: dict[str, str | None] = {}
        for name, spec in SELECTORS.items():
            css, _, attr = spec.partition("@")
            node = soup.select_one(css)
            if node is None:
                extracted[name] = None
            elif attr:
                value = node.get(attr)
                extracted[name] = str(value).strip() if value is not None else None
            else:
                extracted[name] = " ".join(node.get_text(" ").split())[:200] or None
        for tag in soup(["script", "style", "noscript", "template"]):
            tag.decompose()
        text = " ".join(soup.get_text(" ").split())
        hashlib.sha256(text.encode()).hexdigest()
        words = len(text.split()) if text else 0
        return (title, description, canonical, h1, links, words, extracted)

    return run


def measure(
    fn: Callable[[str, bytes], Facts], pages: list[tuple[str, bytes]]
) -> tuple[float, list[Facts]]:
    started = time.process_time()
    facts = [fn(url, body) for url, body in pages]
    return time.process_time() - started, facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--all", action="store_true", help="every page instead of a sample")
    parser.add_argument("--sample", type=int, default=120, help="pages in the stride sample")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    corpus = python_doc_pages()
    if corpus is None:
        print(f"SKIPPED: the corpus is not installed. Install it with: {INSTALL_HINT}")
        return
    if not args.all:
        stride = max(1, len(corpus) // args.sample)
        corpus = corpus[::stride][: args.sample]
    size = sum(len(body) for _, body in corpus)
    print(f"corpus: {len(corpus)} pages of python3.11-doc, {size / len(corpus) / 1024:.0f} KiB avg")

    sides = {
        "crawlmap (selectolax/lexbor)": ours,
        "BeautifulSoup html.parser": _bs4("html.parser"),
        "BeautifulSoup lxml": _bs4("lxml"),
    }
    seconds: dict[str, list[float]] = {label: [] for label in sides}
    facts: dict[str, Any] = {}
    for _ in range(args.rounds):  # alternating: a load drift hits every side alike
        for label, extract in sides.items():
            spent, facts[label] = measure(extract, corpus)
            seconds[label].append(spent)
    ours_label = next(iter(sides))
    ours_facts = facts[ours_label]

    print(f"{args.rounds} rounds: CPU ms a page, then x crawlmap's (each min / median / max)")
    for label, spent in seconds.items():
        per_page = [s / len(corpus) * 1000 for s in spent]
        ratios = [s / o for s, o in zip(spent, seconds[ours_label], strict=True)]
        print(
            f"{label:32} {min(per_page):7.2f} / {statistics.median(per_page):7.2f} / "
            f"{max(per_page):7.2f} ms   {min(ratios):5.1f} / {statistics.median(ratios):5.1f} / "
            f"{max(ratios):5.1f}x"
        )
    for label in list(sides)[1:]:
        pairs = list(zip(ours_facts, facts[label], strict=True))
        same_title = sum(1 for a, b in pairs if a[0] == b[0]) / len(pairs)
        same_links = sum(1 for a, b in pairs if a[4] == b[4]) / len(pairs)
        # crawlmap reads text as a browser lays it out (inline markup does not split a word);
        # get_text(" ") here splits at every tag: the ratio shows how far the two differ.
        word_ratio = statistics.median(a[5] / b[5] for a, b in pairs if b[5])
        print(
            f"against {label}: titles agree on {same_title:.0%} of pages, link counts on "
            f"{same_links:.0%}; crawlmap's word count is {word_ratio:.2f}x theirs (median)"
        )


if __name__ == "__main__":
    main()
