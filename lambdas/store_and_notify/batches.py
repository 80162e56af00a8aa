"""The page results of the inline path: lanes of BatchResult | BatchFailure in the state.

Shapes (docs/CONTRACT.md): `lanes` is the CrawlPages Map's output, one list per lane of its
batches' outputs; after a caught Map failure it is the original list of Lane (with `map_error`
beside it), and every page of every lane is failed with the Map's error. v0.1's flat `batches`
list of BatchResult | BatchFailure is still read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import PageResult
from lambdas.store_and_notify.failures import Reason, failure_results

OUTCOMES = frozenset({"new", "changed", "unchanged", "failed", "skipped"})


def page_urls(pages: object, field: str) -> Iterator[str]:
    """The URL of each PageTask of a batch's `pages`."""
    if not isinstance(pages, list):
        raise InvalidInputError(field, "must be the batch's list of pages")
    for index, page in enumerate(pages):
        yield page_url(page, f"{field}[{index}]")


def page_url(page: object, field: str) -> str:
    url = page.get("url") if isinstance(page, Mapping) else None
    if not isinstance(url, str):
        raise InvalidInputError(field, "must be a page task with a url")
    return url


def checked_result(result: object, field: str) -> PageResult:
    if not isinstance(result, Mapping):
        raise InvalidInputError(field, "must be a page result object")
    if (
        not isinstance(result.get("url"), str)
        or result.get("outcome") not in OUTCOMES
        or not isinstance(result.get("ok"), bool)
    ):
        raise InvalidInputError(field, "must be a page result with url, ok and a known outcome")
    page: PageResult = dict(result)  # type: ignore[assignment]
    return page


def _batch_item(item: object, field: str) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise InvalidInputError(field, "must be a batch result object")
    return item


def crawled_results(item: object, field: str) -> Iterator[PageResult]:
    """The `results` of one BatchResult (a BatchFailure has none)."""
    results = _batch_item(item, field).get("results", [])
    if not isinstance(results, list):
        raise InvalidInputError(f"{field}.results", "must be a list")
    for index, result in enumerate(results):
        yield checked_result(result, f"{field}.results[{index}]")


def caught_results(item: object, field: str) -> Iterator[PageResult]:
    """One failed record per page of a BatchFailure (nothing for a BatchResult)."""
    failure = _batch_item(item, field).get("failure")
    if failure is None:
        return
    if not isinstance(failure, Mapping):
        raise InvalidInputError(f"{field}.failure", "must be an object")
    urls = page_urls(failure.get("pages"), f"{field}.failure.pages")
    yield from failure_results(urls, failure.get("error"), failure.get("cause"))


def batch_results(item: object, field: str) -> Iterator[PageResult]:
    """The page results of one batch's output: a BatchResult or a BatchFailure."""
    yield from caught_results(item, field)
    yield from crawled_results(item, field)


def _lane_items(lanes: object) -> Iterator[tuple[object, str]]:
    if not isinstance(lanes, list):
        raise InvalidInputError("lanes", "must be the Map's list of lanes")
    for lane_index, lane in enumerate(lanes):
        if not isinstance(lane, list):
            raise InvalidInputError(f"lanes[{lane_index}]", "must be the lane's list of batches")
        for index, item in enumerate(lane):
            yield item, f"lanes[{lane_index}][{index}]"


def inline_results(lanes: object) -> Iterator[PageResult]:
    """Every page result of the CrawlPages Map's output: crawled results first, then the pages
    of caught batches (so when a page has both, the crawled one is kept by the caller's dedupe)."""
    items = list(_lane_items(lanes))
    for item, field in items:
        yield from crawled_results(item, field)
    for item, field in items:
        yield from caught_results(item, field)


def legacy_inline_results(batches: list[Any]) -> Iterator[PageResult]:
    """v0.1's `batches`: a flat list of BatchResult | BatchFailure."""
    for index, item in enumerate(batches):
        yield from batch_results(item, f"batches[{index}]")


def map_failed_results(lanes: object, reason: Reason) -> Iterator[PageResult]:
    """After a caught failure of the inline Map: every page of the original lanes, failed
    with the Map's error (what was crawled is not in the state any more)."""
    if not isinstance(lanes, list):
        raise InvalidInputError("lanes", "must be the run's list of lanes")
    for lane_index, lane in enumerate(lanes):
        batches = lane.get("batches") if isinstance(lane, Mapping) else None
        if not isinstance(batches, list):
            raise InvalidInputError(f"lanes[{lane_index}].batches", "must be a list of batches")
        for index, batch in enumerate(batches):
            field = f"lanes[{lane_index}].batches[{index}]"
            pages = batch.get("pages") if isinstance(batch, Mapping) else None
            urls = page_urls(pages, f"{field}.pages")
            yield from failure_results(urls, reason.error, reason.cause)
