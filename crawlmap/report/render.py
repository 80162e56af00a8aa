"""Render one execution as a single self-contained HTML page.

Inline CSS, JS and SVG only; a Content-Security-Policy forbids every network fetch. Every
piece of text that comes from the run (URLs, titles, errors, state names, JSON) goes through
html.escape (markup.esc): it was written by the crawled web.

The page's sections: the summary, the state graph (graph.py), the pages, the timeline
(timeline.py), the Map iterations and the events (tables.py), the cost and the output; the
data they show comes from rows.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from crawlmap.history import ExecutionHistory, RunFolder, load_run, parse_history
from crawlmap.history.text import console_time
from crawlmap.report.graph import STATUS_LABEL, render_graph
from crawlmap.report.markup import esc, fmt_ms, json_block, metric
from crawlmap.report.rows import PageRow, batches_of, meta_distributed, page_rows, summary_counts
from crawlmap.report.tables import events_section, iterations_section, pages_section
from crawlmap.report.timeline import timeline_section

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)


def _asset(name: str) -> str:
    return resources.files("crawlmap.report").joinpath(name).read_text(encoding="utf-8")


def _summary(history: ExecutionHistory, run: RunFolder | None, rows: Sequence[PageRow]) -> str:
    from crawlmap.cost import count_state_transitions

    counts = summary_counts(history, rows)
    transitions = count_state_transitions(history)
    iterations = batches_of(history, run)
    retries = transitions.retries
    caught = sum(1 for v in history.states if v.status == "caught")
    metrics = []
    if "total" in counts:
        metrics.append(metric("Pages", counts["total"], "", "total"))
        metrics.append(metric("OK", counts.get("ok", 0), "ok", "ok"))
        metrics.append(
            metric(
                "Failed",
                counts.get("failed", 0),
                "failed" if counts.get("failed") else "",
                "failed",
            )
        )
        metrics.append(metric("Skipped", counts.get("skipped", 0), "", "skipped"))
        for key in ("new", "changed", "unchanged"):
            metrics.append(metric(key.capitalize(), counts.get(key, 0), "", key))
    if "failure_ratio" in counts:
        metrics.append(
            metric("Failure ratio", f"{counts['failure_ratio']:.1%}", "", "failure-ratio")
        )
    metrics.append(metric("Duration", fmt_ms(history.duration_ms), "", "duration"))
    distributed = meta_distributed(run)
    if distributed is not None:
        metrics.append(
            metric("Child executions", distributed.get("child_executions", "–"), "", "children")
        )
    if distributed is None or iterations:
        metrics.append(metric("Map iterations", len(iterations), "", "iterations"))
    metrics.append(metric("Retries", retries, "warn" if retries else "", "retries"))
    metrics.append(metric("Caught errors", caught, "warn" if caught else "", "caught"))
    metrics.append(metric("State transitions", transitions.total, "", "transitions"))
    metrics.append(metric("Events", len(history.events), "", "events"))

    meta = run.meta if run is not None else {}
    facts = [
        ("Execution", history.execution_arn or history.name or "–"),
        ("State machine", history.state_machine_arn or "–"),
        ("Mode", meta.get("mode") or history.mode),
        ("Started", console_time(history.started_at)),
        ("Stopped", console_time(history.stopped_at) if history.stopped_at else "–"),
    ]
    if history.error:
        facts.append(
            ("Error", f"{history.error}: {history.cause}" if history.cause else history.error)
        )
    for run_map in history.maps:
        if run_map.map_run_arn:
            facts.append((f"Map Run ({run_map.name})", run_map.map_run_arn))
    facts_html = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    return (
        '<section class="card" id="summary"><h2>Run summary</h2>'
        f'<div class="metrics">{"".join(metrics)}</div>'
        f'<dl class="facts">{facts_html}</dl></section>'
    )


def _graph_section(history: ExecutionHistory) -> str:
    legend = "".join(
        f'<span class="l-{key}">{esc(STATUS_LABEL[key])}</span>'
        for key in ("succeeded", "caught", "failed", "child", "not_run")
    )
    source = "definition" if history.definition else "events (no definition saved with the run)"
    return (
        '<section class="card" id="graph"><h2>State graph'
        f'<span class="hint">states from the {esc(source)}, coloured by outcome</span></h2>'
        f'<div class="graph-wrap">{render_graph(history)}</div>'
        f'<div class="legend">{legend}</div>'
        '<p class="note">Orange: a Retry or a Catch handled an error in that state. Dashed'
        " orange arrows are Catch transitions.</p></section>"
    )


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}"


def _dollars(value: float) -> str:
    return f"${value:.8f}" if 0 < value < 0.00001 else f"${value:.6f}"


def _cost_section(run: RunFolder | None) -> str:
    """What the run would cost on AWS (crawlmap cost), when meta.json has the figures."""
    from crawlmap.cost import CostError, estimate_run

    if run is None or not run.meta:
        return ""
    try:
        b = estimate_run(run)
    except (CostError, KeyError, TypeError, ValueError):
        return ""
    rows = "".join(
        f"<tr><td>{esc(line.service)}</td><td>{esc(line.item)}</td>"
        f'<td class="num">{_quantity(line.quantity)}</td><td class="num">{_dollars(line.usd)}</td>'
        "</tr>"
        for line in b.lines
        if line.quantity
    )
    ratio = f"{b.ratio:,.1f}x" if b.ratio != float("inf") else "n/a"
    return (
        '<section class="card" id="cost"><h2>Cost on AWS'
        f'<span class="hint">estimate, {esc(b.region)} list prices as of {esc(b.prices_as_of)};'
        " crawlmap cost RUN --pages N scales it</span></h2>"
        '<div class="metrics">'
        f"{metric('Total', f'${b.total_usd:.5f}', '', 'cost-total')}"
        f"{metric('Compute + orchestration', f'${b.compute_orchestration_usd:.5f}')}"
        f"{metric('Billed transitions', f'{b.billed_state_transitions:,.0f}', '', 'billed')}"
        f"{metric('Naive design', f'${b.naive.total_usd:.5f}')}"
        f"{metric('Cheaper than naive', ratio)}</div>"
        '<div class="table-wrap" style="margin-top:12px"><table><thead><tr><th>Service</th>'
        '<th>Item</th><th class="num">Quantity</th><th class="num">USD</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def _output_section(history: ExecutionHistory) -> str:
    parts = ['<section class="card" id="output"><h2>Execution output</h2>']
    if history.output is not None:
        parts.append(json_block(history.output))
    elif history.error:
        parts.append(
            f'<p class="note">The execution {esc(history.status)} with {esc(history.error)}:'
            f" {esc(history.cause or '')}</p>"
        )
    else:
        parts.append('<p class="note">No output.</p>')
    if history.input is not None:
        parts.append("<h3>Input</h3>")
        parts.append(json_block(history.input))
    parts.append("</section>")
    return "".join(parts)


def render_report(run: RunFolder | ExecutionHistory) -> str:
    """The report page as a string."""
    folder = run if isinstance(run, RunFolder) else None
    history = run.history if isinstance(run, RunFolder) else run
    rows = page_rows(folder, history)
    title = history.name or (
        history.execution_arn.rsplit(":", 1)[-1] if history.execution_arn else "execution history"
    )
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>crawlmap · {esc(title)}</title><style>{_asset('report.css')}</style></head>"
    )
    header = (
        '<body><header class="top"><h1>crawlmap execution report: '
        f'<span id="run-id">{esc(title)}</span>'
        f'<span class="badge {esc(history.status)}" id="run-status">'
        f"{esc(history.status)}</span></h1>"
        f'<div class="sub">{esc(history.execution_arn or "")}</div></header><main>'
    )
    body = "".join(
        [
            _summary(history, folder, rows),
            _graph_section(history),
            pages_section(rows, history, folder),
            timeline_section(history, folder),
            iterations_section(history, folder),
            events_section(history, folder),
            _cost_section(folder),
            _output_section(history),
        ]
    )
    footer = (
        "</main><footer>Generated by crawlmap from the execution history"
        f" ({len(history.events)} events). Self-contained: no network needed.</footer>"
        f"<script>{_asset('report.js')}</script></body></html>"
    )
    return head + header + body + footer


def write_report(run_dir_or_history: Any, out_path: Path | str) -> Path:
    """Write the report for a run folder / history.json path, a RunFolder, an ExecutionHistory,
    or a GetExecutionHistory document ({'events': [...]}). Returns the written path."""
    source = run_dir_or_history
    if isinstance(source, str | Path):
        source = load_run(Path(source))
    elif isinstance(source, Mapping):
        source = parse_history(source)
    if not isinstance(source, RunFolder | ExecutionHistory):
        raise TypeError(
            "write_report: expected a run folder, history path, RunFolder or ExecutionHistory"
        )
    out = Path(out_path)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(source), encoding="utf-8")
    return out
