"""Lambda billed duration from a model that does not follow this machine's load.

Locally every invocation is a thread of one Python process on a shared machine, so its
wall-clock duration grows with whatever else runs (the issue measured the same 100 pages at
0.47 GB-s in 1 batch and 3.26 GB-s in 10). What is priced instead, per invocation:

    billed ms = ceil(CPU ms x cpu_scale(memory) + network wait ms)        (Lambda bills 1 ms)

- CPU ms: measured (functions.<State>.cpu_ms_total, crawlmap/engine/cpu.py).
- cpu_scale(memory) = ARM64_CPU_FACTOR x max(1, LAMBDA_MB_PER_VCPU / memory_mb). Lambda gives
  a function CPU in proportion to its memory, one full vCPU at 1,769 MB
  (docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), so CPU-bound work at
  512 MB takes 3.46x its CPU time. ARM64_CPU_FACTOR (assumed 1.0): one second of this
  machine's CPU is one second of a Graviton core's.
- network wait (CrawlBatch only): each page waits w ms (measured: its host's lowest
  elapsed_ms, see page_waits; or an assumed figure); the pages of one batch overlap: its hosts
  run at once, each host's pages share the batch's slots for it (HostLimit.concurrency) and
  start no closer than its delay:

      wait(batch) = max over its hosts h of max(sum of w over h's pages / concurrency_h,
                                                (pages_h - 1) x delay_h + mean w)

  The batches are the run's own (ListPages' lanes, in the history of an inline run) or, when
  the run folder does not hold them (distributed: lanes live in S3), ListPages' planner run
  again on the run's pages with the configured defaults.
- CPU and waits are added, not overlapped (an upper bound). In-handler retry back-offs, the
  batch-end spacing wait and ListPages'/StoreAndNotify's calls to AWS are not modelled as
  waits (locally those calls run in-process and count as CPU).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambdas.common import tunables
from lambdas.common.host_keys import host_key
from lambdas.common.models import Batch, Lane, PageTask

LAMBDA_MB_PER_VCPU = 1769
ARM64_CPU_FACTOR = 1.0
PROJECTED_PAGE_WAIT_MS = 100.0  # the figure: a realistic page on the web
CRAWL_FUNCTION = "CrawlBatch"
PER_RUN_FUNCTIONS = ("ListPages", "StoreAndNotify")
# States entered per run on each path, besides the Maps' insides (statemachine/definition.py):
# ListPages, ChooseMode, CrawlPages | CrawlPagesDistributed, StoreAndNotify, CheckFailureRatio,
# Succeeded.
TOP_LEVEL_STATES = 6
# A distributed child (one per lane, STANDARD): PlanLane, CrawlLaneDistributed, then one
# CrawlBatchDistributed per batch. Inline: CrawlLane per lane, CrawlBatch per batch.
CHILD_FIXED_STATES = 2
INLINE_LANE_STATES = 1


def cpu_scale(memory_mb: int, arch_factor: float = ARM64_CPU_FACTOR) -> float:
    return arch_factor * max(1.0, LAMBDA_MB_PER_VCPU / max(memory_mb, 1))


@dataclass(frozen=True)
class HostShare:
    concurrency: int
    delay_s: float
    waits_ms: tuple[float, ...]

    def wait_ms(self) -> float:
        if not self.waits_ms:
            return 0.0
        mean = sum(self.waits_ms) / len(self.waits_ms)
        by_slots = sum(self.waits_ms) / max(self.concurrency, 1)
        by_spacing = (len(self.waits_ms) - 1) * self.delay_s * 1000 + mean
        return max(by_slots, by_spacing)


@dataclass(frozen=True)
class PlannedBatch:
    pages: int
    hosts: tuple[HostShare, ...]

    def wait_ms(self) -> float:
        return max((h.wait_ms() for h in self.hosts), default=0.0)


@dataclass(frozen=True)
class Layout:
    """The batches a run crawls in, each page with its wait, and where they came from."""

    lanes: int
    batches: tuple[PlannedBatch, ...]
    source: str  # "history" | "planner"

    def wait_ms_total(self) -> float:
        return sum(b.wait_ms() for b in self.batches)


def layout_of(
    lanes: Sequence[Lane], wait_of: Mapping[str, float], default_wait_ms: float, source: str
) -> Layout:
    batches = []
    for lane in lanes:
        for batch in lane["batches"]:
            batches.append(_planned(batch, wait_of, default_wait_ms))
    return Layout(lanes=len(lanes), batches=tuple(batches), source=source)


def _planned(batch: Batch, wait_of: Mapping[str, float], default_wait_ms: float) -> PlannedBatch:
    waits: dict[str, list[float]] = {}
    for page in batch["pages"]:
        waits.setdefault(host_key(page["url"]), []).append(
            wait_of.get(page["url"], default_wait_ms)
        )
    limits = batch.get("hosts") or {}
    fallback = {"concurrency": int(tunables.default("per_host_concurrency")), "delay_s": 0.0}
    shares = tuple(
        HostShare(
            concurrency=int(limits.get(host, fallback)["concurrency"]),
            delay_s=float(limits.get(host, fallback)["delay_s"]),
            waits_ms=tuple(w),
        )
        for host, w in waits.items()
    )
    return PlannedBatch(pages=len(batch["pages"]), hosts=shares)


@dataclass(frozen=True)
class PlanSettings:
    batch_size: int
    per_host_concurrency: int
    per_host_delay: float
    max_lanes: int

    @classmethod
    def defaults(cls, mode: str, max_lanes: int | None = None) -> PlanSettings:
        distributed = mode == "distributed"
        return cls(
            batch_size=int(
                tunables.default("distributed_batch_size" if distributed else "batch_size")
            ),
            per_host_concurrency=int(tunables.default("per_host_concurrency")),
            per_host_delay=float(tunables.default("per_host_delay")),
            max_lanes=max_lanes
            or int(
                tunables.default(
                    "distributed_max_concurrency" if distributed else "max_concurrency"
                )
            ),
        )


def plan(urls: Sequence[str], settings: PlanSettings) -> list[Lane]:
    from lambdas.list_pages.lanes import LaneSettings, plan_lanes

    tasks: list[PageTask] = [{"url": url, "previous": None} for url in urls]
    return plan_lanes(
        tasks,
        LaneSettings(
            batch_size=settings.batch_size,
            per_host_concurrency=settings.per_host_concurrency,
            per_host_delay=settings.per_host_delay,
            max_lanes=settings.max_lanes,
        ),
    )


def projected_urls(pages: int, hosts: int) -> list[str]:
    """`pages` pages spread evenly over `hosts` hosts."""
    return [f"https://host-{i % hosts}.example/page/{i}" for i in range(pages)]


@dataclass(frozen=True)
class FunctionDuration:
    """One function's priced duration: what was measured, what the model made of it."""

    name: str
    memory_mb: int
    invocations: float
    cpu_ms_total: float | None  # measured (None: not measured, wall clock priced instead)
    wall_ms_total: float  # measured, for comparison only
    cpu_scale: float
    wait_ms_total: float
    billed_ms_total: float  # cpu x scale + wait (or the wall clock when no CPU was measured)

    def to_json(self) -> dict[str, Any]:
        return {
            "memory_mb": self.memory_mb,
            "invocations": self.invocations,
            "cpu_ms_total": self.cpu_ms_total,
            "wall_ms_total": self.wall_ms_total,
            "cpu_scale": self.cpu_scale,
            "wait_ms_total": self.wait_ms_total,
            "modelled_ms_total": self.billed_ms_total,
        }


