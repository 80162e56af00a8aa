"""The retry story, in one place: which layer retries what, how often, and how long it waits.

1. Step Functions' Retry on the CrawlBatch task (statemachine/definition.py builds it from
   CRAWL_BATCH_RETRY): Lambda service errors and throttling, and TransientCrawlError. Visible
   in the execution history as TaskFailed -> TaskScheduled again.
2. Step Functions' Retry on ListPages and StoreAndNotify (SERVICE_RETRY): Lambda service
   errors and throttling only; their own errors are bugs or bad input, not worth repeating.
3. Inside CrawlBatch (lambdas/crawl_batch/page.py), per page, with the constants below:
   - a multi-page batch retries a page's transient failure (timeout, connection error, 408,
     429, 5xx) itself, IN_HANDLER_MAX_ATTEMPTS times in all, waiting IN_HANDLER_BACKOFF_S
     (with jitter) or the server's Retry-After, so that its good neighbours are not crawled
     again; then the page is a failed record (outcome "failed", attempts counted);
   - a one-page batch raises TransientCrawlError at once, so layer 1 retries it visibly
     (after waiting a short Retry-After here, when one was given and time allows);
   - a Retry-After longer than max_retry_after, or longer than layer 1 could ever wait in
     total (CRAWL_BATCH_RETRY.worst_case_wait_s()), fails the page with the reason instead:
     retrying sooner than the server asked is what gets a crawler blocked. The host is noted
     for the run (HostNote), so every lane backs off it, and pages of a host whose note is
     beyond what an invocation can wait fail with the reason, without a request;
   - a retry never starts with less than IN_HANDLER_MIN_ATTEMPT_S of the invocation left;
   - permanent failures (4xx, refused addresses, oversized or malformed responses, anything a
     page's fetch, decode or parse raises that is not a known transient error) are never
     retried by any layer.

A page's attempt count travels as a structured field (PageResult.attempts, and
TransientCrawlError.attempt in the process); for an error Step Functions caught it is derived
from these rules, never parsed out of text: `attempts_when_caught`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# What Lambda's own service raises (not the function's code): always worth retrying.
LAMBDA_SERVICE_ERRORS: Final = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
)
# lambdas.common.errors class names; Step Functions matches the raised exception's class name.
TRANSIENT_CRAWL_ERROR: Final = "TransientCrawlError"
INVALID_INPUT_ERROR: Final = "InvalidInputError"
FAILURE_RATIO_EXCEEDED: Final = "FailureRatioExceeded"


@dataclass(frozen=True)
class RetryRule:
    """One Retry entry of a Task state, in the units ASL uses."""

    errors: tuple[str, ...]
    interval_s: int
    backoff_rate: float
    max_attempts: int  # retries after the first attempt (ASL's MaxAttempts)
    max_delay_s: int
    full_jitter: bool

    def worst_case_wait_s(self) -> float:
        """The longest the retries of one task can wait in total (jitter only shortens it)."""
        return sum(
            min(self.interval_s * self.backoff_rate**n, self.max_delay_s)
            for n in range(self.max_attempts)
        )


SERVICE_RETRY: Final = RetryRule(
    errors=LAMBDA_SERVICE_ERRORS,
    interval_s=2,
    backoff_rate=2.0,
    max_attempts=3,
    max_delay_s=30,
    full_jitter=True,
)
CRAWL_BATCH_RETRY: Final = RetryRule(
    errors=(*LAMBDA_SERVICE_ERRORS, TRANSIENT_CRAWL_ERROR),
    interval_s=2,
    backoff_rate=2.0,
    max_attempts=3,
    max_delay_s=30,
    full_jitter=True,
)


# Layer 3: CrawlBatch's own retries of one page in a multi-page batch.
IN_HANDLER_MAX_ATTEMPTS: Final = 3  # the first try + 2 retries
IN_HANDLER_BACKOFF_S: Final = (0.5, 1.0)  # before retry 1, 2 (x a jitter factor in [0.5, 1))
IN_HANDLER_MIN_ATTEMPT_S: Final = 1.0  # no retry starts with less time left than this
# A 503 without Retry-After backs its host off for the run this long (every lane waits).
UNAVAILABLE_BACKOFF_S: Final = 2.0
# The longest a batch idles for a host's run-wide back-off (Lambda bills the wait); a host
# backed off for longer has its remaining pages in the batch failed with the reason, unasked.
MAX_BACKOFF_WAIT_S: Final = 60.0


def attempts_when_caught(error: str, rule: RetryRule = CRAWL_BATCH_RETRY) -> int:
    """How many times a task ran before Catch saw `error`: every retry was used, or none."""
    return rule.max_attempts + 1 if error in rule.errors else 1
