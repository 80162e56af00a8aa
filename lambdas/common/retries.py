"""The retry story, in one place: which layer retries what, how often, and how long it waits.

1. Step Functions' Retry on the CrawlBatch task (statemachine/definition.py builds it from
   CRAWL_BATCH_RETRY): Lambda service errors and throttling, and TransientCrawlError. Visible
   in the execution history as TaskFailed -> TaskScheduled again.
2. Step Functions' Retry on ListPages and StoreAndNotify (SERVICE_RETRY): Lambda service
   errors and throttling only; their own errors are bugs or bad input, not worth repeating.
3. Inside CrawlBatch (lambdas/crawl_batch): see the constants there, documented here by the
   crawl helper's change (a page's transient failure in a multi-page batch is retried in the
   handler so that its good neighbours are not crawled again).

A caught error's attempt count is derived from these rules, never parsed out of text:
`attempts_when_caught`.
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


def attempts_when_caught(error: str, rule: RetryRule = CRAWL_BATCH_RETRY) -> int:
    """How many times a task ran before Catch saw `error`: every retry was used, or none."""
    return rule.max_attempts + 1 if error in rule.errors else 1
