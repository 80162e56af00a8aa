"""The state graph: states and transitions from the definition (or, without one, from the
events), laid out top-down in layers like the console's graph view, as inline SVG."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from crawlmap.history import STATUS_RANK, ExecutionHistory, StateVisit

NODE_HEIGHT = 40
ROW_GAP = 46
COL_GAP = 28
MAP_PAD = 18
MAP_HEADER = 48
CHAR_WIDTH = 7.4
CHILDREN_NOTE = "child executions (not in this history)"

Scope = str | None  # the enclosing Map state's name, None at the top level


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # next | choice | default | catch


@dataclass
class Node:
    name: str
    type: str
    status: str  # succeeded | retried | caught | failed | running | not_run | child
    width: float = 0.0
    height: float = NODE_HEIGHT
    x: float = 0.0
    y: float = 0.0
    inner: Layout | None = None
    distributed: bool = False


@dataclass
class Layout:
    nodes: dict[str, Node]
    edges: list[Edge]
    width: float
    height: float


def status_by_scope(history: ExecutionHistory) -> dict[tuple[Scope, str], str]:
    """Each state's worst status, keyed by (enclosing Map, state name)."""
    worst: dict[tuple[Scope, str], str] = {}
    for visit in history.states:
        key = (visit.iteration[0] if visit.iteration else None, visit.name)
        current = worst.get(key, "not_run")
        if STATUS_RANK[visit.status] > STATUS_RANK[current]:
            worst[key] = visit.status
    return worst


def _edges_of(states: Mapping[str, Any]) -> list[Edge]:
    edges: list[Edge] = []
    for name, spec in states.items():
        if not isinstance(spec, Mapping):
            continue
        if isinstance(spec.get("Next"), str):
            edges.append(Edge(name, spec["Next"], "next"))
        for choice in spec.get("Choices") or []:
            if isinstance(choice, Mapping) and isinstance(choice.get("Next"), str):
                edges.append(Edge(name, choice["Next"], "choice"))
        if isinstance(spec.get("Default"), str):
            edges.append(Edge(name, spec["Default"], "default"))
        for catcher in spec.get("Catch") or []:
            if isinstance(catcher, Mapping) and isinstance(catcher.get("Next"), str):
                edges.append(Edge(name, catcher["Next"], "catch"))
    return [e for e in edges if e.target in states]


