"""Lanes: how ListPages makes per-host limits hold for a whole run without a lock service.

A *lane* is a sequence of batches that run strictly one after another (the state machine's
CrawlLane Map has MaxConcurrency 1); lanes run in parallel, at most `max_lanes` at once (the
outer Map's MaxConcurrency), so there are never more lanes than that.

Per host (host_keys.host_key):
- lanes_h = min(per_host_concurrency, the host's batch count), and exactly 1 when the host has
  a delay (per_host_delay or its robots.txt Crawl-delay), so that its spacing is exact;
- its pages are split into lanes_h *streams*, each placed in a different lane;
- in each of those lanes the host gets HostLimit(concurrency=per_host_concurrency // lanes_h,
  delay_s=delay * lanes_h).
At any moment a host then has at most lanes_h batches in flight, each holding it to its
per-lane share: at most per_host_concurrency requests in flight and, on average, starts spaced
by its delay, however many lanes run at once.

Several hosts' streams share a lane when they fit (packing): a batch then keeps many requests
in flight for one Lambda invocation and one state transition, which is what makes a crawl of
many hosts cheap. A lane takes streams up to a *width* (the requests its batches keep in
flight) of batch_size // ROUNDS_PER_BATCH, and only while its estimated duration stays within
the longest stream's, so packing never makes the run slower than its slowest host.
Inside a lane, pages are ordered by the earliest time each could start (its stream's rate),
then cut into batches: each batch gives each of its hosts work in proportion to its limit.

Everything here is pure: no I/O, no clock. docs/CONTRACT.md, "Lanes", explains the why.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from lambdas.common.host_keys import host_key
from lambdas.common.models import Batch, HostLimit, Lane, PageTask

T = TypeVar("T")

# Step Functions' States.ArrayRange makes at most 1,000 items: the distributed path's lane is a
# Map over its batch indexes, so a lane has at most this many batches (its batches grow instead).
MAX_BATCHES_PER_LANE = 1000
MAX_BATCH_PAGES = 1000  # what CrawlBatch accepts in one event (crawl_batch.core)
# A batch should hold a few rounds of requests per slot: the batch ends with its slowest page,
# so one round per batch would make every batch wait for its slowest of many hosts.
ROUNDS_PER_BATCH = 2
# Only the ratio between hosts matters: a nominal page time to weigh concurrency against delay.
NOMINAL_PAGE_S = 0.2


@dataclass(frozen=True)
class LaneSettings:
    """What the plan depends on: the batch size of the chosen path and the per-host limits."""

    batch_size: int  # pages per batch (batch_size or distributed_batch_size)
    per_host_concurrency: int  # requests in flight to one host, for the whole run
    per_host_delay: float  # seconds between request starts to one host (0: none)
    max_lanes: int  # the outer Map's MaxConcurrency

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.per_host_concurrency < 1 or self.max_lanes < 1:
            raise ValueError("batch_size, per_host_concurrency and max_lanes must be >= 1")
        if self.per_host_delay < 0:
            raise ValueError("per_host_delay must be >= 0")


@dataclass(frozen=True)
class Stream:
    """One host's share of its pages that one lane crawls, with the host's per-lane limit."""

    host: str
    index: int  # 0 .. lanes_h - 1 within the host
    pages: tuple[PageTask, ...]
    limit: HostLimit

    @property
    def page_period_s(self) -> float:
        """Average time between this stream's page starts: by concurrency or by delay."""
        return max(NOMINAL_PAGE_S / self.limit["concurrency"], self.limit["delay_s"])

    @property
    def duration_s(self) -> float:
        return len(self.pages) * self.page_period_s

    @property
    def width(self) -> int:
        """Requests in flight it keeps busy at most."""
        return min(self.limit["concurrency"], len(self.pages))

    def start_time(self, position: int) -> float:
        """The earliest a page can start relative to the stream's first (for ordering only)."""
        rounds = position // self.limit["concurrency"]
        return max(rounds * NOMINAL_PAGE_S, position * self.limit["delay_s"])


