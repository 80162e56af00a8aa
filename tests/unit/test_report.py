"""crawlmap.report on real histories (tests/fixtures/histories: made by moto 5.2.5's Step
Functions interpreter, standing in for AWS, and one hand-written AWS-format Distributed Map
history). The HTML is parsed with the standard library's parser; the rendered-DOM checks in a
real browser are in tests/browser/."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from crawlmap.history import load_run
from crawlmap.inspect_cli import main
from crawlmap.report import render_report, write_report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"


class Page(HTMLParser):
    """Collects elements with their attributes and the text inside each <tr>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.rows: list[tuple[dict[str, str], list[str]]] = []
        self._row: tuple[dict[str, str], list[str]] | None = None
        self._cell: list[str] | None = None
        self.text: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "script":
            self.scripts += 1
        if tag == "tr":
            self._row = (attributes, [])
        if tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row[1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def table_rows(self, table_id: str, html: str) -> list[tuple[dict[str, str], list[str]]]:
        start = html.index(f'id="{table_id}"')
        end = html.index("</table>", start)
        sub = Page()
        sub.feed(html[start - 7 : end + 8])
        return [row for row in sub.rows if row[1]]  # body rows (the header row has no <td>)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def graph_nodes(html: str) -> dict[str, str]:
    """Each state drawn in the graph, with the status it is coloured by."""
    return {
        attrs["data-state"]: attrs["data-status"]
        for tag, attrs in parse(html).elements
        if tag == "g" and "data-state" in attrs
    }


def results(name: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / name / "results.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("name", ["inline-mixed", "inline-caught", "aws-distributed"])
def test_every_page_of_the_run_appears_once_with_its_outcome(name: str, tmp_path: Path) -> None:
    out = write_report(FIXTURES / name, tmp_path / "report.html")
    html = out.read_text()
    rows = parse(html).table_rows("pages-table", html)
    shown = {attrs["data-url"]: attrs["data-outcome"] for attrs, _ in rows}
    expected = {r["url"]: r["outcome"] for r in results(name)}
    assert shown == expected
    assert len(rows) == len(expected)


def test_summary_numbers_come_from_the_run(tmp_path: Path) -> None:
    html = write_report(FIXTURES / "aws-distributed", tmp_path / "r.html").read_text()
    page = parse(html)
    output = json.loads((FIXTURES / "aws-distributed" / "output.json").read_text())

    def metric(name: str) -> str:
        start = html.rindex("<div", 0, html.index(f'id="metric-{name}"'))
        sub = parse(html[start : html.index("</div></div>", start) + 12])
        return sub.text[0].strip()  # the value; the name follows

    for key in ("total", "ok", "failed", "skipped", "new", "changed", "unchanged"):
        assert metric(key) == str(output[key])
    assert metric("children") == "4"
    assert any(t == "SUCCEEDED" for t in page.text)


def test_state_graph_colours_states_by_their_outcome(tmp_path: Path) -> None:
    html = render_report(load_run(FIXTURES / "inline-caught"))
    nodes = graph_nodes(html)
    definition = json.loads((FIXTURES / "inline-caught" / "definition.json").read_text())
    assert set(definition["States"]) <= set(nodes)  # every state of the definition is drawn
    assert nodes["ListPages"] == "succeeded"
    assert nodes["CrawlPages/CrawlBatch"] == "caught"  # orange in the console
    assert nodes["CrawlPages/RecordFailure"] == "succeeded"
    assert nodes["CrawlPagesDistributed"] == "not_run"  # grey: the other path
    assert nodes["RunFailed"] == "not_run"
    assert nodes["Succeeded"] == "succeeded"


def test_failed_run_marks_the_fail_state_red() -> None:
    html = render_report(load_run(FIXTURES / "invalid-input"))
    nodes = graph_nodes(html)
    assert nodes["InvalidInput"] == "failed"
    assert nodes["ListPages"] == "caught"
    assert nodes["ChooseMode"] == "not_run"


def test_distributed_map_inner_states_ran_in_children() -> None:
    html = render_report(load_run(FIXTURES / "aws-distributed"))
    nodes = graph_nodes(html)
    assert nodes["CrawlPagesDistributed"] == "succeeded"
    assert nodes["CrawlPagesDistributed/CrawlBatch"] == "child"
    assert nodes["CrawlPages"] == "not_run"


def test_iterations_table_and_timeline_show_each_iteration(tmp_path: Path) -> None:
    run = load_run(FIXTURES / "inline-caught")
    html = render_report(run)
    rows = parse(html).table_rows("iterations-0", html)
    assert [attrs["data-outcome"] for attrs, _ in rows] == [
        it.outcome for it in run.history.iterations
    ]
    down = next(cells for _, cells in rows if "/down" in cells[2])
    assert down[4] == "4"  # attempts
    assert "TransientCrawlError" in down[-1]
    bars = [a for tag, a in parse(html).elements if tag == "rect" and "data-iteration" in a]
    assert sorted(int(a["data-iteration"]) for a in bars) == [0, 1, 2, 3]
    # the four iterations overlap in time: the timeline reports them running together
    assert "peak <strong>4</strong> running at once" in html


def test_events_table_lists_every_event() -> None:
    html = render_report(load_run(FIXTURES / "inline-mixed"))
    rows = parse(html).table_rows("events-table", html)
    events = json.loads((FIXTURES / "inline-mixed" / "history.json").read_text())["events"]
    assert [int(cells[0]) for _, cells in rows] == [e["id"] for e in events]
    assert [cells[3] for _, cells in rows] == [e["type"] for e in events]


def test_page_derived_text_is_escaped(tmp_path: Path) -> None:
    run_dir = tmp_path / "evil"
    shutil.copytree(FIXTURES / "inline-caught", run_dir)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    rows = results("inline-caught")
    rows[0]["title"] = evil
    rows[0]["url"] = "http://127.0.0.1:8000/a?q=" + evil
    rows[1]["error"] = evil
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    html = write_report(run_dir, tmp_path / "r.html").read_text()
    assert evil not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    page = parse(html)
    assert page.scripts == 1  # only the report's own script
    assert not [a for tag, a in page.elements if tag == "img"]
    # the ValueError message from the history had markup too
    assert "<b>markup</b>" not in html
    assert "&lt;b&gt;markup&lt;/b&gt;" in html


def test_report_is_self_contained() -> None:
    html = render_report(load_run(FIXTURES / "aws-distributed"))
    page = parse(html)
    csp = next(a for tag, a in page.elements if tag == "meta" and "http-equiv" in a)
    assert "default-src 'none'" in csp["content"]
    for tag, attrs in page.elements:
        assert "src" not in attrs, tag
        if tag == "link":
            raise AssertionError("external stylesheet")
        href = attrs.get("href", "")
        assert not href.startswith(("http", "//")), href


def test_report_without_results_or_definition_uses_the_events(tmp_path: Path) -> None:
    lone = tmp_path / "saved-history.json"
    lone.write_text((FIXTURES / "inline-mixed" / "history.json").read_text())
    html = write_report(lone, tmp_path / "r.html").read_text()
    rows = parse(html).table_rows("pages-table", html)
    pages = json.loads((FIXTURES / "inline-mixed" / "input.json").read_text())["pages"]
    assert sorted(a["data-url"] for a, _ in rows) == sorted(pages)
    nodes = set(graph_nodes(html))
    assert {"ListPages", "CrawlPages", "CrawlPages/CrawlBatch", "Succeeded"} <= nodes
    assert "RunFailed" not in nodes  # never entered, and no definition to know it


def test_cli_report_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "report.html"
    assert main(["report", str(FIXTURES / "run-failed"), "-o", str(out)]) == 0
    assert out.is_file()
    assert str(out) in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nope"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no such run id" in err
    assert "Traceback" not in err


def test_graph_from_events_draws_catch_transitions(tmp_path: Path) -> None:
    lone = tmp_path / "saved-history.json"
    lone.write_text((FIXTURES / "inline-caught" / "history.json").read_text())
    html = write_report(lone, tmp_path / "r.html").read_text()
    paths = [a for tag, a in parse(html).elements if tag == "path" and "edge" in a.get("class", "")]
    kinds = sorted(a["class"] for a in paths)
    # CrawlBatch -> RecordFailure was taken by a Catch; the top-level chain by Next
    assert kinds.count("edge edge-catch") == 1
    assert kinds.count("edge edge-next") == 5


def test_pages_table_has_iteration_columns_only_when_the_history_has_iterations() -> None:
    inline = render_report(load_run(FIXTURES / "inline-mixed"))
    distributed = render_report(load_run(FIXTURES / "aws-distributed"))
    assert "Iteration start</th>" in inline
    assert "Iteration start</th>" not in distributed
    rows = parse(distributed).table_rows("pages-table", distributed)
    assert {len(cells) for _, cells in rows} == {8}  # every row as wide as the header


def test_cost_card_bills_the_history_transitions_and_the_children() -> None:
    html = render_report(load_run(FIXTURES / "aws-distributed"))
    start = html.rindex("<div", 0, html.index('id="metric-billed"'))
    value = parse(html[start : html.index("</div></div>", start) + 12]).text[0]
    meta = json.loads((FIXTURES / "aws-distributed" / "meta.json").read_text())
    events = json.loads((FIXTURES / "aws-distributed" / "history.json").read_text())["events"]
    entered = sum(1 for e in events if e["type"].endswith("StateEntered"))
    assert int(value) == entered + meta["distributed"]["child_executions"]
    # no meta.json, no cost card
    lone = render_report(load_run(FIXTURES / "aws-distributed" / "history.json").history)
    assert 'id="cost"' not in lone
