"""The engine's moto patches: pinned to the moto they were checked against, one per module,
and the child record that keeps a running child's events out of memory."""

from __future__ import annotations

import datetime
import gc
import importlib.metadata
import pkgutil
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import crawlmap.engine.moto_patches as moto_patches
from crawlmap.engine.moto_patches.children import ChildExecution


def test_moto_is_pinned_to_the_version_the_patches_were_checked_against() -> None:
    assert importlib.metadata.version("moto") == moto_patches.MOTO_VERSION
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert f']=={moto_patches.MOTO_VERSION}"' in pyproject.split('"moto[', 1)[1].split("\n")[0]


def test_every_patch_module_says_which_moto_it_was_checked_against() -> None:
    modules = [
        info.name
        for info in pkgutil.walk_packages(moto_patches.__path__, moto_patches.__name__ + ".")
        if not info.ispkg
    ]
    assert len(modules) >= 15
    for name in modules:
        doc = importlib.import_module(name).__doc__ or ""
        assert f"moto {moto_patches.MOTO_VERSION}" in doc, name


def _child(spool: Path | None) -> ChildExecution:
    start = datetime.datetime(2026, 12, 3, tzinfo=datetime.UTC)
    return ChildExecution(index=0, name="c", start=start, input={"lane": 1}, spool=spool)


def test_a_spooled_child_renders_the_history_an_in_memory_one_does(tmp_path: Path) -> None:
    events = [
        {"id": 7, "previousEventId": 3, "type": "TaskStateEntered", "timestamp": "t"},
        {"id": 8, "previousEventId": 7, "type": "TaskScheduled", "timestamp": "t"},
        {"id": 12, "previousEventId": 8, "type": "TaskStateExited", "timestamp": "t"},
    ]
    spooled, held = _child(tmp_path / "c.events.jsonl"), _child(None)
    for child in (spooled, held):
        for event in events:
            child.record(event)
        child.status, child.output = "SUCCEEDED", {"ok": True}
    assert list(spooled.history()) == list(held.history())
    history = list(spooled.history())
    assert [e["id"] for e in history] == [1, 2, 3, 4, 5]
    assert [e["previousEventId"] for e in history] == [0, 1, 2, 3, 4]  # 3 -> ExecutionStarted
    assert spooled.state_transitions == 1
    spooled.forget_events()
    assert not (tmp_path / "c.events.jsonl").exists()


@settings(max_examples=200, deadline=None)
@given(
    first_id=st.integers(min_value=1, max_value=60),
    gaps=st.lists(st.integers(min_value=1, max_value=4), min_size=0, max_size=12),
    links=st.lists(st.integers(min_value=0, max_value=20), min_size=13, max_size=13),
    parent_event=st.integers(min_value=0, max_value=80),
)
def test_a_child_history_always_points_each_event_back_at_an_earlier_one(
    first_id: int, gaps: list[int], links: list[int], parent_event: int
) -> None:
    """Whatever moto numbered the events with (the Map Run's ids, interleaved with other
    children's), and whatever the parent's event the first one points at (the parent's own
    numbering: it may equal a child event's id, even the first one's), each event of the
    saved history points at an earlier event of the same history."""
    ids = [first_id]
    for gap in gaps:
        ids.append(ids[-1] + gap)
    child = _child(None)
    for n, event_id in enumerate(ids):
        previous = parent_event if n == 0 else ids[n - 1 - links[n] % n]
        child.record(
            {"id": event_id, "previousEventId": previous, "type": "Pass", "timestamp": "t"}
        )
    child.status = "SUCCEEDED"
    history = list(child.history())
    assert [e["id"] for e in history] == list(range(1, len(ids) + 3))
    assert all(0 <= e["previousEventId"] < e["id"] for e in history)
    assert history[1]["previousEventId"] == 1  # the first state: at ExecutionStarted
    own = {moto_id: n + 2 for n, moto_id in enumerate(ids)}
    for n, event in enumerate(history[2:-1], start=1):
        expected = ids[n - 1 - links[n] % n]
        assert event["previousEventId"] == own[expected]


def test_a_backend_lookup_finds_the_backend_moto_made_and_still_makes_new_ones() -> None:
    from moto.core.base_backend import BackendDict
    from moto.s3.models import s3_backends

    moto_patches.install()
    first = s3_backends["111122223333"]  # a new account: moto's own path creates it
    assert s3_backends["111122223333"] is first  # known: returned directly
    assert any(known is s3_backends for known in BackendDict._instances)
    assert s3_backends["111122223333"]["aws"] is first["aws"]


