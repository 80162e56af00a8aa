"""The page as last seen: what a state keeps of a result, and what an `unchanged` result
takes back from it (issue 12: after a 304 the output must still describe the site)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdas.common.models import PageResult

# What describes the page's content: carried into an unchanged result that lacks it.
CARRIED_FIELDS = (
    "content_type",
    "title",
    "description",
    "canonical",
    "h1",
    "links",
    "words",
    "extracted",
    "kind",
)
# What the next run compares against (CrawlBatch's per-field fingerprints) and what changed
# last: kept in the state, never carried into a result.
CHANGE_FIELDS = ("fingerprints", "changed_fields")
STORED_FIELDS = CARRIED_FIELDS + CHANGE_FIELDS


def _known(value: object) -> bool:
    return value is not None and value != {} and value != []


def seen_of(result: Mapping[str, Any]) -> dict[str, Any]:
    """The stored fields this result knows (a bare 304 knows none)."""
    return {name: result[name] for name in STORED_FIELDS if _known(result.get(name))}


def merged_seen(existing: Mapping[str, Any] | None, fresh: Mapping[str, Any]) -> dict[str, Any]:
    """What an `unchanged` result leaves stored: the old fields, updated with the ones it has."""
    return {**(existing or {}), **{k: v for k, v in fresh.items() if _known(v)}}


def carry_forward(result: PageResult, seen: Mapping[str, Any] | None) -> PageResult:
    """Complete an `unchanged` result with the fields it lacks from the page as last seen;
    mark it `carried` when anything came from the store. Other outcomes are left alone."""
    if result["outcome"] != "unchanged" or not seen:
        return result
    carried = False
    fields: dict[str, Any] = result  # type: ignore[assignment]
    for name in CARRIED_FIELDS:
        if not _known(fields.get(name)) and _known(seen.get(name)):
            fields[name] = seen[name]
            carried = True
    if carried:
        result["carried"] = True
    return result
