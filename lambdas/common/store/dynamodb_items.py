"""The deployed store's items (one DynamoDB table, `pk`/`sk` string keys, TTL `expires_at`):
what each record looks like as an item, and back (DynamoDBStore in dynamodb.py makes the calls).

Items (docs/CONTRACT.md, "Store"):
- `PAGE#<url>` / `STATE`: the page's latest successful state (no TTL),
- `RUN#<run>` / `PAGE#<url>`: one PageResult per page per run,
- `RUN#<run>` / `SUMMARY` and `RUNS` / `<started_at>#<run>`: the run record and its index,
- `RUN#<run>` / `HOST#<host key>`: a host note (Retry-After back-off for the run),
- `LEASE` / `RUN`: the run lease (run_id, started_at, expires_at: also the TTL, which deletes
  an abandoned lease some time after it has expired).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from lambdas.common.models import HostNote, RunSummary
from lambdas.common.store.keys import instant_key, page_key
from lambdas.common.store.lastseen import STORED_FIELDS
from lambdas.common.store.model import PageState, RunLease


def _s(value: str | None) -> dict[str, Any]:
    return {"NULL": True} if value is None else {"S": value}


def _str_or_none(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None or "NULL" in value:
        return None
    return str(value["S"])


# A state is written unless the item holds a later run's: compared on `started_key` (fixed-width
# UTC text, so string order is time order); v0.1 items have only `started_at` (Step
# Functions' own format, the same for every run, so its text order is time order too).
NOT_NEWER = (
    "attribute_not_exists(pk) OR started_key <= :started_key"
    " OR (attribute_not_exists(started_key) AND started_at <= :started_at)"
)
STATE_ITEM_VERSION = "1"
_SEEN_PREFIX = "s_"  # one attribute per stored field: an UpdateItem merges them without a read


def state_item(state: PageState) -> dict[str, Any]:
    """The whole STATE item (v0.2)."""
    item: dict[str, Any] = {
        "pk": {"S": page_key(state["url"])},
        "sk": {"S": "STATE"},
        "url": {"S": state["url"]},
        "etag": _s(state["etag"]),
        "last_modified": _s(state["last_modified"]),
        "content_hash": _s(state["content_hash"]),
        "run_id": {"S": state["run_id"]},
        "fetched_at": _s(state["fetched_at"]),
        "started_at": {"S": state["started_at"]},
        "started_key": {"S": instant_key(state["started_at"])},
        "v": {"N": STATE_ITEM_VERSION},
    }
    if state.get("alias_of"):
        item["alias_of"] = {"S": str(state["alias_of"])}
    for name, value in (state.get("seen") or {}).items():
        item[_SEEN_PREFIX + name] = {"S": json.dumps(value, separators=(",", ":"))}
    return item


def state_from_item(item: dict[str, Any]) -> PageState:
    """A STATE item of either version (v0.1 items have no seen fields, alias or started_key)."""
    seen: dict[str, Any] = {}
    for name in STORED_FIELDS:
        value = item.get(_SEEN_PREFIX + name)
        if value is not None and "S" in value:
            seen[name] = json.loads(value["S"])
    return PageState(
        url=item["url"]["S"],
        etag=_str_or_none(item, "etag"),
        last_modified=_str_or_none(item, "last_modified"),
        content_hash=_str_or_none(item, "content_hash"),
        run_id=item["run_id"]["S"],
        fetched_at=_str_or_none(item, "fetched_at"),
        started_at=item["started_at"]["S"],
        alias_of=_str_or_none(item, "alias_of"),
        seen=seen,
    )


@dataclass(frozen=True)
class Update:
    expression: str
    names: dict[str, str]
    values: dict[str, Any]


def merge_update(state: PageState) -> Update:
    """An `unchanged` result's UpdateItem: it sets what it knows and keeps the rest (validators
    a bare 304 did not repeat, the fields of the page as last seen)."""
    attributes: dict[str, Any] = {
        "url": {"S": state["url"]},
        "run_id": {"S": state["run_id"]},
        "fetched_at": _s(state["fetched_at"]),
        "started_at": {"S": state["started_at"]},
        "started_key": {"S": instant_key(state["started_at"])},
        "v": {"N": STATE_ITEM_VERSION},
    }
    for name in ("etag", "last_modified", "content_hash"):
        if state[name] is not None:
            attributes[name] = {"S": state[name]}
    for name, value in (state.get("seen") or {}).items():
        attributes[_SEEN_PREFIX + name] = {"S": json.dumps(value, separators=(",", ":"))}
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    values = {f":a{i}": value for i, value in enumerate(attributes.values())}
    sets = ", ".join(f"#a{i} = :a{i}" for i in range(len(attributes)))
    names["#alias"] = "alias_of"
    return Update(expression=f"SET {sets} REMOVE #alias", names=names, values=values)


def note_from_item(item: dict[str, Any]) -> HostNote:
    return HostNote(not_before=float(item["not_before"]["N"]), reason=item["reason"]["S"])


LEASE_KEY = {"pk": {"S": "LEASE"}, "sk": {"S": "RUN"}}


def lease_item(lease: RunLease) -> dict[str, Any]:
    return {
        "run_id": {"S": lease["run_id"]},
        "started_at": {"S": lease["started_at"]},
        # a whole number: also the table's TTL attribute (epoch seconds)
        "expires_at": {"N": str(math.ceil(lease["expires_at"]))},
    }


def lease_from_item(item: dict[str, Any]) -> RunLease:
    return RunLease(
        run_id=item["run_id"]["S"],
        started_at=item.get("started_at", {}).get("S", ""),
        expires_at=float(item["expires_at"]["N"]),
    )


def loads_summary(text: str) -> RunSummary:
    summary: RunSummary = json.loads(text)
    return summary
