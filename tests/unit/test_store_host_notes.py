"""Host notes (per-run Retry-After back-off) on both backends: the later not_before wins."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.common.models import HostNote
from lambdas.common.store import DynamoDBStore, HostNotes, SQLiteStore, host_note_key
from tests.lambdas.data_support import AwsClients, aws

__all__ = ["aws"]  # the fixture is used by name

A = "https://a.test"
B = "http://b.test:8080"


@pytest.fixture(params=["sqlite", "dynamodb"])
def notes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HostNotes]:
    if request.param == "sqlite":
        store = SQLiteStore(tmp_path / "notes.db")
        yield store
        store.close()
    else:
        clients: AwsClients = request.getfixturevalue("aws")
        yield DynamoDBStore(clients.table, client=clients.dynamodb, clock=lambda: 1000.0)


def note(not_before: float, reason: str = "HTTP 429") -> HostNote:
    return HostNote(not_before=not_before, reason=reason)


def test_notes_are_read_back_per_run_and_host(notes: HostNotes) -> None:
    notes.put_host_note("run-1", A, note(100.5, "HTTP 429, Retry-After 60 s"))
    notes.put_host_note("run-2", B, note(200.0))

    assert notes.host_notes("run-1", [A, B, "https://unknown.test"]) == {
        A: note(100.5, "HTTP 429, Retry-After 60 s")
    }
    assert notes.host_notes("run-2", [A, B]) == {B: note(200.0)}
    assert notes.host_notes("run-1", []) == {}


def test_the_later_not_before_is_kept_whichever_is_written_last(notes: HostNotes) -> None:
    assert notes.put_host_note("r", A, note(500.0, "later")) == note(500.0, "later")
    assert notes.put_host_note("r", A, note(300.0, "earlier")) == note(500.0, "later")
    assert notes.host_notes("r", [A]) == {A: note(500.0, "later")}

    assert notes.put_host_note("r", A, note(900.0, "latest")) == note(900.0, "latest")
    assert notes.host_notes("r", [A])[A] == note(900.0, "latest")


def test_many_hosts_are_read_in_batches_of_a_hundred(notes: HostNotes) -> None:
    hosts = [f"https://h{i}.test" for i in range(250)]
    for i, host in enumerate(hosts):
        notes.put_host_note("r", host, note(float(i)))

    found = notes.host_notes("r", [*hosts, hosts[0]])
    assert len(found) == 250
    assert all(found[h]["not_before"] == float(i) for i, h in enumerate(hosts))


def test_concurrent_lanes_end_with_the_latest_note(notes: HostNotes) -> None:
    values = [float(v) for v in (7, 3, 9, 1, 8, 2, 6, 4, 5, 0)]
    threads = [
        threading.Thread(target=notes.put_host_note, args=("r", A, note(v, f"n{v}")))
        for v in values
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert notes.host_notes("r", [A]) == {A: note(9.0, "n9.0")}


class _CountingDynamoDB:
    def __init__(self, real: Any) -> None:
        self.real = real
        self.gets: list[int] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        (request,) = RequestItems.values()
        self.gets.append(len(request["Keys"]))
        return dict(self.real.batch_get_item(RequestItems=RequestItems))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_dynamodb_reads_one_batch_get_per_hundred_hosts_and_keys_items_by_run(
    aws: AwsClients,
) -> None:
    client = _CountingDynamoDB(aws.dynamodb)
    store = DynamoDBStore(aws.table, ttl_days=2, client=client, clock=lambda: 1000.0)  # type: ignore[arg-type]
    store.put_host_note("run-9", A, note(42.0))
    store.host_notes("run-9", [f"https://h{i}.test" for i in range(230)])
    assert client.gets == [100, 100, 30]

    item = aws.dynamodb.get_item(
        TableName=aws.table, Key={"pk": {"S": "RUN#run-9"}, "sk": {"S": f"HOST#{A}"}}
    )["Item"]
    assert item["host"] == {"S": A}
    assert int(item["expires_at"]["N"]) == 1000 + 2 * 86_400
    assert host_note_key("x" * 2000).startswith("HOST#sha256:")