@dataclass
class _LaneDraft:
    number: int
    streams: list[Stream] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)
    pages: int = 0
    width: int = 0
    longest_s: float = 0.0

    def add(self, stream: Stream) -> None:
        self.streams.append(stream)
        self.hosts.add(stream.host)
        self.pages += len(stream.pages)
        self.width += stream.width
        self.longest_s = max(self.longest_s, stream.duration_s)

    def estimate_s(self, batch_size: int) -> float:
        """Its longest stream's duration, or one nominal page time per batch if that is more."""
        return max(self.longest_s, math.ceil(self.pages / batch_size) * NOMINAL_PAGE_S)

    def estimate_with(self, stream: Stream, batch_size: int) -> float:
        batches = math.ceil((self.pages + len(stream.pages)) / batch_size)
        return max(self.longest_s, stream.duration_s, batches * NOMINAL_PAGE_S)

    def may_take_more(self, max_width: int, target_s: float, batch_size: int) -> bool:
        """False once even a one-page stream would overflow its width or its duration target."""
        batches = math.ceil((self.pages + 1) / batch_size)
        return self.width < max_width and batches * NOMINAL_PAGE_S <= target_s


def host_delay(pages: Sequence[PageTask], per_host_delay: float) -> float:
    """The spacing one host needs: per_host_delay or its robots.txt Crawl-delay (already capped)."""
    delays = [per_host_delay]
    for page in pages:
        robots = page.get("robots")
        if robots is not None and robots.get("crawl_delay") is not None:
            delays.append(float(robots["crawl_delay"] or 0.0))
    return max(delays)


def lane_count_for_host(page_count: int, delay: float, settings: LaneSettings) -> int:
    if delay > 0:
        return 1
    batches = math.ceil(page_count / settings.batch_size)
    return max(1, min(settings.per_host_concurrency, batches, settings.max_lanes))


def group_by_host(tasks: Sequence[PageTask]) -> dict[str, list[PageTask]]:
    """Each host's pages, hosts and pages in first-seen order."""
    hosts: dict[str, list[PageTask]] = {}
    for task in tasks:
        hosts.setdefault(host_key(task["url"]), []).append(task)
    return hosts


def _split_evenly(items: Sequence[T], parts: int) -> Iterator[Sequence[T]]:
    size, extra = divmod(len(items), parts)
    start = 0
    for part in range(parts):
        end = start + size + (1 if part < extra else 0)
        yield items[start:end]
        start = end


