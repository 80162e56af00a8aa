"""What a recorded run would have cost on AWS, and what the naive design would cost.

Billing rules (us-east-1 list prices in prices.json, each with its source and date):

- Step Functions Standard bills one state transition "each time a step of your workflow is
  executed ... including retries" (aws.amazon.com/step-functions/pricing). From the history:
  every `*StateEntered` event, in the top level and inside inline Map iterations (their inner
  states are steps), plus one per retry (each extra `TaskScheduled` within one state visit).
  Inline Map iterations themselves are not billed ("you're not charged a state transition for
  each iteration of the Inline Map state"); a Distributed Map is billed "one state transition
  for each child workflow execution the Distributed Map state starts"
  (docs.aws.amazon.com/step-functions/latest/dg/concepts-transitions.html). Those child
  starts are not in the parent history, so they come from meta.json. (STANDARD children
  would also bill their own transitions; crawlmap's children are EXPRESS.)
- Express child executions: one request each, plus duration rounded up to 100 ms per
  execution at the memory used in 64 MB chunks. Our children carry one batch (a few KB), so
  each is billed at the smallest chunk, 64 MB. Their inner state transitions are not billed.
- Lambda: one request per invocation, plus GB-seconds = configured memory x duration
  rounded up to 1 ms per invocation, priced by architecture (arm64 is cheaper than x86_64).
- DynamoDB on-demand: one write request unit per 1 KB (rounded up) of each item written;
  BatchWriteItem items count individually. Reads: eventually consistent, 0.5 RRU per item
  up to 4 KB: one previous-state read per page (assumed; the store does not count reads).
- S3: PUT/LIST and GET requests (ItemReader, ResultWriter, result files).

The naive design is one Lambda per page in a Standard inline Map: the same top-level states,
one inner Task state per page (plus its retries, plus a failure-record Pass state for each
page that failed), one invocation per page attempt lasting the measured per-page duration.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from crawlmap.cost import duration as dm
from crawlmap.history import ExecutionHistory, HistoryError, RunFolder, load_run

EXPRESS_MEMORY_CHUNK_MB = 64
EXPRESS_DURATION_STEP_MS = 100
DDB_WRITE_UNIT_BYTES = 1024
DDB_ITEM_OVERHEAD_BYTES = 100  # keys (pk/sk), run_id and TTL attributes around a PageResult
FUNCTION_NAMES = ("ListPages", "CrawlBatch", "StoreAndNotify")
PER_PAGE_FUNCTION = "CrawlBatch"


class CostError(ValueError):
    """The run lacks what a cost estimate needs. The message names the missing field."""


@dataclass(frozen=True)
class Price:
    key: str
    usd: float
    unit: str
    quoted: str
    source: str
    as_of: str


@dataclass(frozen=True)
class PriceList:
    region: str
    as_of: str
    prices: Mapping[str, Price]

    def __getitem__(self, key: str) -> Price:
        return self.prices[key]


@cache
def load_prices() -> PriceList:
    text = resources.files("crawlmap.cost").joinpath("prices.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    prices = {
        key: Price(
            key=key,
            usd=float(item["usd"]),
            unit=item["unit"],
            quoted=item["quoted"],
            source=item["source"],
            as_of=item["as_of"],
        )
        for key, item in doc["prices"].items()
    }
    return PriceList(region=doc["region"], as_of=doc["as_of"], prices=prices)


@dataclass(frozen=True)
class TransitionCount:
    """State transitions of the parent execution, counted from its history."""

    states_entered: int  # every *StateEntered event
    retries: int  # extra task attempts made by Retry
    top_level_entered: int  # states entered outside Map iterations
    iteration_entered: int  # states entered inside inline Map iterations

    @property
    def total(self) -> int:
        return self.states_entered + self.retries


def count_state_transitions(history: ExecutionHistory) -> TransitionCount:
    entered = [e for e in history.events if e.type.endswith("StateEntered")]
    top = sum(1 for e in entered if e.iteration is None)
    retries = sum(visit.retries for visit in history.states)
    return TransitionCount(
        states_entered=len(entered),
        retries=retries,
        top_level_entered=top,
        iteration_entered=len(entered) - top,
    )


@dataclass(frozen=True)
class CostLine:
    service: str  # "Step Functions", "Lambda", "DynamoDB", "S3"
    item: str
    quantity: float
    unit: str
    unit_usd: float
    usd: float
    price_key: str


@dataclass(frozen=True)
class FunctionUsage:
    name: str
    memory_mb: int
    architecture: str
    invocations: float
    duration_ms_total: float

    def billed_gb_seconds(self) -> float:
        if self.invocations <= 0:
            return 0.0
        # Lambda rounds each invocation up to the next millisecond.
        per_call = math.ceil(self.duration_ms_total / self.invocations)
        return self.memory_mb / 1024 * per_call * self.invocations / 1000


@dataclass(frozen=True)
class Usage:
    """Everything billable about one run (or a run scaled to another page count)."""

    pages: float
    parent_transitions: float  # from the history
    child_executions: float  # distributed Map child workflow executions started
    child_duration_ms_total: float
    standard_child_transitions: float  # only for STANDARD children (ours are EXPRESS)
    functions: tuple[FunctionUsage, ...]
    ddb_write_units: float
    ddb_read_units: float
    s3_get: float
    s3_put: float


@dataclass(frozen=True)
class NaiveEstimate:
    state_transitions: float
    lambda_requests: float
    lambda_gb_seconds: float
    per_page_ms: float
    lines: tuple[CostLine, ...]
    compute_orchestration_usd: float
    total_usd: float


@dataclass(frozen=True)
class CostBreakdown:
    run_id: str | None
    mode: str
    measured_pages: int
    pages: float  # measured_pages, or the --pages target
    scale: float  # pages / measured_pages
    transitions: TransitionCount  # measured, from the history (not scaled)
    state_transitions: float  # parent history transitions (scaled when pages is scaled)
    billed_state_transitions: float  # + one per distributed child execution started
    usage: Usage
    lines: tuple[CostLine, ...]
    compute_orchestration_usd: float  # Step Functions + Lambda (the cost goal)
    total_usd: float  # + DynamoDB + S3 (data transfer excluded)
    naive: NaiveEstimate
    prices_as_of: str
    region: str
    notes: tuple[str, ...] = field(default=())
    durations: dm.DurationReport | None = None  # the load-independent duration model
    projection: dict[str, Any] | None = None  # --project: what the projection planned

    @property
    def ratio(self) -> float:
        """How many times cheaper than the naive design, on the total."""
        return self.naive.total_usd / self.total_usd if self.total_usd > 0 else math.inf

    @property
    def compute_ratio(self) -> float:
        if self.compute_orchestration_usd <= 0:
            return math.inf
        return self.naive.compute_orchestration_usd / self.compute_orchestration_usd

    def by_service(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.service] = totals.get(line.service, 0.0) + line.usd
        return totals

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "region": self.region,
            "prices_as_of": self.prices_as_of,
            "measured_pages": self.measured_pages,
            "pages": _whole(self.pages),
            "scale": self.scale,
            "state_transitions": _whole(self.state_transitions),
            "state_transitions_detail": {
                **asdict(self.transitions),
                "measured_total": self.transitions.total,
            },
            "billed_state_transitions": _whole(self.billed_state_transitions),
            "child_executions": _whole(self.usage.child_executions),
            "lines": [asdict(line) for line in self.lines],
            "by_service_usd": self.by_service(),
            "compute_orchestration_usd": self.compute_orchestration_usd,
            "total_usd": self.total_usd,
            "naive": {
                "state_transitions": self.naive.state_transitions,
                "lambda_requests": self.naive.lambda_requests,
                "lambda_gb_seconds": self.naive.lambda_gb_seconds,
                "per_page_ms": self.naive.per_page_ms,
                "lines": [asdict(line) for line in self.naive.lines],
                "compute_orchestration_usd": self.naive.compute_orchestration_usd,
                "total_usd": self.naive.total_usd,
            },
            "naive_total_usd": self.naive.total_usd,
            "ratio": _finite(self.ratio),
            "compute_ratio": _finite(self.compute_ratio),
            "notes": list(self.notes),
            "durations": None
            if self.durations is None
            else {
                "model": "billed ms = ceil(cpu ms x cpu_scale + network wait ms)",
                "functions": {f.name: f.to_json() for f in self.durations.functions},
                "measured": self.durations.measured,
                "assumed": self.durations.assumed,
            },
            "projection": self.projection,
        }


def _whole(value: float) -> float | int:
    """Counts print as integers when they are whole (scaled counts may not be)."""
    return int(value) if float(value).is_integer() else value


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------- reading a run


def _number(value: Any, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise CostError(f"meta.json {field_name}: expected a non-negative number, got {value!r}")
    return float(value)


def _functions(meta: Mapping[str, Any]) -> tuple[FunctionUsage, ...]:
    raw = meta.get("functions")
    if not isinstance(raw, Mapping) or not raw:
        raise CostError("meta.json functions: missing (memory, architecture, invocations)")
    usages = []
    for name, spec in raw.items():
        where = f"functions.{name}"
        if not isinstance(spec, Mapping):
            raise CostError(f"meta.json {where}: expected an object")
        arch = spec.get("architecture", "arm64")
        if arch not in ("arm64", "x86_64"):
            raise CostError(f"meta.json {where}.architecture: arm64 or x86_64, got {arch!r}")
        usages.append(
            FunctionUsage(
                name=str(name),
                memory_mb=int(_number(spec.get("memory_mb"), f"{where}.memory_mb")),
                architecture=arch,
                invocations=_number(spec.get("invocations", 0), f"{where}.invocations"),
                duration_ms_total=_number(
                    spec.get("duration_ms_total", 0), f"{where}.duration_ms_total"
                ),
            )
        )
    return tuple(usages)


def _page_count(run: RunFolder) -> int:
    if run.results:
        return len(run.results)
    output = run.history.output
    if isinstance(output, Mapping) and isinstance(output.get("total"), int):
        return int(output["total"])
    for visit in run.history.states:
        out = visit.output
        if isinstance(out, Mapping) and isinstance(out.get("run"), Mapping):
            count = out["run"].get("page_count")
            if isinstance(count, int):
                return count
    return 0


def _ddb_units_per_item(run: RunFolder) -> int:
    if not run.results:
        return 1
    sizes = [len(json.dumps(r, separators=(",", ":")).encode()) for r in run.results]
    average = sum(sizes) / len(sizes) + DDB_ITEM_OVERHEAD_BYTES
    return max(1, math.ceil(average / DDB_WRITE_UNIT_BYTES))


def _child_executions(run: RunFolder, notes: list[str]) -> tuple[float, float, float]:
    """(child executions, their total duration, their state transitions if STANDARD)."""
    distributed = run.meta.get("distributed")
    if isinstance(distributed, Mapping):
        count = _number(distributed.get("child_executions", 0), "distributed.child_executions")
        duration = _number(
            distributed.get("child_duration_ms_total", 0), "distributed.child_duration_ms_total"
        )
        if str(distributed.get("execution_type", "EXPRESS")).upper() == "STANDARD":
            raw = distributed.get("child_state_transitions")
            if raw is None:
                notes.append(
                    "STANDARD child executions with unknown state transitions: not counted"
                )
                return count, duration, 0.0
            transitions = _number(raw, "distributed.child_state_transitions")
            notes.append("STANDARD child executions: their state transitions are billed")
            return count, duration, transitions
        return count, duration, 0.0
    if run.history.mode == "distributed":
        notes.append(
            "distributed Map without meta.json 'distributed' stats: child executions"
            " counted as 0 (not in the parent history)"
        )
    return 0.0, 0.0, 0.0


def measure(run: RunFolder) -> tuple[Usage, TransitionCount, list[str]]:
    notes: list[str] = []
    transitions = count_state_transitions(run.history)
    functions = _functions(run.meta)
    pages = _page_count(run)
    children, child_ms, child_transitions = _child_executions(run, notes)
    store_writes = run.meta.get("store_writes")
    if store_writes is None:
        writes = float(pages + 1)
        notes.append(
            "meta.json store_writes missing: assumed one item per page plus the run record"
        )
    else:
        writes = _number(store_writes, "store_writes")
    # ListPages reads each page's previous state once; the store does not count reads.
    reads = float(pages)
    notes.append("DynamoDB reads: assumed one previous-state read per page")
    s3 = run.meta.get("s3_requests") or {}
    if not isinstance(s3, Mapping):
        raise CostError("meta.json s3_requests: expected {'get': int, 'put': int}")
    usage = Usage(
        pages=float(pages),
        parent_transitions=float(transitions.total),
        child_executions=children,
        child_duration_ms_total=child_ms,
        standard_child_transitions=child_transitions,
        functions=functions,
        ddb_write_units=writes * _ddb_units_per_item(run),
        ddb_read_units=reads * 0.5,
        s3_get=_number(s3.get("get", 0), "s3_requests.get"),
        s3_put=_number(s3.get("put", 0), "s3_requests.put"),
    )
    return usage, transitions, notes


def scale_usage(usage: Usage, transitions: TransitionCount, factor: float) -> Usage:
    """Scale a measured run linearly to factor x its pages.

    Fixed per run: the top-level state transitions and one invocation each of the per-run
    functions (ListPages, StoreAndNotify; their durations do grow with the pages). Everything
    else (iteration transitions, retries, child executions, batches, writes, S3 requests)
    grows with the pages.
    """
    per_run = {"ListPages", "StoreAndNotify"}
    functions = tuple(
        FunctionUsage(
            name=f.name,
            memory_mb=f.memory_mb,
            architecture=f.architecture,
            invocations=f.invocations if f.name in per_run else f.invocations * factor,
            duration_ms_total=f.duration_ms_total * factor,
        )
        for f in usage.functions
    )
    fixed = transitions.top_level_entered
    return Usage(
        pages=usage.pages * factor,
        parent_transitions=fixed + (usage.parent_transitions - fixed) * factor,
        child_executions=usage.child_executions * factor,
        child_duration_ms_total=usage.child_duration_ms_total * factor,
        standard_child_transitions=usage.standard_child_transitions * factor,
        functions=functions,
        ddb_write_units=usage.ddb_write_units * factor,
        ddb_read_units=usage.ddb_read_units * factor,
        s3_get=usage.s3_get * factor,
        s3_put=usage.s3_put * factor,
    )


# ---------------------------------------------------------------- pricing


def _line(prices: PriceList, service: str, item: str, quantity: float, price_key: str) -> CostLine:
    price = prices[price_key]
    return CostLine(
        service=service,
        item=item,
        quantity=quantity,
        unit=price.unit,
        unit_usd=price.usd,
        usd=quantity * price.usd,
        price_key=price_key,
    )


def _lambda_lines(prices: PriceList, functions: tuple[FunctionUsage, ...]) -> list[CostLine]:
    lines: list[CostLine] = []
    for f in functions:
        lines.append(_line(prices, "Lambda", f"{f.name} requests", f.invocations, "lambda_request"))
        lines.append(
            _line(
                prices,
                "Lambda",
                f"{f.name} GB-seconds ({f.memory_mb} MB {f.architecture})",
                f.billed_gb_seconds(),
                f"lambda_gb_second_{f.architecture}",
            )
        )
    return lines


def _dynamodb_lines(prices: PriceList, usage: Usage) -> list[CostLine]:
    return [
        _line(
            prices,
            "DynamoDB",
            "write request units",
            usage.ddb_write_units,
            "dynamodb_write_request_unit",
        ),
        _line(
            prices,
            "DynamoDB",
            "read request units",
            usage.ddb_read_units,
            "dynamodb_read_request_unit",
        ),
    ]


def price_usage(prices: PriceList, usage: Usage) -> list[CostLine]:
    lines = [
        _line(
            prices,
            "Step Functions",
            "Standard state transitions (parent execution)",
            usage.parent_transitions,
            "stepfunctions_standard_transition",
        )
    ]
    if usage.child_executions:
        lines.append(
            _line(
                prices,
                "Step Functions",
                "Standard transitions: Distributed Map child executions started",
                usage.child_executions,
                "stepfunctions_standard_transition",
            )
        )
    if usage.standard_child_transitions:
        lines.append(
            _line(
                prices,
                "Step Functions",
                "Standard transitions inside STANDARD child executions",
                usage.standard_child_transitions,
                "stepfunctions_standard_transition",
            )
        )
    elif usage.child_executions:
        lines.append(
            _line(
                prices,
                "Step Functions",
                "Express requests (child executions)",
                usage.child_executions,
                "stepfunctions_express_request",
            )
        )
        average_ms = usage.child_duration_ms_total / usage.child_executions
        billed_ms = math.ceil(average_ms / EXPRESS_DURATION_STEP_MS) * EXPRESS_DURATION_STEP_MS
        gb_seconds = usage.child_executions * billed_ms / 1000 * EXPRESS_MEMORY_CHUNK_MB / 1024
        lines.append(
            _line(
                prices,
                "Step Functions",
                f"Express duration ({EXPRESS_MEMORY_CHUNK_MB} MB, {billed_ms} ms per child)",
                gb_seconds,
                "stepfunctions_express_gb_second",
            )
        )
    lines.extend(_lambda_lines(prices, usage.functions))
    lines.extend(_dynamodb_lines(prices, usage))
    lines.append(_line(prices, "S3", "PUT/LIST requests", usage.s3_put, "s3_put_request"))
    lines.append(_line(prices, "S3", "GET requests", usage.s3_get, "s3_get_request"))
    return lines


def _per_page_ms(run: RunFolder, usage: Usage) -> float:
    """How long one page's own Lambda would run: the page's fetch time, or the batch share.

    The larger of the two: a one-page function waits for its page, and at least does the
    per-page work the batched function did.
    """
    crawl = next((f for f in usage.functions if f.name == PER_PAGE_FUNCTION), None)
    share = crawl.duration_ms_total / usage.pages if crawl and usage.pages else 0.0
    elapsed = [r.get("elapsed_ms") for r in run.results]
    fetch = [float(v) for v in elapsed if isinstance(v, int | float) and not isinstance(v, bool)]
    fetch_mean = sum(fetch) / len(fetch) if fetch else 0.0
    return max(share, fetch_mean, 1.0)


def naive_estimate(
    prices: PriceList,
    run: RunFolder,
    usage: Usage,
    transitions: TransitionCount,
    measured_pages: int,
    factor: float,
    per_page_ms: float | None = None,
) -> NaiveEstimate:
    pages = measured_pages * factor
    retries = sum(max(int(r.get("attempts") or 1) - 1, 0) for r in run.results) * factor
    failed = sum(1 for r in run.results if r.get("outcome") == "failed") * factor
    attempts = pages + retries
    # The same top-level states (ListPages, ChooseMode, the Map, StoreAndNotify, ...).
    state_transitions = transitions.top_level_entered + pages + retries + failed
    if per_page_ms is None:
        per_page_ms = _per_page_ms(run, usage)
    crawl = next((f for f in usage.functions if f.name == PER_PAGE_FUNCTION), None)
    memory = crawl.memory_mb if crawl else 1024
    arch = crawl.architecture if crawl else "arm64"
    page_function = FunctionUsage(
        name="CrawlPage (one per page)",
        memory_mb=memory,
        architecture=arch,
        invocations=attempts,
        duration_ms_total=math.ceil(per_page_ms) * attempts,
    )
    others = tuple(f for f in usage.functions if f.name != PER_PAGE_FUNCTION)
    lines = [
        _line(
            prices,
            "Step Functions",
            "Standard state transitions (one Task per page, inline Map)",
            state_transitions,
            "stepfunctions_standard_transition",
        ),
        *_lambda_lines(prices, (*others, page_function)),
        *_dynamodb_lines(prices, usage),
    ]
    compute = sum(line.usd for line in lines if line.service in ("Step Functions", "Lambda"))
    return NaiveEstimate(
        state_transitions=state_transitions,
        lambda_requests=sum(f.invocations for f in (*others, page_function)),
        lambda_gb_seconds=sum(f.billed_gb_seconds() for f in (*others, page_function)),
        per_page_ms=per_page_ms,
        lines=tuple(lines),
        compute_orchestration_usd=compute,
        total_usd=sum(line.usd for line in lines),
    )


def _has_cpu(meta: Mapping[str, Any]) -> bool:
    functions = meta.get("functions")
    return isinstance(functions, Mapping) and any(
        isinstance(spec, Mapping) and spec.get("cpu_ms_total") is not None
        for spec in functions.values()
    )


def model_durations(
    run: RunFolder, usage: Usage, mode: str, page_wait_ms: float | None, notes: list[str]
) -> tuple[Usage, dm.DurationReport | None]:
    """The usage with each function's duration from the load-independent model (duration.py),
    when the run measured CPU time; else as recorded (wall clock), with a note."""
    if not _has_cpu(run.meta):
        notes.append(
            "meta.json has no cpu_ms_total (recorded before CPU was measured, or on AWS):"
            " Lambda priced from the recorded durations"
        )
        return usage, None
    report = dm.model_run_durations(
        run,
        {f.name: f.memory_mb for f in usage.functions},
        {f.name: f.invocations for f in usage.functions},
        mode,
        page_wait_ms=page_wait_ms,
    )
    billed = {d.name: d.billed_ms_total for d in report.functions}
    functions = tuple(
        replace(f, duration_ms_total=billed.get(f.name, f.duration_ms_total))
        for f in usage.functions
    )
    if report.measured.get("batches_from") == "planner":
        notes.append(
            "CrawlBatch's batches are not in the run folder (distributed): ListPages' planner"
            " was run again on the run's pages with the default per-host limits"
        )
    return replace(usage, functions=functions), report


def _naive_page_ms(usage: Usage, report: dm.DurationReport | None) -> float | None:
    """One page per invocation under the same model: its CPU share and its own wait."""
    if report is None or not usage.pages:
        return None
    crawl = next((d for d in report.functions if d.name == dm.CRAWL_FUNCTION), None)
    if crawl is None or crawl.cpu_ms_total is None:
        return None
    wait = report.assumed.get("page_wait_ms")
    if not isinstance(wait, int | float):
        wait = report.measured.get("page_wait_ms_mean", 0.0)
    return max(1.0, crawl.cpu_ms_total * crawl.cpu_scale / usage.pages + float(wait))


def estimate_run(
    run: RunFolder,
    *,
    pages: int | None = None,
    naive_page_ms: float | None = None,
    page_wait_ms: float | None = None,
) -> CostBreakdown:
    """Price a loaded run; `pages` scales it, `naive_page_ms` sets the naive design's
    per-page Lambda time (default: under the duration model, or the larger of the batch share
    and the mean fetch time), `page_wait_ms` assumes each page's network wait (default: its
    measured elapsed_ms)."""
    if not run.meta:
        raise CostError(
            f"{run.path}: meta.json missing: the cost needs the functions' memory and durations"
        )
    if page_wait_ms is not None and not (math.isfinite(page_wait_ms) and page_wait_ms >= 0):
        raise CostError(f"--page-wait-ms: must be a number >= 0, got {page_wait_ms}")
    prices = load_prices()
    measured, transitions, notes = measure(run)
    mode = str(run.meta.get("mode") or run.history.mode)
    measured, durations = model_durations(run, measured, mode, page_wait_ms, notes)
    if naive_page_ms is None:
        naive_page_ms = _naive_page_ms(measured, durations)
    measured_pages = int(measured.pages)
    if pages is not None:
        if pages <= 0:
            raise CostError(f"--pages: must be a positive number of pages, got {pages}")
        if measured_pages == 0:
            raise CostError("--pages: the run has no pages to scale from")
    factor = (pages / measured_pages) if pages is not None else 1.0
    usage = scale_usage(measured, transitions, factor) if factor != 1.0 else measured
    if pages is not None and mode == "inline" and pages > measured_pages:
        notes.append(
            "scaled from an inline run: at this size ListPages would take the distributed path"
        )
    lines = price_usage(prices, usage)
    compute = sum(line.usd for line in lines if line.service in ("Step Functions", "Lambda"))
    naive = naive_estimate(
        prices, run, usage, transitions, measured_pages, factor, per_page_ms=naive_page_ms
    )
    return CostBreakdown(
        run_id=run.history.name,
        mode=mode,
        measured_pages=measured_pages,
        pages=usage.pages,
        scale=factor,
        transitions=transitions,
        state_transitions=usage.parent_transitions,
        billed_state_transitions=(
            usage.parent_transitions + usage.child_executions + usage.standard_child_transitions
        ),
        usage=usage,
        lines=tuple(lines),
        compute_orchestration_usd=compute,
        total_usd=sum(line.usd for line in lines),
        naive=naive,
        prices_as_of=prices.as_of,
        region=prices.region,
        notes=tuple(notes),
        durations=durations,
    )


def estimate_cost(run_dir: Path | RunFolder, *, pages: int | None = None) -> CostBreakdown:
    """Estimate the AWS cost of a recorded run folder (history.json + meta.json [+ results])."""
    run = run_dir if isinstance(run_dir, RunFolder) else load_run(Path(run_dir))
    return estimate_run(run, pages=pages)


# ---------------------------------------------------------------- text rendering


def _usd(value: float) -> str:
    if value == 0:
        return "$0"
    if value < 0.0001:
        return f"${value:.8f}"
    return f"${value:.6f}" if value < 1 else f"${value:,.4f}"


def _qty(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or value >= 100 else f"{value:,.3f}"


def _duration_lines(b: CostBreakdown) -> list[str]:
    """What was measured and what assumed (the duration model, duration.py)."""
    report = b.durations
    if report is None:
        return ["Lambda durations: as recorded (wall clock; no CPU time in meta.json)"]
    a, m = report.assumed, report.measured
    out = []
    if b.projection is not None:
        p = b.projection
        out.append(
            f"Projected: {p['pages']:,} pages on {p['hosts']:,} hosts, {p['page_wait_ms']:g} ms"
            f" network wait per page (assumed), {p['mode']} path: ListPages' planner makes"
            f" {p['lanes']:,} lanes, {p['batches']:,} batches"
            + (f", {p['child_executions']:,} child executions" if p["child_executions"] else "")
        )
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in m["cpu_ms_per_page"].items())
        out.append(
            f"Measured in run {m['from_run']} ({m['measured_pages']:,} pages):"
            f" CPU ms per page {cpu}"
        )
    else:
        wait = a["page_wait_ms"]
        wait_text = (
            f"measured, each host's lowest elapsed_ms: {m['page_wait_ms_mean']:.1f} ms per page"
            f" on average over {m['pages_fetched']:,} fetched pages (mean elapsed_ms"
            f" {m['elapsed_ms_mean']:.1f} ms, which this machine's load inflates)"
            if not isinstance(wait, int | float)
            else f"{wait:g} ms per page (assumed)"
        )
        out.append(
            f"Network wait: {wait_text}; batches: {m['batches']:,} from the {m['batches_from']}"
        )
    out.append(
        "Lambda billed ms = ceil(CPU ms x max(1, "
        f"{a['lambda_mb_per_vcpu']:,} MB / memory) x {a['arm64_cpu_factor']:g} (arm64 factor,"
        " assumed) + network wait); waits of a batch's hosts overlap, a host's pages share its"
        " slots; CPU and wait added"
    )
    out.append(
        f"  {'Function':<16}{'calls':>9}{'CPU ms':>14}{'x scale':>9}{'wait ms':>14}"
        f"{'billed ms':>14}{'wall ms':>14}"
    )
    for f in report.functions:
        cpu = "-" if f.cpu_ms_total is None else f"{f.cpu_ms_total:,.0f}"
        wall = f"{f.wall_ms_total:,.0f}" if f.wall_ms_total else "-"
        out.append(
            f"  {f.name:<16}{f.invocations:>9,.0f}{cpu:>14}{f.cpu_scale:>9.2f}"
            f"{f.wait_ms_total:>14,.0f}{f.billed_ms_total:>14,.0f}{wall:>14}"
        )
    return out


def format_cost(breakdown: CostBreakdown) -> str:
    b = breakdown
    scaled = f" (scaled x{b.scale:,.2f} from {b.measured_pages:,} measured)" if b.scale != 1 else ""
    if b.projection is not None:
        scaled = f" (projected; CPU per page from the {b.measured_pages:,} measured)"
    out = [
        f"Cost estimate for run {b.run_id or '?'} ({b.mode}), {b.pages:,.0f} pages{scaled}",
        f"Prices: {b.region} list prices as of {b.prices_as_of} (crawlmap/cost/prices.json);"
        " data transfer and free tiers excluded",
        "",
        f"State transitions in the history: {b.transitions.total:,}"
        f" = {b.transitions.states_entered:,} states entered"
        f" ({b.transitions.top_level_entered} top level,"
        f" {b.transitions.iteration_entered:,} in Map iterations)"
        f" + {b.transitions.retries:,} retries",
    ]
    out.extend(_duration_lines(b))
    if b.usage.child_executions:
        out.append(
            f"Billed Standard transitions: {b.billed_state_transitions:,.0f}"
            f" (+ {b.usage.child_executions:,.0f} Distributed Map child executions started)"
        )
    out.append("")
    out.append(f"  {'Service':<15}{'Item':<58}{'Quantity':>16}{'USD':>14}")
    for line in b.lines:
        out.append(
            f"  {line.service:<15}{line.item:<58}{_qty(line.quantity):>16}{_usd(line.usd):>14}"
        )
    out.append("")
    for service, usd in b.by_service().items():
        out.append(f"  {service:<15}{_usd(usd):>14}")
    out.append(
        f"  {'Compute + orchestration (Step Functions + Lambda)':<52}"
        f"{_usd(b.compute_orchestration_usd):>14}"
    )
    out.append(f"  {'Total':<52}{_usd(b.total_usd):>14}")
    out.append("")
    out.append(
        f"Naive design (one Lambda per page in a Standard inline Map, {b.naive.per_page_ms:,.0f} ms"
        f" per page): {b.naive.state_transitions:,.0f} transitions,"
        f" {b.naive.lambda_requests:,.0f} Lambda requests"
    )
    out.append(
        f"  compute + orchestration {_usd(b.naive.compute_orchestration_usd)}"
        f"   total {_usd(b.naive.total_usd)}"
    )
    ratio = f"{b.ratio:,.1f}x" if math.isfinite(b.ratio) else "n/a"
    compute_ratio = f"{b.compute_ratio:,.1f}x" if math.isfinite(b.compute_ratio) else "n/a"
    out.append(
        f"  this design is {ratio} cheaper in total, {compute_ratio} on compute + orchestration"
    )
    for note in b.notes:
        out.append(f"Note: {note}")
    return "\n".join(out)


def format_scaling(run: RunFolder, targets: list[int]) -> str:
    """A table of the estimate scaled to several page counts."""
    rows = [
        f"  {'pages':>10} {'transitions':>12} {'children':>9} {'compute+orch':>13}"
        f" {'total':>11} {'naive total':>12} {'ratio':>8}"
    ]
    for target in targets:
        b = estimate_run(run, pages=target)
        rows.append(
            f"  {target:>10,} {b.billed_state_transitions:>12,.0f}"
            f" {b.usage.child_executions:>9,.0f}"
            f" {_usd(b.compute_orchestration_usd):>13} {_usd(b.total_usd):>11}"
            f" {_usd(b.naive.total_usd):>12} {b.ratio:>7,.1f}x"
        )
    return "\n".join(rows)


__all__ = [
    "CostBreakdown",
    "CostError",
    "CostLine",
    "HistoryError",
    "TransitionCount",
    "count_state_transitions",
    "estimate_cost",
    "estimate_run",
    "format_cost",
    "format_scaling",
    "load_prices",
]


# ---------------------------------------------------------------- projection


def project_run(
    run: RunFolder,
    *,
    pages: int,
    hosts: int,
    page_wait_ms: float = dm.PROJECTED_PAGE_WAIT_MS,
    per_host_concurrency: int | None = None,
) -> CostBreakdown:
    """`pages` pages spread over `hosts` hosts, each waiting `page_wait_ms` on the network,
    priced from the design: ListPages' planner lays them out (lanes, batches, per-host
    limits) with the default settings, the state machine's shape gives the transitions
    (duration.py: TOP_LEVEL_STATES, CHILD_FIXED_STATES), the run gives the CPU per page of
    each function and the DynamoDB/S3 requests per page."""
    if pages <= 0:
        raise CostError(f"--project: must be a positive number of pages, got {pages}")
    if hosts <= 0 or hosts > pages:
        raise CostError(f"--hosts: must be between 1 and the projected pages, got {hosts}")
    if not (math.isfinite(page_wait_ms) and page_wait_ms >= 0):
        raise CostError(f"--page-wait-ms: must be a number >= 0, got {page_wait_ms}")
    if not run.meta:
        raise CostError(f"{run.path}: meta.json missing: the projection needs its CPU per page")
    if not _has_cpu(run.meta):
        raise CostError(
            "meta.json functions.*.cpu_ms_total: missing; the projection needs a run recorded"
            " with CPU time (any local run of this version)"
        )
    prices = load_prices()
    measured, transitions, notes = measure(run)
    measured_pages = int(measured.pages)
    if measured_pages == 0:
        raise CostError("--project: the run has no pages to take CPU per page from")
    distributed = pages >= int(tunables_default("distributed_threshold"))
    mode = "distributed" if distributed else "inline"
    settings = dm.PlanSettings.defaults(mode)
    if per_host_concurrency is not None:
        settings = replace(settings, per_host_concurrency=per_host_concurrency)
    urls = dm.projected_urls(pages, hosts)
    layout = dm.layout_of(dm.plan(urls, settings), {}, page_wait_ms, "planner")
    batches = len(layout.batches)
    raw = run.meta["functions"]
    per_page_cpu = {
        f.name: float(raw.get(f.name, {}).get("cpu_ms_total") or 0.0) / measured_pages
        for f in measured.functions
    }
    functions = []
    for f in measured.functions:
        scale = dm.cpu_scale(f.memory_mb)
        if f.name == dm.CRAWL_FUNCTION:
            billed: float = sum(
                math.ceil(per_page_cpu[f.name] * b.pages * scale + b.wait_ms())
                for b in layout.batches
            )
            calls = float(batches)
        else:  # once per run; their work grows with the pages
            billed = per_page_cpu[f.name] * pages * scale
            calls = f.invocations
        functions.append(replace(f, invocations=calls, duration_ms_total=float(billed)))
    factor = pages / measured_pages
    if distributed:
        parent = float(dm.TOP_LEVEL_STATES)
        children, child_transitions = (
            float(layout.lanes),
            float(dm.CHILD_FIXED_STATES * layout.lanes + batches),
        )
    else:
        parent = float(dm.TOP_LEVEL_STATES + dm.INLINE_LANE_STATES * layout.lanes + batches)
        children, child_transitions = 0.0, 0.0
    usage = Usage(
        pages=float(pages),
        parent_transitions=parent,
        child_executions=children,
        child_duration_ms_total=0.0,
        standard_child_transitions=child_transitions,
        functions=tuple(functions),
        ddb_write_units=measured.ddb_write_units * factor,
        ddb_read_units=measured.ddb_read_units * factor,
        s3_get=measured.s3_get * factor,
        s3_put=measured.s3_put * factor,
    )
    lines = price_usage(prices, usage)
    compute = sum(line.usd for line in lines if line.service in ("Step Functions", "Lambda"))
    crawl_cpu = per_page_cpu.get(dm.CRAWL_FUNCTION, 0.0)
    crawl_memory = next(
        (f.memory_mb for f in measured.functions if f.name == dm.CRAWL_FUNCTION), 1024
    )
    naive = naive_estimate(
        prices,
        run,
        usage,
        transitions,
        measured_pages,
        factor,
        per_page_ms=max(1.0, crawl_cpu * dm.cpu_scale(crawl_memory) + page_wait_ms),
    )
    report = dm.DurationReport(
        functions=tuple(
            dm.FunctionDuration(
                f.name,
                f.memory_mb,
                f.invocations,
                per_page_cpu[f.name] * pages,
                0.0,
                dm.cpu_scale(f.memory_mb),
                layout.wait_ms_total() if f.name == dm.CRAWL_FUNCTION else 0.0,
                f.duration_ms_total,
            )
            for f in functions
        ),
        measured={
            "from_run": run.history.name,
            "measured_pages": measured_pages,
            "cpu_ms_per_page": per_page_cpu,
        },
        assumed={
            "pages": pages,
            "hosts": hosts,
            "page_wait_ms": page_wait_ms,
            "lambda_mb_per_vcpu": dm.LAMBDA_MB_PER_VCPU,
            "arm64_cpu_factor": dm.ARM64_CPU_FACTOR,
            "plan_settings": asdict(settings),
            "retries": 0,
            "cpu_and_wait": "added, not overlapped",
        },
    )
    notes = [n for n in notes if not n.startswith("DynamoDB reads")]
    notes.append("DynamoDB and S3 requests scaled per page from the measured run")
    return CostBreakdown(
        run_id=run.history.name,
        mode=mode,
        measured_pages=measured_pages,
        pages=float(pages),
        scale=factor,
        transitions=transitions,
        state_transitions=parent,
        billed_state_transitions=parent + children + child_transitions,
        usage=usage,
        lines=tuple(lines),
        compute_orchestration_usd=compute,
        total_usd=sum(line.usd for line in lines),
        naive=naive,
        prices_as_of=prices.as_of,
        region=prices.region,
        notes=tuple(notes),
        durations=report,
        projection={
            "pages": pages,
            "hosts": hosts,
            "page_wait_ms": page_wait_ms,
            "mode": mode,
            "lanes": layout.lanes,
            "batches": batches,
            "child_executions": int(children),
        },
    )


def tunables_default(key: str) -> Any:
    from lambdas.common import tunables

    return tunables.default(key)