@dataclass(frozen=True)
class DurationReport:
    """What `crawlmap cost` prints as measured and as assumed."""

    functions: tuple[FunctionDuration, ...]
    measured: dict[str, Any] = field(default_factory=dict)
    assumed: dict[str, Any] = field(default_factory=dict)


def page_waits(results: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Each fetched page's measured wait: the lowest elapsed_ms among its host's pages (pages
    never fetched wait 0).

    Why the lowest: elapsed_ms also counts the time a response waited for the busy event loop
    and the GIL (other pages' and other invocations' CPU, other processes), which is this
    machine's load; a host's fastest page is its latency with the least of that. A site whose
    pages really vary is better priced with an assumed figure (--page-wait-ms).
    """
    elapsed_of: dict[str, float | None] = {}
    lowest: dict[str, float] = {}
    for row in results:
        url, elapsed = row.get("url"), row.get("elapsed_ms")
        if not isinstance(url, str):
            continue
        if isinstance(elapsed, int | float) and not isinstance(elapsed, bool):
            elapsed_of[url] = float(elapsed)
            host = host_key(url)
            lowest[host] = min(lowest.get(host, math.inf), float(elapsed))
        else:
            elapsed_of[url] = None
    return {url: 0.0 if e is None else lowest[host_key(url)] for url, e in elapsed_of.items()}


def elapsed_mean(results: Sequence[Mapping[str, Any]]) -> float:
    values = [
        float(r["elapsed_ms"])
        for r in results
        if isinstance(r.get("elapsed_ms"), int | float) and not isinstance(r["elapsed_ms"], bool)
    ]
    return mean(values)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def ceil_ms(value: float) -> float:
    return float(math.ceil(value))


# ---------------------------------------------------------------- a run's functions, modelled


def _list_pages_visit(history: Any) -> Any:
    return next((v for v in history.states if v.name == "ListPages"), None)


def _max_lanes(history: Any, mode: str) -> int | None:
    visit = _list_pages_visit(history)
    event = visit.input if visit is not None else None
    payload = event.get("Payload", event) if isinstance(event, Mapping) else None
    concurrency = payload.get("map_concurrency") if isinstance(payload, Mapping) else None
    if isinstance(concurrency, Mapping):
        value = concurrency.get("distributed" if mode == "distributed" else "inline")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _history_lanes(history: Any) -> list[Lane] | None:
    """ListPages' lanes as the history holds them (inline runs), else None."""
    visit = _list_pages_visit(history)
    output = visit.output if visit is not None else None
    lanes = output.get("lanes") if isinstance(output, Mapping) else None
    if not isinstance(lanes, list) or not lanes:
        return None
    if not all(
        isinstance(lane, Mapping) and isinstance(lane.get("batches"), list) for lane in lanes
    ):
        return None
    return lanes


def run_layout(run: Any, mode: str, waits: Mapping[str, float], default_wait_ms: float) -> Layout:
    lanes = _history_lanes(run.history)
    if lanes is not None:
        return layout_of(lanes, waits, default_wait_ms, "history")
    urls = [str(row["url"]) for row in run.results if isinstance(row.get("url"), str)]
    settings = PlanSettings.defaults(mode, _max_lanes(run.history, mode))
    return layout_of(plan(urls, settings) if urls else [], waits, default_wait_ms, "planner")


def model_run_durations(
    run: Any,
    memory: Mapping[str, int],
    invocations: Mapping[str, float],
    mode: str,
    *,
    page_wait_ms: float | None,
    arch_factor: float = ARM64_CPU_FACTOR,
) -> DurationReport:
    """Each function's billed duration for a recorded run (see the module docstring)."""
    raw = run.meta.get("functions") or {}
    measured_waits = page_waits(run.results)
    if page_wait_ms is None:
        waits, default_wait = measured_waits, mean(list(measured_waits.values()))
    else:
        waits, default_wait = dict.fromkeys(measured_waits, page_wait_ms), page_wait_ms
    layout = run_layout(run, mode, waits, default_wait)
    durations = []
    for name, spec in raw.items():
        if not isinstance(spec, Mapping):
            continue
        mem = memory.get(name, 0)
        calls = invocations.get(name, 0.0)
        cpu = spec.get("cpu_ms_total")
        cpu = float(cpu) if isinstance(cpu, int | float) and not isinstance(cpu, bool) else None
        wall = float(spec.get("duration_ms_total") or 0.0)
        scale = cpu_scale(mem, arch_factor)
        wait = 0.0
        if name == CRAWL_FUNCTION and layout.batches:
            wait = layout.wait_ms_total() * calls / len(layout.batches)
        billed = wall if cpu is None else cpu * scale + wait
        durations.append(FunctionDuration(name, mem, calls, cpu, wall, scale, wait, billed))
    fetched = [r for r in run.results if isinstance(r.get("elapsed_ms"), int | float)]
    measured: dict[str, Any] = {
        "cpu_ms_total": {d.name: d.cpu_ms_total for d in durations},
        "wall_ms_total": {d.name: d.wall_ms_total for d in durations},
        "pages_fetched": len(fetched),
        "page_wait_ms_mean": mean([w for w in measured_waits.values() if w > 0] or [0.0]),
        "elapsed_ms_mean": elapsed_mean(run.results),
        "batches": len(layout.batches),
        "batches_from": layout.source,
    }
    assumed: dict[str, Any] = {
        "lambda_mb_per_vcpu": LAMBDA_MB_PER_VCPU,
        "arm64_cpu_factor": arch_factor,
        "page_wait_ms": page_wait_ms
        if page_wait_ms is not None
        else "measured: each host's lowest elapsed_ms",
        "cpu_and_wait": "added, not overlapped",
    }
    return DurationReport(tuple(durations), measured, assumed)
