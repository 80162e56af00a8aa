"""One resource, one stored state: redirects recorded as aliases under canonical URLs
(issue 12: `/pg` (a 301) and `/pg/` both stored), on both backends (DynamoDB on moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdas.common.models import PageResult
from lambdas.common.store import DynamoDBStore, SQLiteStore, Store
from lambdas.common.urls import canonicalize
from tests.lambdas.data_support import AwsClients, aws, make_result

__all__ = ["aws"]  # the fixture is used by name

EARLY = "2026-01-01T00:00:00.000Z"
LATE = "2026-01-02T00:00:00.000Z"


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        sqlite_store = SQLiteStore(tmp_path / "crawlmap.db")
        yield sqlite_store
        sqlite_store.close()
    else:
        clients: AwsClients = request.getfixturevalue("aws")
        yield DynamoDBStore(clients.table, client=clients.dynamodb, sleep=lambda _s: None)


def fetched(listed: str, final: str, *, redirects: int = 1, content_hash: str = "h1") -> PageResult:
    """A result as CrawlBatch gives it: `url` canonical, `final_url` as httpx reports it."""
    result = make_result(canonicalize(listed), "new", content_hash=content_hash)
    result.update(final_url=final, redirects=redirects)
    return result


@pytest.mark.parametrize(
    ("listed", "final", "stored_under"),
    [
        ("https://a.test/pg", "https://a.test/pg/", "https://a.test/pg/"),  # adds a slash
        ("https://a.test/PG/", "https://a.test/pg/", "https://a.test/pg/"),  # changes case
        ("https://a.test/pg", "HTTPS://A.test:443/pg/#top", "https://a.test/pg/"),
        (
            "https://a.test/d",
            "https://a.test/docs/./a%7eb?y=2&x=1",
            "https://a.test/docs/a~b?x=1&y=2",
        ),
        ("http://a.test/pg", "http://xn--bcher-kva.test/pg/", "http://xn--bcher-kva.test/pg/"),
    ],
)
def test_a_redirect_is_stored_once_under_the_canonical_final_url(
    store: Store, listed: str, final: str, stored_under: str
) -> None:
    source = canonicalize(listed)
    # The redirect, then the final URL listed as well (as a sitemap lists both): one state.
    store.save_results("r1", [fetched(listed, final)], EARLY)
    direct = make_result(stored_under, "unchanged", content_hash="h1")
    store.save_results("r2", [direct], LATE)

    assert store.aliases([source, stored_under]) == {source: stored_under}
    states = store.previous_states([source, stored_under])
    assert states[source] == states[stored_under]
    assert states[stored_under]["content_hash"] == "h1"


@pytest.mark.parametrize(
    ("listed", "final"),
    [
        ("https://a.test/a~b", "https://a.test/a%7Eb"),  # a server that likes escapes
        ("https://a.test/pg/", "HTTPS://A.TEST:443/pg/"),  # only the host's case
        ("https://a.test/pg/", "https://a.test/pg/#section"),
    ],
)
def test_a_redirect_to_another_spelling_of_itself_sets_no_alias(
    store: Store, listed: str, final: str
) -> None:
    store.save_results("r1", [fetched(listed, final)], EARLY)
    url = canonicalize(listed)
    assert store.aliases([url]) == {}
    assert store.previous_states([url])[url]["content_hash"] == "h1"