def test_s3_bodies_live_on_disk_and_read_back_as_written() -> None:
    import hashlib
    import tracemalloc

    import boto3
    from moto import mock_aws

    moto_patches.install()
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bodies")

        def get(key: str, **extra: Any) -> bytes:
            body: bytes = s3.get_object(Bucket="bodies", Key=key, **extra)["Body"].read()
            return body

        body = bytes(range(256)) * 4096  # 1 MiB
        put = s3.put_object(Bucket="bodies", Key="a", Body=body)
        assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # noqa: S324 (S3's ETag)
        assert get("a") == body
        assert get("a", Range="bytes=256-511") == bytes(range(256))
        s3.put_object(Bucket="bodies", Key="a", Body=b"second")  # overwritten
        assert get("a") == b"second"
        s3.put_object(Bucket="bodies", Key="empty", Body=b"")
        assert get("empty") == b""
        s3.copy_object(Bucket="bodies", Key="copy", CopySource={"Bucket": "bodies", "Key": "a"})
        assert get("copy") == b"second"
        upload = s3.create_multipart_upload(Bucket="bodies", Key="parts")["UploadId"]
        parts = [
            {"PartNumber": n, "ETag": s3.upload_part(
                Bucket="bodies", Key="parts", PartNumber=n, UploadId=upload, Body=chunk
            )["ETag"]}
            for n, chunk in ((1, b"x" * (5 * 2**20)), (2, b"tail"))
        ]  # fmt: skip
        s3.complete_multipart_upload(
            Bucket="bodies", Key="parts", UploadId=upload, MultipartUpload={"Parts": parts}
        )
        assert get("parts") == b"x" * (5 * 2**20) + b"tail"

        tracemalloc.start()
        try:
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            for n in range(20):
                s3.put_object(Bucket="bodies", Key=f"big-{n}", Body=body)
            gc.collect()  # a request's garbage cycles hold its body until collected
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert held < 2 * 2**20, f"20 MiB of bodies held {held / 2**20:.1f} MiB in memory"
        assert get("big-19") == body


def test_the_interpreter_keeps_only_its_live_threads() -> None:
    import threading

    from moto.stepfunctions.parser import utils as parser_utils
    from moto.stepfunctions.parser.asl.component.program import program

    from crawlmap.engine.moto_patches.speed.state_threads import LIVE_THREADS_CHECKED

    moto_patches.install()
    kept = parser_utils.TMP_THREADS
    assert program.TMP_THREADS is kept  # what moto's modules append to
    import moto.stepfunctions

    for info in pkgutil.walk_packages(moto.stepfunctions.__path__, "moto.stepfunctions."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # a few of moto's vendored modules need LocalStack's
            continue
        held = getattr(module, "TMP_THREADS", kept)
        assert held is kept, f"{info.name} appends to a list the patch does not prune"
    release = threading.Event()
    alive = threading.Thread(target=release.wait)
    alive.start()
    not_started = threading.Thread(target=lambda: None)
    kept.append(alive)
    kept.append(not_started)
    for _ in range(3 * LIVE_THREADS_CHECKED):
        ended = threading.Thread(target=lambda: None)
        ended.start()
        ended.join()
        kept.append(ended)
    assert len(kept) <= LIVE_THREADS_CHECKED
    assert alive in kept
    assert not_started in kept
    release.set()
    alive.join()


def test_s3_objects_in_slots_behave_as_moto_s_own_and_cost_half() -> None:
    import copy
    import pickle
    import tracemalloc

    import boto3
    from moto import mock_aws
    from moto.s3 import models as s3_models

    from crawlmap.engine.moto_patches.speed.s3_keys import SlotKey

    moto_patches.install()
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="keys")
        s3.put_bucket_versioning(Bucket="keys", VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(
            Bucket="keys", Key="k", Body=b"one", ContentType="text/plain", Metadata={"a": "1"}
        )
        s3.put_object(Bucket="keys", Key="k", Body=b"two")
        s3.put_object_acl(Bucket="keys", Key="k", ACL="public-read")
        s3.put_object(Bucket="keys", Key="other", Body=b"x")
        versions = s3.list_object_versions(Bucket="keys")["Versions"]  # deep-copies every key
        assert sorted((v["Key"], v["Size"]) for v in versions) == [("k", 3), ("k", 3), ("other", 1)]
        first = next(v for v in versions if v["Key"] == "k" and not v["IsLatest"])
        old = s3.get_object(Bucket="keys", Key="k", VersionId=first["VersionId"])
        assert (old["Body"].read(), old["ContentType"], old["Metadata"]) == (
            b"one",
            "text/plain",
            {"a": "1"},
        )
        assert s3.get_object(Bucket="keys", Key="k")["Body"].read() == b"two"
        grants = s3.get_object_acl(Bucket="keys", Key="k")["Grants"]
        assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)
        private = s3.get_object_acl(Bucket="keys", Key="other")["Grants"]
        assert [g["Permission"] for g in private] == ["FULL_CONTROL"]  # its own ACL untouched

        backend_key = s3_models.s3_backends["123456789012"]["aws"].get_object("keys", "other")
        assert isinstance(backend_key, SlotKey)
        assert not backend_key.__dict__  # every attribute in a slot
        for twin in (copy.deepcopy(backend_key), pickle.loads(pickle.dumps(backend_key))):  # noqa: S301
            assert (twin.name, twin.value, twin.etag) == ("other", b"x", backend_key.etag)

        tracemalloc.start()
        try:
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            for n in range(500):
                s3.put_object(Bucket="keys", Key=f"batch/{n}.json", Body=b"{}")
            gc.collect()
            per_object = (tracemalloc.get_traced_memory()[0] - before) / 500
        finally:
            tracemalloc.stop()
        assert per_object < 2800, f"{per_object:.0f} bytes an object (moto's own: ~3,800)"
