"""Large tables as data for report.js: the threshold, the rows as JSON, the page controls."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

# Above this many rows a table's rows travel once as JSON and report.js renders one page of
# PAGE_ROWS at a time (filter and sort over all of them): 100,000 <tr> would take the browser
# tens of seconds to lay out. Below it the rows are HTML, readable without the script.
PAGED_ROWS = 2000
PAGE_ROWS = 500


def is_paged(rows: int) -> bool:
    """Whether a table of this many rows is paged (read at each call: a test or a benchmark
    may move the threshold)."""
    return rows > PAGED_ROWS


def script_json(value: Any) -> str:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' at all, so no
    '</script>' or '<!--' from a crawled title can end the element or change how it parses."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def paged_body(table_id: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The rows of a large table as data for report.js, plus its page controls.

    columns name how report.js shows each cell: idx (the row's number, not in the data), url,
    badge (the outcome), num, ms (milliseconds), label ([text, sort key]), err, text."""
    data = {"cols": list(columns), "page": PAGE_ROWS, "rows": rows}
    return (
        f'<script type="application/json" id="{table_id}-data">{script_json(data)}</script>'
        f'<noscript><p class="note">{len(rows):,} rows: this table is drawn by the page\'s'
        " script, which is not running.</p></noscript>"
        f'<div class="pager" data-table="{table_id}">'
        '<button type="button" data-page="prev">&larr; prev</button>'
        f'<span class="range">{len(rows):,} rows</span>'
        '<button type="button" data-page="next">next &rarr;</button></div>'
    )
