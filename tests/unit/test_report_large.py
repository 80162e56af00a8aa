"""The report of a large run: above PAGED_ROWS rows a table's rows are embedded once as JSON
for report.js (which renders one page of them at a time) instead of one <tr> each; small
reports keep their server-rendered rows. The run is tests/fixtures/histories/inline-lanes (a
moto 5.2.5 history, moto standing in for AWS) with a results.jsonl of many synthetic pages.
The browser side (paging, filtering, sorting) is in tests/browser/test_report_chromium.py."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from crawlmap.history import load_run
from crawlmap.report import paging, render_report, tables

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"
HOSTILE = "</script><script>alert(1)</script><!-- <img src=x onerror=alert(2)> & \u2028"
OUTCOMES = ("new", "changed", "unchanged", "failed", "skipped")


def synthetic_page(number: int) -> dict[str, Any]:
    """Page number (from 0) of a large run: outcomes in turn, a fetch time that does not grow
    with the number (so sorting by it reorders the rows), the last page's title hostile."""
    outcome = OUTCOMES[number % len(OUTCOMES)]
    failed = outcome == "failed"
    return {
        "url": f"http://127.0.0.1:8000/p/{number:06d}",
        "outcome": outcome,
        "ok": not failed,
        "status": None if failed else 200,
        "error": "TransientCrawlError" if failed else None,
        "attempts": 3 if failed else 1,
        "elapsed_ms": (number * 7919) % 5000,
        "title": f"Page {number}",
    }


def write_large_run(folder: Path, pages: int) -> Path:
    """A copy of the inline-lanes run whose results.jsonl has `pages` pages: the fixture's own
    (which its Map iterations name) first, then synthetic ones; the last title is HOSTILE."""
    shutil.copytree(FIXTURES / "inline-lanes", folder)
    own = [json.loads(x) for x in (folder / "results.jsonl").read_text().splitlines()]
    rows = own + [synthetic_page(n) for n in range(len(own), pages)]
    rows[-1]["title"] = HOSTILE
    with (folder / "results.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    return folder


class Scripts(HTMLParser):
    """Each <script> element's attributes and raw text, plus every <tr> seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[tuple[dict[str, str], str]] = []
        self.tables: dict[str, dict[str, str]] = {}
        self.rows: list[dict[str, str]] = []
        self._current: dict[str, str] | None = None
        self.elements: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append(tag)
        if tag == "script":
            self._current = attributes
            self.scripts.append((attributes, ""))
        if tag == "table" and "id" in attributes:
            self.tables[attributes["id"]] = attributes
        if tag == "tr":
            self.rows.append(attributes)

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._current = None

    def data(self, ident: str) -> Any:
        text = next(t for a, t in self.scripts if a.get("id") == ident)
        return json.loads(text)


def parsed(html: str) -> Scripts:
    page = Scripts()
    page.feed(html)
    return page


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Scripts]:
    run = write_large_run(tmp_path_factory.mktemp("large") / "run", paging.PAGED_ROWS + 500)
    html = render_report(load_run(run))
    return html, parsed(html)


def test_small_report_keeps_its_rows_in_the_html() -> None:
    page = parsed(render_report(load_run(FIXTURES / "inline-lanes")))
    assert "data-rows" not in page.tables["pages-table"]
    urls = [r["data-url"] for r in page.rows if "data-url" in r]
    results = (FIXTURES / "inline-lanes" / "results.jsonl").read_text().splitlines()
    assert urls == [json.loads(x)["url"] for x in results]
    assert [a.get("type") for a, _ in page.scripts] == [None]  # only the report's script


def test_large_report_embeds_every_page_once_as_data(large: tuple[str, Scripts]) -> None:
    html, page = large
    assert page.tables["pages-table"]["data-rows"] == "pages-table-data"
    assert not [r for r in page.rows if "data-url" in r]  # no per-page <tr> in the HTML
    data = page.data("pages-table-data")
    assert data["cols"][:3] == ["idx", "url", "badge"]
    assert data["page"] == paging.PAGE_ROWS
    rows = data["rows"]
    assert len(rows) == paging.PAGED_ROWS + 500
    expected = [synthetic_page(n) for n in range(len(rows))]
    assert [r[0] for r in rows[9:]] == [p["url"] for p in expected[9:]]
    assert [r[1] for r in rows[9:]] == [p["outcome"] for p in expected[9:]]
    # the fixture's own pages carry the iteration that crawled them: [label, index], start ms
    assert rows[0][5][0].startswith("#")
    assert isinstance(rows[0][6], float)
    assert rows[-1][5] is None
    assert "rows</span>" in html
    assert 'class="pager"' in html


def test_hostile_titles_cannot_break_out_of_the_data(large: tuple[str, Scripts]) -> None:
    html, page = large
    assert HOSTILE not in html
    for needle in ("</script><script>", "<!--", "<img", "\u2028"):
        assert needle not in html
    assert [a.get("type") for a, _ in page.scripts] == ["application/json", None]
    assert "img" not in page.elements
    assert page.data("pages-table-data")["rows"][-1][-1] == HOSTILE  # and it reads back intact


def test_large_iterations_table_is_paged_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "PAGED_ROWS", 2)
    html = render_report(load_run(FIXTURES / "inline-lanes"))
    page = parsed(html)
    table = next(t for i, t in page.tables.items() if i.startswith("iterations-"))
    data = page.data(table["data-rows"])
    assert data["cols"] == list(tables.ITERATION_COLUMNS)
    run = load_run(FIXTURES / "inline-lanes")
    batches = [it for it, _ in run.batch_iterations()]
    assert len(data["rows"]) == len(batches) > 2
    assert [r[3] for r in data["rows"]] == [it.outcome for it in batches]
    assert [r[0][1] for r in data["rows"]] == list(range(len(batches)))
    assert not [r for r in page.rows if r.get("data-outcome") in {it.outcome for it in batches}]


def test_script_json_escapes_every_markup_character() -> None:
    text = paging.script_json({"t": "</script><!--&>\u2028\u2029"})
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text) == {"t": "</script><!--&>\u2028\u2029"}
