"""The execution report in a real browser: Debian's headless Chromium opens the file, runs its
script, and we read the rendered DOM (--dump-dom) and take a screenshot.

The runs are the fixtures in tests/fixtures/histories: histories produced by moto 5.2.5's Step
Functions interpreter (standing in for AWS) and a hand-written AWS-format Distributed Map run;
the large run is one of them with 20,000 synthetic pages, driven over the DevTools protocol.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from crawlmap.report import write_report
from tests.unit.test_report_large import write_large_run

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


class DevTools:
    """Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
    NUL-terminated JSON on fds 3 and 4), so the test can click and type without a WebSocket
    client. One page (target); evaluate() runs JavaScript in it and returns the value."""

    def __init__(self, tmp_path: Path) -> None:
        self._to_browser_r, self._to_browser_w = os.pipe()
        self._from_browser_r, self._from_browser_w = os.pipe()
        profile = tmp_path / "devtools-profile"
        profile.mkdir(exist_ok=True)
        args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1400,2000",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # bash, not sh: dash takes one-digit fd numbers only
        shell = f'exec "$0" "$@" 3<&{self._to_browser_r} 4>&{self._from_browser_w}'
        self._process = subprocess.Popen(
            ["/bin/bash", "-c", shell, str(CHROMIUM), *args],
            pass_fds=(self._to_browser_r, self._from_browser_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(self._to_browser_r)
        os.close(self._from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self._session is not None:
            message["sessionId"] = self._session
        os.write(self._to_browser_w, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser_r, 1 << 16)
            if not chunk:
                raise AssertionError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def open(self, url: str) -> None:
        """Open url in a new page and wait until report.js has run."""
        target = self.send("Target.createTarget", url=url)["targetId"]
        self._session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        # Poll: the page may still be replacing about:blank, whose context an evaluation
        # started in is destroyed (an error, retried).
        for _ in range(6000):
            try:
                if self.evaluate("document.documentElement.getAttribute('data-report-ready')"):
                    return
            except AssertionError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"report.js never finished in {url}")

    def evaluate(self, expression: str) -> Any:
        reply = self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def close(self) -> None:
        self._session = None
        with contextlib.suppress(AssertionError, OSError):
            self.send("Browser.close")
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_browser_w)
        os.close(self._from_browser_r)


@pytest.fixture
def devtools(tmp_path: Path) -> Iterator[DevTools]:
    browser = DevTools(tmp_path)
    try:
        yield browser
    finally:
        browser.close()


PAGE_STATE = """(function () {
  var rows = document.querySelectorAll('#pages-table tbody tr');
  return {
    urls: Array.prototype.map.call(rows, function (r) { return r.getAttribute('data-url'); }),
    first: rows.length ? Array.prototype.map.call(rows[0].cells, function (c) {
      return c.textContent; }) : [],
    range: document.querySelector('.pager[data-table="pages-table"] .range').textContent,
    count: document.querySelector('.toolbar[data-table="pages-table"] .count').textContent,
    scripts: document.scripts.length,
    injected: typeof window.alert === 'function' && !!window.__hostile
  };
})()"""


def test_large_report_pages_filters_and_sorts_every_row(devtools: DevTools, tmp_path: Path) -> None:
    pages = 20_000
    run = write_large_run(tmp_path / "large-run", pages)
    report = write_report(run, tmp_path / "large.html")
    devtools.open(report.resolve().as_uri())
    expected = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]

    first = devtools.evaluate(PAGE_STATE)
    assert first["urls"] == [r["url"] for r in expected[:500]]
    assert first["range"] == "rows 1\u2013500 of 20,000"
    assert first["count"] == "20,000 of 20,000 shown"
    assert first["first"][:3] == ["1", expected[0]["url"], expected[0]["outcome"]]

    devtools.evaluate("document.querySelector('[data-page=next]').click()")
    second = devtools.evaluate(PAGE_STATE)
    assert second["urls"] == [r["url"] for r in expected[500:1000]]
    assert second["range"] == "rows 501\u20131,000 of 20,000"

    # a page far beyond the first one is found by the filter box
    wanted = expected[17_345]["url"]
    devtools.evaluate(
        "(function (box) { box.value = " + json.dumps(wanted.rsplit("/", 1)[-1]) + ";"
        " box.dispatchEvent(new Event('input')); })"
        "(document.querySelector('.toolbar[data-table=pages-table] input'))"
    )
    found = devtools.evaluate(PAGE_STATE)
    assert found["urls"] == [wanted]
    assert found["count"] == "1 of 20,000 shown"

    # outcome buttons filter over all rows; the hostile title is text, not markup
    devtools.evaluate(
        "(function (box) { box.value = ''; box.dispatchEvent(new Event('input'));"
        " document.querySelector('.toolbar[data-table=pages-table]"
        " button[data-outcome=failed]').click(); })"
        "(document.querySelector('.toolbar[data-table=pages-table] input'))"
    )
    failed = [r["url"] for r in expected if r["outcome"] == "failed"]
    only_failed = devtools.evaluate(PAGE_STATE)
    assert only_failed["urls"] == failed[:500]
    assert only_failed["count"] == f"{len(failed):,} of 20,000 shown"
    assert only_failed["scripts"] == 2
    assert only_failed["injected"] is False

    # sorting by fetch time orders all rows, not just the page shown
    devtools.evaluate(
        "document.querySelector('.toolbar[data-table=pages-table]"
        " button[data-outcome=all]').click();"
        "document.querySelectorAll('#pages-table thead th')[5].click()"
    )

    def fetch_time(i: int) -> float:
        value = expected[i]["elapsed_ms"]
        return -1 if value is None else value

    by_time = sorted(range(pages), key=lambda i: (fetch_time(i), i))
    ascending = devtools.evaluate(PAGE_STATE)
    assert ascending["urls"] == [expected[i]["url"] for i in by_time[:500]]
    assert ascending["range"] == "rows 1\u2013500 of 20,000"
    devtools.evaluate("document.querySelectorAll('#pages-table thead th')[5].click()")
    descending = devtools.evaluate(PAGE_STATE)
    slowest_first = sorted(range(pages), key=lambda i: (-fetch_time(i), i))
    assert descending["urls"] == [expected[i]["url"] for i in slowest_first[:500]]
    last_title = devtools.evaluate(
        "(function () { var th = document.querySelectorAll('#pages-table thead th')[0];"
        " th.click(); th.click();"
        " return document.querySelector('#pages-table tbody tr').lastChild.textContent; })()"
    )
    assert last_title == expected[-1]["title"]  # row 20,000 first, its title shown as text
