"""The execution report in a real browser: Debian's headless Chromium opens the file, runs its
script, and we read the rendered DOM (--dump-dom) and take a screenshot.

The runs are the fixtures in tests/fixtures/histories: histories produced by moto 5.2.5's Step
Functions interpreter (standing in for AWS) and a hand-written AWS-format Distributed Map run.
"""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from crawlmap.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium missing: apt-get install -y chromium (make setup installs it)",
    ),
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,2000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


class Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts_by_id: dict[str, list[str]] = {}
        self._open_ids: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if "id" in attributes:
            self._open_ids.append((tag, attributes["id"]))
            self.texts_by_id.setdefault(attributes["id"], [])

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open_ids) - 1, -1, -1):
            if self._open_ids[i][0] == tag:
                del self._open_ids[i]
                break

    def handle_data(self, data: str) -> None:
        for _, ident in self._open_ids:
            self.texts_by_id[ident].append(data)

    def text(self, ident: str) -> str:
        return " ".join("".join(self.texts_by_id.get(ident, [])).split())


def render(name: str, tmp_path: Path) -> tuple[Dom, Path]:
    report = write_report(FIXTURES / name, tmp_path / f"{name}.html")
    url = report.resolve().as_uri()
    shot = tmp_path / f"{name}.png"
    taken = chromium(tmp_path, f"--screenshot={shot}", url)
    assert shot.is_file(), taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    dumped = chromium(tmp_path, "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = Dom()
    dom.feed(dumped.stdout)
    return dom, shot


def results(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (FIXTURES / name / "results.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("name", ["inline-caught", "aws-distributed"])
def test_report_renders_every_page_with_its_outcome(name: str, tmp_path: Path) -> None:
    dom, _ = render(name, tmp_path)
    html_tag = next(attrs for tag, attrs in dom.elements if tag == "html")
    assert html_tag.get("data-report-ready") == "true"  # the inline script ran
    rows = {a["data-url"]: a["data-outcome"] for tag, a in dom.elements if "data-url" in a}
    expected = {r["url"]: r["outcome"] for r in results(name)}
    assert rows == expected
    # the script counted the rows it shows
    toolbar_counts = [dom.text(i) for i in dom.texts_by_id if i == "pages"]
    assert f"{len(expected)} of {len(expected)} shown" in toolbar_counts[0]


def test_summary_numbers_and_graph_nodes_are_rendered(tmp_path: Path) -> None:
    dom, _ = render("aws-distributed", tmp_path)
    output = json.loads((FIXTURES / "aws-distributed" / "output.json").read_text())
    for key in ("total", "ok", "failed", "skipped", "new", "changed", "unchanged"):
        value = dom.text(f"metric-{key}").split(" ")[0]
        assert value == str(output[key]), key
    assert dom.text("run-status") == "SUCCEEDED"
    nodes = {a["data-state"]: a["data-status"] for tag, a in dom.elements if "data-state" in a}
    definition = json.loads((FIXTURES / "aws-distributed" / "definition.json").read_text())
    assert set(definition["States"]) <= set(nodes)
    assert nodes["CrawlPagesDistributed"] == "succeeded"
    assert nodes["StoreAndNotify"] == "succeeded"
    assert nodes["CrawlPages"] == "not_run"


def test_retries_and_caught_errors_show_in_graph_and_timeline(tmp_path: Path) -> None:
    dom, _ = render("inline-caught", tmp_path)
    nodes = {a["data-state"]: a["data-status"] for tag, a in dom.elements if "data-state" in a}
    assert nodes["CrawlPages/CrawlBatch"] == "caught"
    bars = [a for tag, a in dom.elements if tag == "rect" and "data-iteration" in a]
    assert len(bars) == 4
    assert "peak 4 running at once" in dom.text("parallelism")
    assert dom.text("metric-retries").split(" ")[0] == "3"
    assert dom.text("metric-caught").split(" ")[0] == "2"
