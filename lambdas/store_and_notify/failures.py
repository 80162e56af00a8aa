"""Failed page records for pages that have no result of their own: their batch was caught,
its lane (child execution) failed, or the Map itself failed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from lambdas.common.models import PageResult, unmeasured_result
from lambdas.common.retries import attempts_when_caught

MAX_ERROR_CHARS = 500
# CrawlBatch of v0.1 ended its message with "(attempt N)"; dropped from the text (the count
# now comes from retries.attempts_when_caught).
_ATTEMPT = re.compile(r" \(attempt (\d+)\)")
_LAST_STATUS = re.compile(r"\w[\w.]*: HTTP ([1-5]\d\d)\b")  # "TransientCrawlError: HTTP 503"
# No result and no recorded reason (e.g. a child still PENDING when the Map ended).
NOT_CRAWLED = "NotCrawled"


@dataclass(frozen=True)
class Reason:
    """A Step Functions error as Catch records it: Error and Cause."""

    error: object
    cause: object

    @classmethod
    def of(cls, value: object) -> Reason | None:
        """From {"Error", "Cause"} (a Catch's ResultPath) or {"error", "cause"} (RecordFailure)."""
        if not isinstance(value, Mapping):
            return None
        error = value.get("Error", value.get("error"))
        cause = value.get("Cause", value.get("cause"))
        if error is None and cause is None:
            return None
        return cls(error=error, cause=cause)

    def describe(self, url: str | None = None) -> str:
        return describe_error(self.error, self.cause, url)


def describe_error(error: object, cause: object, url: str | None = None) -> str:
    """'<Error>: <message>': the message is a Lambda cause's errorMessage when it has one.

    CrawlBatch's TransientCrawlError message starts with the page's URL ("<url>: HTTP 500");
    on that page's own record the URL is dropped, as on every other failure record.
    """
    name = error if isinstance(error, str) and error else "UnknownError"
    detail = ""
    if isinstance(cause, str) and cause.strip():
        detail = cause.strip()
        try:
            parsed = json.loads(detail)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
            detail = parsed["errorMessage"].strip()
    if url and detail.startswith(f"{url}: "):
        detail = detail[len(url) + 2 :]
    detail = _ATTEMPT.sub("", detail)
    text = f"{name}: {detail}" if detail else name
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def failed_result(url: str, error: str, attempts: int = 1) -> PageResult:
    """The record of a page whose batch failed as a whole (nothing was measured).

    When the error names the HTTP status the page last answered ("TransientCrawlError:
    HTTP 500"), the record keeps it: the site did answer, the retries never did better.
    """
    result = unmeasured_result(url, error=error, attempts=attempts)
    status = _LAST_STATUS.match(error)
    if status:
        result["status"] = int(status.group(1))
    return result


def failure_results(urls: Iterable[str], error: object, cause: object) -> Iterator[PageResult]:
    """One failed record per page of a batch (or lane, or Map) that failed as a whole.

    Attempts follow from the Retry rules (retries.attempts_when_caught): a caught error the
    rule retries used every retry; any other was caught on the first attempt.
    """
    pages = list(urls)
    error_text = describe_error(error, cause, pages[0] if len(pages) == 1 else None)
    attempts = attempts_when_caught(error) if isinstance(error, str) else 1
    for url in pages:
        yield failed_result(url, error_text, attempts)