def _processor(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    inner = spec.get("ItemProcessor") or spec.get("Iterator")
    return (
        inner if isinstance(inner, Mapping) and isinstance(inner.get("States"), Mapping) else None
    )


def _is_distributed(spec: Mapping[str, Any]) -> bool:
    proc = _processor(spec) or {}
    config = proc.get("ProcessorConfig") or {}
    return isinstance(config, Mapping) and config.get("Mode") == "DISTRIBUTED"


def definition_from_history(history: ExecutionHistory) -> dict[str, Any]:  # noqa: C901 - one case per state type
    """A minimal definition rebuilt from the visits: each state's type and the transitions
    the execution took (a transition out of a state whose error was caught is a Catch)."""

    def add(states: dict[str, dict[str, Any]], visits: Sequence[StateVisit]) -> str | None:
        for visit in visits:
            states.setdefault(visit.name, {"Type": visit.type})
        for before, after in itertools.pairwise(visits):
            if before.name == after.name:
                continue
            spec = states[before.name]
            if before.status == "caught":
                catchers = spec.setdefault("Catch", [])
                if {"Next": after.name} not in catchers:
                    catchers.append({"Next": after.name})
            elif "Next" not in spec:
                spec["Next"] = after.name
            elif spec["Next"] != after.name:
                choices = spec.setdefault("Choices", [])
                if {"Next": after.name} not in choices:
                    choices.append({"Next": after.name})
        return visits[0].name if visits else None

    by_iteration: dict[tuple[str, int], list[StateVisit]] = {}
    for visit in history.states:
        if visit.iteration is not None:
            by_iteration.setdefault(visit.iteration, []).append(visit)
    states: dict[str, dict[str, Any]] = {}
    start = add(states, [v for v in history.states if v.iteration is None])
    for run in history.maps:
        if run.name not in states:
            continue
        if run.mode == "distributed":
            states[run.name]["ItemProcessor"] = {
                "StartAt": None,
                "States": {},
                "ProcessorConfig": {"Mode": "DISTRIBUTED"},
            }
            continue
        inner: dict[str, dict[str, Any]] = {}
        inner_start: str | None = None
        for it in run.iterations:
            first = add(inner, by_iteration.get((run.name, it.index), []))
            inner_start = inner_start or first
        if inner_start is not None:
            states[run.name]["ItemProcessor"] = {"StartAt": inner_start, "States": inner}
    return {"StartAt": start, "States": states}


def _levels(start: str | None, states: Mapping[str, Any], edges: list[Edge]) -> list[list[str]]:
    order: list[str] = []
    level: dict[str, int] = {}
    if start is not None and start in states:
        level[start] = 0
        queue = [start]
        while queue:
            current = queue.pop(0)
            order.append(current)
            for edge in edges:
                if edge.source == current and edge.target not in level:
                    level[edge.target] = level[current] + 1
                    queue.append(edge.target)
    deepest = max(level.values(), default=-1)
    for name in states:  # unreachable states go last, one row
        if name not in level:
            level[name] = deepest + 1
            order.append(name)
    rows: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for name in order:
        rows[level[name]].append(name)
    return [row for row in rows if row]


def layout(
    definition: Mapping[str, Any],
    statuses: Mapping[tuple[Scope, str], str],
    *,
    scope: Scope = None,
    ran_in_children: bool = False,
) -> Layout:
    states = definition.get("States")
    states = states if isinstance(states, Mapping) else {}
    edges = _edges_of(states)
    nodes: dict[str, Node] = {}
    for name, spec in states.items():
        spec = spec if isinstance(spec, Mapping) else {}
        status = statuses.get((scope, name), "not_run")
        if ran_in_children:
            status = "child"
        node = Node(name=name, type=str(spec.get("Type", "")), status=status)
        node.width = max(132.0, len(name) * CHAR_WIDTH + 44)
        processor = _processor(spec)
        if node.type == "Map" and processor is not None:
            node.distributed = _is_distributed(spec)
            inner = layout(
                processor,
                statuses,
                scope=name,
                ran_in_children=node.distributed and status != "not_run",
            )
            node.inner = inner
            kind_text = len(_map_kind(node)) + len(STATUS_LABEL.get(node.status, node.status)) + 3
            node.width = max(node.width, inner.width + 2 * MAP_PAD, kind_text * 6.4 + 28)
            node.height = MAP_HEADER + inner.height + MAP_PAD
            if not inner.nodes:  # room for the "child executions" note
                node.width = max(node.width, len(CHILDREN_NOTE) * 6.4 + 28)
                node.height = MAP_HEADER + 22
        nodes[name] = node

    rows = _levels(definition.get("StartAt"), states, edges)
    widths = [sum(nodes[n].width for n in row) + COL_GAP * (len(row) - 1) for row in rows]
    total_width = max(widths, default=0.0)
    y = 0.0
    for row, row_width in zip(rows, widths, strict=True):
        x = (total_width - row_width) / 2
        row_height = max(nodes[n].height for n in row)
        for name in row:
            node = nodes[name]
            node.x = x
            node.y = y + (row_height - node.height) / 2
            x += node.width + COL_GAP
        y += row_height + ROW_GAP
    return Layout(nodes=nodes, edges=edges, width=total_width, height=max(y - ROW_GAP, 0.0))


STATUS_LABEL = {
    "succeeded": "Succeeded",
    "retried": "Retried",
    "caught": "Caught error",
    "failed": "Failed",
    "running": "In progress",
    "not_run": "Not run",
    "child": "Ran in child executions",
}


def _map_kind(node: Node) -> str:
    return "Distributed Map" if node.distributed else "Inline Map"


def _edge_path(source: Node, target: Node, ox: float, oy: float) -> str:
    x1 = ox + source.x + source.width / 2
    y1 = oy + source.y + source.height
    x2 = ox + target.x + target.width / 2
    y2 = oy + target.y
    if y2 > y1:
        bend = (y2 - y1) / 2
        return (
            f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f}"
            f" {x2:.1f},{y2 - bend:.1f} {x2:.1f},{y2:.1f}"
        )
    # Back or sideways edge: leave from the right side, come round into the target's right side.
    sx = ox + source.x + source.width
    sy = oy + source.y + source.height / 2
    tx = ox + target.x + target.width
    ty = oy + target.y + target.height / 2
    out = max(sx, tx) + 40
    return f"M{sx:.1f},{sy:.1f} C{out:.1f},{sy:.1f} {out:.1f},{ty:.1f} {tx:.1f},{ty:.1f}"


