"""Fuzz of the execution input contract against ListPages (hypothesis).

Whatever JSON-like value arrives as the execution input, ListPages either returns a
well-formed ListPagesOutput or raises InvalidInputError naming a field: never another
exception. The store is a real SQLite file; nothing touches the network: the sitemap
fetcher and the object store record what was asked and refuse it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import ListPagesOutput
from lambdas.common.settings import Settings
from lambdas.common.store import SQLiteStore
from lambdas.list_pages.listing import ListingContext, list_pages
from lambdas.list_pages.sources import SourceError
from tests.lambdas.data_support import make_result


class RefusingObjects:
    """ObjectStore that has no objects and keeps what is written (the batches file)."""

    def __init__(self) -> None:
        self.reads: list[str] = []
        self.writes: dict[str, bytes] = {}

    def get_bytes(self, bucket: str, key: str, max_bytes: int) -> bytes:
        self.reads.append(f"s3://{bucket}/{key}")
        raise SourceError(f"cannot read s3://{bucket}/{key} (NoSuchKey)")

    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self.writes[f"s3://{bucket}/{key}"] = body


KNOWN_FIELDS = {"input", "pages", "sitemap", "pages_s3", "batch_size", "distributed_threshold"}
fetched: list[str] = []


def refusing_fetch(url: str, max_bytes: int) -> bytes:
    fetched.append(url)
    raise SourceError("HTTP 404")


SETTINGS = Settings(
    bucket_name="fuzz-bucket",
    max_pages=40,
    batch_size=7,
    distributed_threshold=25,
    default_source={"pages": ["https://default.test/"]},
)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ListingContext]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "store.db"
    store = SQLiteStore(path)
    store.save_results(
        "seed", [make_result("https://a.test/", "new", content_hash="h")], "2026-01-01T00:00:00Z"
    )
    yield ListingContext(SETTINGS, store, refusing_fetch, RefusingObjects())
    store.close()


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
url_like = st.one_of(
    st.builds(
        lambda scheme, host, path: f"{scheme}{host}{path}",
        st.sampled_from(
            ["http://", "https://", "HTTPS://", "ftp://", "javascript:", "", "//", "s3://"]
        ),
        st.sampled_from(
            [
                "a.test",
                "B.test:8080",
                "[::1]",
                "[zz",
                "user:pw@a.test",
                "",
                "a.test:99999",
                "é.test",
            ]
        ),
        st.text(alphabet=st.characters(exclude_categories=()), max_size=20),
    ),
    st.sampled_from(
        [
            "https://a.test/",
            "https://a.test/?utm_source=x",
            "https://a.test/\ud800",
            "https://a.test/" + "x" * 2100,
            "s3://fuzz-bucket/list.txt",
            "s3://Bad_Bucket/x",
            "s3://b/\udfff",
        ]
    ),
)
json_values = st.recursive(
    json_scalars | url_like,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
valid_urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["http", "https", "HTTPS"]),
    st.sampled_from(["a.test", "b.test", "c.test:8443", "A.TEST"]),
    st.text(alphabet="abc/?=&#%_~", max_size=8) | st.sampled_from(["\ud800", "\udfffx", "é"]),
)
any_value = st.one_of(
    st.lists(url_like | json_scalars, max_size=60), url_like, st.integers(-5, 200), json_values
)
structured_inputs = st.builds(
    lambda known, extra: {**known, **extra},
    st.fixed_dictionaries(
        {},
        optional={
            "pages": st.lists(valid_urls, min_size=1, max_size=60) | any_value,
            "sitemap": url_like | any_value,
            "pages_s3": url_like | any_value,
            "batch_size": st.integers(-5, 120) | any_value,
            "distributed_threshold": st.integers(-5, 60) | any_value,
        },
    ),
    st.just({}) | st.just({}) | st.dictionaries(st.text(max_size=12), any_value, max_size=1),
)


def check(execution_input: Any, context: ListingContext) -> None:
    wrapper = {"input": execution_input, "execution": "fuzz", "started_at": "2026-02-01T00:00:00Z"}
    outcome: ListPagesOutput | InvalidInputError
    try:
        outcome = list_pages(wrapper, context)
    except InvalidInputError as error:
        outcome = error
    if isinstance(outcome, InvalidInputError):
        assert outcome.field
        assert str(outcome).startswith(f"{outcome.field}: ")
        name = outcome.field.split("[")[0]
        event(f"invalid {name if name in KNOWN_FIELDS else 'unknown key'}")
        return
    output = outcome
    run = output["run"]
    event(f"listed {run['mode']}")
    pages = [
        page["url"] for lane in output["lanes"] for b in lane["batches"] for page in b["pages"]
    ]
    assert 1 <= run["page_count"] <= SETTINGS.max_pages
    if run["mode"] == "inline":
        assert len(pages) == len(set(pages)) == run["page_count"]
    else:
        assert output["lanes"] == []
        assert run["lanes_location"] == {"bucket": "fuzz-bucket", "key": "runs/fuzz/lanes.json"}
    json.dumps(output)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(execution_input=json_values)
def test_any_json_input_parses_or_names_a_field(
    execution_input: Any, context: ListingContext
) -> None:
    check(execution_input, context)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(execution_input=structured_inputs)
def test_contract_shaped_input_parses_or_names_a_field(
    execution_input: Any, context: ListingContext
) -> None:
    check(execution_input, context)


page_lists = st.fixed_dictionaries(
    {"pages": st.lists(st.one_of(valid_urls, valid_urls, url_like), min_size=1, max_size=80)},
    optional={"batch_size": st.integers(1, 100), "distributed_threshold": st.integers(0, 60)},
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(execution_input=page_lists)
def test_page_lists_list_or_name_the_bad_entry(
    execution_input: dict[str, Any], context: ListingContext
) -> None:
    check(execution_input, context)