def host_streams(tasks: Sequence[PageTask], settings: LaneSettings) -> list[Stream]:
    """Every host's streams with their per-lane limits."""
    streams: list[Stream] = []
    for host, pages in group_by_host(tasks).items():
        delay = host_delay(pages, settings.per_host_delay)
        lanes = lane_count_for_host(len(pages), delay, settings)
        limit = HostLimit(concurrency=settings.per_host_concurrency // lanes, delay_s=delay * lanes)
        # whole batches to each lane (the partial one last), so batch_size holds per host
        chunks = [
            pages[i : i + settings.batch_size] for i in range(0, len(pages), settings.batch_size)
        ]
        for index, part in enumerate(_split_evenly(chunks, lanes)):
            streams.append(
                Stream(host=host, index=index, pages=tuple(p for c in part for p in c), limit=limit)
            )
    return streams


def pack_streams(streams: Sequence[Stream], settings: LaneSettings) -> list[list[Stream]]:
    """Streams into at most max_lanes lanes; a host's streams always in different lanes.

    Longest streams first. A stream joins the first lane that does not hold its host yet and
    stays within the width and the duration target; else it opens a lane while there may be
    more; else it joins the least loaded lane that does not hold its host.
    """
    size = settings.batch_size
    target_s = max((s.duration_s for s in streams), default=0.0)
    max_width = max(1, size // ROUNDS_PER_BATCH)
    order = sorted(range(len(streams)), key=lambda i: -streams[i].duration_s)  # stable
    lanes: list[_LaneDraft] = []
    accepting: list[_LaneDraft] = []  # lanes that may still take a stream, in opening order
    loads = _Loads()
    for position in order:
        stream = streams[position]
        chosen = next(
            (
                lane
                for lane in accepting
                if stream.host not in lane.hosts
                and lane.width + stream.width <= max_width
                and lane.estimate_with(stream, size) <= target_s
            ),
            None,
        )
        if chosen is None and len(lanes) < settings.max_lanes:
            chosen = _LaneDraft(number=len(lanes))
            lanes.append(chosen)
            accepting.append(chosen)
        if chosen is None:
            # lanes_h <= max_lanes, so some lane does not hold this host yet
            chosen = loads.least_loaded_without(stream.host, lanes)
        chosen.add(stream)
        loads.update(chosen, size)
        if chosen in accepting and not chosen.may_take_more(max_width, target_s, size):
            accepting.remove(chosen)
    return [lane.streams for lane in lanes]


class _Loads:
    """The lanes by estimated duration (a heap with lazily dropped stale entries)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int]] = []  # (estimate, lane number, version)
        self._versions: dict[int, int] = {}

    def update(self, lane: _LaneDraft, batch_size: int) -> None:
        version = self._versions.get(lane.number, 0) + 1
        self._versions[lane.number] = version
        heapq.heappush(self._heap, (lane.estimate_s(batch_size), lane.number, version))

    def least_loaded_without(self, host: str, lanes: Sequence[_LaneDraft]) -> _LaneDraft:
        skipped: list[tuple[float, int, int]] = []
        try:
            while True:
                entry = heapq.heappop(self._heap)
                _, number, version = entry
                if version != self._versions[number]:
                    continue  # stale
                if host not in lanes[number].hosts:
                    heapq.heappush(self._heap, entry)
                    return lanes[number]
                skipped.append(entry)
        finally:
            for entry in skipped:
                heapq.heappush(self._heap, entry)


def lane_order(streams: Sequence[Stream]) -> list[tuple[Stream, PageTask]]:
    """A lane's pages by the earliest each could start, so every batch mixes its hosts fairly."""
    # equal start times: round-robin over the streams, so a batch spreads over its hosts
    keyed = [
        ((stream.start_time(position), position, number), stream, page)
        for number, stream in enumerate(streams)
        for position, page in enumerate(stream.pages)
    ]
    keyed.sort(key=lambda item: item[0])
    return [(stream, page) for _, stream, page in keyed]


def lane_batch_size(page_count: int, batch_size: int) -> int:
    """batch_size, grown (up to MAX_BATCH_PAGES) when the lane would exceed its batch cap."""
    if math.ceil(page_count / batch_size) <= MAX_BATCHES_PER_LANE:
        return batch_size
    return min(MAX_BATCH_PAGES, math.ceil(page_count / MAX_BATCHES_PER_LANE))


def plan_lanes(tasks: Sequence[PageTask], settings: LaneSettings) -> list[Lane]:
    """The run's lanes, each a list of batches; batch ids are unique across the run."""
    lanes: list[Lane] = []
    next_batch_id = 0
    for lane_id, streams in enumerate(pack_streams(host_streams(tasks, settings), settings)):
        ordered = lane_order(streams)
        size = lane_batch_size(len(ordered), settings.batch_size)
        batches: list[Batch] = []
        for start in range(0, len(ordered), size):
            chunk = ordered[start : start + size]
            hosts: dict[str, HostLimit] = {}
            for stream, _ in chunk:
                hosts.setdefault(stream.host, HostLimit(**stream.limit))
            batches.append(
                Batch(
                    batch_id=next_batch_id,
                    pages=[page for _, page in chunk],
                    lane_id=lane_id,
                    hosts=hosts,
                )
            )
            next_batch_id += 1
        lanes.append(Lane(lane_id=lane_id, batches=batches))
    return lanes


def batch_count(lanes: Sequence[Lane]) -> int:
    return sum(len(lane["batches"]) for lane in lanes)