def _render(lay: Layout, ox: float, oy: float, parts: list[str], prefix: str) -> None:
    for edge in lay.edges:
        source, target = lay.nodes[edge.source], lay.nodes[edge.target]
        parts.append(
            f'<path class="edge edge-{edge.kind}" d="{_edge_path(source, target, ox, oy)}"'
            ' marker-end="url(#arrow)"/>'
        )
    for node in lay.nodes.values():
        x, y = ox + node.x, oy + node.y
        label = escape(node.name)
        status_text = STATUS_LABEL.get(node.status, node.status)
        node_id = escape(f"{prefix}{node.name}", quote=True)
        parts.append(
            f'<g class="node status-{node.status}" data-state="{node_id}"'
            f' data-status="{node.status}" data-type="{escape(node.type, quote=True)}">'
            f"<title>{label} ({escape(node.type)}): {escape(status_text)}</title>"
        )
        if node.inner is not None:
            parts.append(
                f'<rect class="map-box" x="{x:.1f}" y="{y:.1f}" width="{node.width:.1f}"'
                f' height="{node.height:.1f}" rx="10"/>'
                f'<text class="map-label" x="{x + 12:.1f}" y="{y + 19:.1f}">{label}</text>'
                f'<text class="map-kind" x="{x + 12:.1f}" y="{y + 35:.1f}">{_map_kind(node)}'
                f" · {escape(status_text)}</text>"
            )
            if not node.inner.nodes:
                parts.append(
                    f'<text class="map-note" x="{x + 12:.1f}" y="{y + node.height - 10:.1f}">'
                    f"{CHILDREN_NOTE}</text>"
                )
            inner_x = x + (node.width - node.inner.width) / 2
            _render(node.inner, inner_x, y + MAP_HEADER, parts, f"{prefix}{node.name}/")
        else:
            parts.append(
                f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{node.width:.1f}"'
                f' height="{node.height:.1f}" rx="20"/>'
                f'<text class="label" x="{x + node.width / 2:.1f}"'
                f' y="{y + node.height / 2 + 4:.1f}"'
                f' text-anchor="middle">{label}</text>'
            )
        parts.append("</g>")


def render_graph(history: ExecutionHistory) -> str:
    definition = history.definition
    if not (isinstance(definition, Mapping) and isinstance(definition.get("States"), Mapping)):
        definition = definition_from_history(history)
    lay = layout(definition, status_by_scope(history))
    margin = 24.0
    width = lay.width + 2 * margin + 60
    height = lay.height + 2 * margin
    parts = [
        '<svg class="graph" xmlns="http://www.w3.org/2000/svg"'
        f' viewBox="0 0 {width:.0f} {height:.0f}"'
        f' width="{width:.0f}" height="{height:.0f}" role="img" aria-label="State graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"'
        ' markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"'
        ' class="arrowhead"/></marker></defs>',
    ]
    _render(lay, margin, margin, parts, "")
    parts.append("</svg>")
    return "".join(parts)
