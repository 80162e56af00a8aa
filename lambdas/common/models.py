"""The data that travels between the states. docs/CONTRACT.md explains each shape.

Everything here is JSON: TypedDicts, no bodies, so that a state's input and output stay
far under Step Functions' 256 KiB limit (about 0.5 KiB per page result).
"""

from typing import Literal, NotRequired, TypedDict

# How long the free-text fields of a result may be (every writer of an error uses these).
MAX_ERROR_CHARS = 500
MAX_URL_CHARS = 2083  # the longest URL browsers accept, and the longest a page may have here
TRUNCATION_MARKER = "…[cut]"


def truncated(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start with TRUNCATION_MARKER appended
    (the result is exactly `limit` characters long, so a reader can tell it was cut)."""
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(TRUNCATION_MARKER))
    return text[:keep] + TRUNCATION_MARKER[: limit - keep]


Outcome = Literal["new", "changed", "unchanged", "failed", "skipped"]
# What a fetched body is: decides which fields apply (only html and xhtml have a title, ...).
PageKind = Literal["html", "xhtml", "pdf", "image", "other"]
Mode = Literal["inline", "distributed"]


class PreviousState(TypedDict):
    """What the store remembers of a page's last successful fetch."""

    etag: str | None
    last_modified: str | None
    content_hash: str | None
    # Per-field fingerprints of the last seen version (CrawlBatch compares them to name
    # changed_fields); absent when the store has none (pages stored before v0.2).
    fingerprints: NotRequired[dict[str, str]]


class RobotsVerdict(TypedDict):
    """What ListPages read in the page's robots.txt (once per origin per run)."""

    allowed: bool
    reason: str | None  # why not, e.g. "robots.txt disallows"
    crawl_delay: float | None  # seconds, already capped by max_crawl_delay


class PageTask(TypedDict):
    url: str  # canonical URL: the page's identity everywhere
    previous: PreviousState | None  # None: never fetched successfully before -> "new"
    # Absent when robots.txt is not obeyed, or ListPages could not read it: CrawlBatch reads it.
    robots: NotRequired[RobotsVerdict]


class HostLimit(TypedDict):
    """One host's share of its per-run limits inside one lane (docs/CONTRACT.md, "Lanes").

    A host's pages are spread over at most `per_host_concurrency` lanes; lanes x concurrency
    <= per_host_concurrency, and delay_s = the host's spacing x its lane count, so the limits
    hold for the whole run however many lanes run at once.
    """

    concurrency: int  # requests in flight to this host from this batch (= from this lane)
    delay_s: float  # spacing between request starts to this host within this lane


class Batch(TypedDict):
    batch_id: int  # unique in the run
    pages: list[PageTask]
    lane_id: NotRequired[int]
    hosts: NotRequired[dict[str, HostLimit]]  # host key (scheme://host:port) -> its limit here


class Lane(TypedDict):
    """Inline path: batches run one after another (CrawlLane, MaxConcurrency 1)."""

    lane_id: int
    batches: list[Batch]


class LaneRef(TypedDict):
    """Distributed path: one item of lanes.json, one child execution.

    Batch i of the lane is the S3 object f"{batches_prefix}{i}.json" (a Batch); CrawlBatch
    writes its BatchResult to f"{results_prefix}{lane_id}/{i}.json".
    """

    lane_id: int
    batch_count: int
    batches_prefix: str


class HostNote(TypedDict):
    """A per-run note on one host, shared by every lane: no request starts before not_before."""

    not_before: float  # epoch seconds
    reason: str  # e.g. "HTTP 429, Retry-After 3600 s"


class S3Location(TypedDict):
    bucket: str
    key: str


class SourceProblem(TypedDict):
    """One sitemap entry or child sitemap that was left out of the run, and why."""

    source: str  # the sitemap (index) it came from, or the child sitemap that failed
    reason: str  # e.g. "entry 12 ('javascript:x'): only http and https URLs are crawled"


class SourceProblems(TypedDict):
    """What the source listed that could not be crawled: counted, the first few kept."""

    count: int
    first: list[SourceProblem]  # at most 10, in the order they were found


class RunInfo(TypedDict):
    run_id: str  # the execution name
    started_at: str  # ISO 8601, from $$.Execution.StartTime
    mode: Mode
    page_count: int
    batch_count: int
    duplicates_dropped: int
    # v0.1's JSON array of Batch; None since lanes (lanes_location says where they are)
    batches_location: S3Location | None
    # distributed: "runs/<run>/results/": CrawlBatch's BatchResult objects (<lane>/<i>.json)
    # and the ResultWriter's files (<map run id>/manifest.json, ...)
    results_prefix: str | None
    lane_count: NotRequired[int]
    lanes_location: NotRequired[S3Location | None]  # distributed: the JSON array of LaneRef
    # Set only when the sitemap (index) had entries or child sitemaps that were left out.
    source_problems: NotRequired[SourceProblems]
    # Set when the run did not crawl at all, e.g. "another run (<id>) is still running".
    skipped_reason: NotRequired[str]


class ListPagesOutput(TypedDict):
    run: RunInfo
    lanes: list[Lane]  # inline; [] when distributed (lanes.json in S3, RunInfo.lanes_location)


class CrawlBatchInput(TypedDict):
    run_id: str
    batch_id: int
    pages: list[PageTask]
    retry_count: NotRequired[int]  # $$.State.RetryCount: retries Step Functions already made
    lane_id: NotRequired[int]
    # host key -> its limit in this lane; absent (events from before lanes): the settings'
    hosts: NotRequired[dict[str, HostLimit]]


class CrawlBatchDistributedInput(TypedDict):
    """CrawlBatchDistributed's event: the Batch is read from S3, the BatchResult written there."""

    run_id: str
    lane_id: int
    batch_index: int
    batch_location: S3Location
    results_location: S3Location
    retry_count: NotRequired[int]


class CrawlBatchDistributedOutput(TypedDict):
    """What CrawlBatchDistributed returns (small, so lane outputs stay tiny)."""

    batch_id: int
    lane_id: int
    results_key: str
    pages: int
    # {"ok", "failed", "skipped"} of the batch, for progress (the state's ResultSelector drops it)
    counts: NotRequired[dict[str, int]]


class PageResult(TypedDict):
    url: str
    final_url: str | None
    ok: bool
    outcome: Outcome
    status: int | None
    error: str | None  # short reason, e.g. "timeout", "HTTP 404", "robots.txt disallows"
    attempts: int
    elapsed_ms: int | None
    bytes: int | None
    content_type: str | None
    title: str | None
    description: str | None
    canonical: str | None
    h1: str | None
    links: int | None
    words: int | None
    content_hash: str | None
    etag: str | None
    last_modified: str | None
    redirects: int
    extracted: dict[str, str | None]
    fetched_at: str | None
    # True when the extracted fields of an `unchanged` page come from the store (the page as
    # last seen) rather than from this fetch (a 304 has no body to extract from).
    carried: NotRequired[bool]
    # v0.2 (absent in results stored before): see docs/CONTRACT.md, "Change detection".
    kind: NotRequired[PageKind | None]  # None: nothing fetched
    # Short hashes of each fingerprinted field ("text", "title", "description", "canonical",
    # "h1", "links", "selector:<name>"; "body" for non-HTML): content_hash covers them all.
    fingerprints: NotRequired[dict[str, str]]
    changed_fields: NotRequired[list[str]]  # outcome "changed": which of fingerprints differ


class BatchResult(TypedDict):
    batch_id: int
    results: list[PageResult]


class BatchFailure(TypedDict):
    """What RecordFailure (Pass) makes of a caught CrawlBatch error: the batch's pages + the error.

    StoreAndNotify turns it into one failed PageResult per page.
    """

    batch_id: int
    results: list[PageResult]  # always []
    failure: "CaughtError"


class CaughtError(TypedDict):
    pages: list[PageTask]
    error: str  # Step Functions' Error, e.g. "TransientCrawlError", "States.Timeout"
    cause: str  # Step Functions' Cause (for Lambda errors a JSON string with errorMessage)


class FailureSample(TypedDict):
    url: str
    error: str | None


class RunSummary(TypedDict):
    run_id: str
    mode: Mode
    total: int
    ok: int
    failed: int
    skipped: int
    new: int
    changed: int
    unchanged: int
    failure_ratio: float  # failed / (total - skipped); 0.0 for an empty run
    started_at: str
    finished_at: str
    duration_s: float
    first_failures: list[FailureSample]  # at most 10
    source_problems: NotRequired[SourceProblems]  # copied from RunInfo when set
    skipped_reason: NotRequired[str]  # copied from RunInfo: the run crawled nothing, and why


def unmeasured_result(url: str, *, error: str | None, attempts: int) -> PageResult:
    """A failed PageResult with nothing measured yet: the base of every other result."""
    return PageResult(
        url=url,
        final_url=None,
        ok=False,
        outcome="failed",
        status=None,
        error=error,
        attempts=attempts,
        elapsed_ms=None,
        bytes=None,
        content_type=None,
        title=None,
        description=None,
        canonical=None,
        h1=None,
        links=None,
        words=None,
        content_hash=None,
        etag=None,
        last_modified=None,
        redirects=0,
        extracted={},
        fetched_at=None,
    )
