"""The report's HTML building blocks: escaping, times, JSON blocks, metrics and toolbars.

Every piece of text that comes from the run goes through esc (html.escape): it was written by
the crawled web.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Any


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 1000:
        return f"{value:,.0f} ms"
    return f"{value / 1000:,.2f} s"


def offset_ms(ts: datetime | None, t0: datetime) -> float | None:
    return None if ts is None else (ts - t0).total_seconds() * 1000


def json_block(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
    return f'<pre class="json">{escape(text)}</pre>'


def metric(name: str, value: Any, css: str = "", metric_id: str = "") -> str:
    ident = f' id="metric-{metric_id}"' if metric_id else ""
    return (
        f'<div class="metric {css}"{ident}><div class="value">{esc(value)}</div>'
        f'<div class="name">{esc(name)}</div></div>'
    )


def toolbar(table_id: str, outcomes: Sequence[str], placeholder: str) -> str:
    buttons = ['<button type="button" data-outcome="all" class="active">all</button>']
    buttons += [
        f'<button type="button" data-outcome="{esc(o)}">{esc(o)}</button>' for o in outcomes
    ]
    return (
        f'<div class="toolbar" data-table="{table_id}">'
        f'<input type="search" placeholder="{esc(placeholder)}" aria-label="{esc(placeholder)}">'
        f'{"".join(buttons)}<span class="count"></span></div>'
    )
