"""The lane plan (list_pages/lanes.py): per-host limits hold for the whole run by construction."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.common.host_keys import host_key
from lambdas.common.models import Lane, PageTask, RobotsVerdict
from lambdas.list_pages.lanes import (
    MAX_BATCH_PAGES,
    MAX_BATCHES_PER_LANE,
    LaneSettings,
    batch_count,
    plan_lanes,
)


def pages(hosts: dict[str, int], crawl_delay: dict[str, float] | None = None) -> list[PageTask]:
    tasks = []
    for host, count in hosts.items():
        for i in range(count):
            task = PageTask(url=f"{host}/{i}", previous=None)
            if crawl_delay and host in crawl_delay:
                task["robots"] = RobotsVerdict(
                    allowed=True, reason=None, crawl_delay=crawl_delay[host]
                )
            tasks.append(task)
    return tasks


def lanes_per_host(lanes: list[Lane]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = defaultdict(set)
    for lane in lanes:
        for batch in lane["batches"]:
            for host in batch["hosts"]:
                found[host].add(lane["lane_id"])
    return found


def assert_plan_holds(tasks: list[PageTask], lanes: list[Lane], plan: LaneSettings) -> None:
    """Every property the state machine relies on."""
    # every page in exactly one batch
    crawled = Counter(p["url"] for lane in lanes for b in lane["batches"] for p in b["pages"])
    assert crawled == Counter(t["url"] for t in tasks)
    # unique batch ids; each batch knows its lane and exactly the hosts of its pages
    ids = [b["batch_id"] for lane in lanes for b in lane["batches"]]
    assert len(ids) == len(set(ids)) == batch_count(lanes)
    assert len(lanes) <= plan.max_lanes
    assert [lane["lane_id"] for lane in lanes] == list(range(len(lanes)))
    delays: dict[str, float] = defaultdict(lambda: plan.per_host_delay)
    for task in tasks:
        robots = task.get("robots")
        if robots and robots["crawl_delay"]:
            key = host_key(task["url"])
            delays[key] = max(delays[key], robots["crawl_delay"])
    limits: dict[str, set[tuple[int, float]]] = defaultdict(set)
    for lane in lanes:
        assert 0 < len(lane["batches"]) <= MAX_BATCHES_PER_LANE
        for batch in lane["batches"]:
            assert batch["lane_id"] == lane["lane_id"]
            assert 0 < len(batch["pages"]) <= MAX_BATCH_PAGES
            assert set(batch["hosts"]) == {host_key(p["url"]) for p in batch["pages"]}
            for host, limit in batch["hosts"].items():
                limits[host].add((limit["concurrency"], limit["delay_s"]))
    for host, lane_ids in lanes_per_host(lanes).items():
        [(concurrency, delay_s)] = limits[host]  # one limit per host for the whole run
        assert concurrency >= 1
        assert len(lane_ids) * concurrency <= plan.per_host_concurrency
        assert delay_s * len(lane_ids) >= delays[host] - 1e-9
        if delays[host] > 0:
            assert len(lane_ids) == 1  # a delayed host runs in one lane: its spacing is exact


hosts_strategy = st.dictionaries(
    st.sampled_from(
        ["https://a.test", "http://a.test", "https://b.test:8443", "https://c.test"]
        + [f"http://127.0.0.{n}:8000" for n in range(1, 10)]
    ),
    st.integers(min_value=1, max_value=120),
    min_size=1,
)
settings_strategy = st.builds(
    LaneSettings,
    batch_size=st.integers(min_value=1, max_value=100),
    per_host_concurrency=st.integers(min_value=1, max_value=64),
    per_host_delay=st.sampled_from([0.0, 0.0, 0.5, 2.0]),
    max_lanes=st.integers(min_value=1, max_value=100),
)


@settings(max_examples=150, deadline=None)
@given(
    hosts=hosts_strategy,
    delayed=st.dictionaries(
        st.sampled_from(["https://a.test", "http://127.0.0.3:8000"]),
        st.sampled_from([0.0, 0.5, 5.0]),
    ),
    plan=settings_strategy,
)
def test_any_plan_keeps_every_page_once_and_every_host_within_its_limits(
    hosts: dict[str, int], delayed: dict[str, float], plan: LaneSettings
) -> None:
    tasks = pages(hosts, delayed)
    assert_plan_holds(tasks, plan_lanes(tasks, plan), plan)


def test_one_big_host_gets_per_host_concurrency_lanes_of_one_request() -> None:
    plan = LaneSettings(batch_size=10, per_host_concurrency=4, per_host_delay=0.0, max_lanes=10)
    tasks = pages({"https://big.test": 400})
    lanes = plan_lanes(tasks, plan)
    assert len(lanes) == 4
    assert {
        b["hosts"]["https://big.test"]["concurrency"] for lane in lanes for b in lane["batches"]
    } == {1}
    assert [len(lane["batches"]) for lane in lanes] == [10, 10, 10, 10]
    assert_plan_holds(tasks, lanes, plan)


def test_a_host_with_few_batches_gets_fewer_lanes_each_with_a_bigger_share() -> None:
    plan = LaneSettings(batch_size=10, per_host_concurrency=4, per_host_delay=0.0, max_lanes=10)
    lanes = plan_lanes(pages({"https://a.test": 15}), plan)  # 2 batches' worth
    assert len(lanes) == 2
    assert {
        b["hosts"]["https://a.test"]["concurrency"] for lane in lanes for b in lane["batches"]
    } == {2}


def test_a_crawl_delay_puts_the_host_in_one_lane_with_the_whole_delay() -> None:
    plan = LaneSettings(batch_size=10, per_host_concurrency=4, per_host_delay=0.0, max_lanes=10)
    tasks = pages({"https://slow.test": 60, "https://fast.test": 60}, {"https://slow.test": 0.5})
    lanes = plan_lanes(tasks, plan)
    slow = [
        b["hosts"]["https://slow.test"]
        for lane in lanes
        for b in lane["batches"]
        if "https://slow.test" in b["hosts"]
    ]
    assert {(limit["concurrency"], limit["delay_s"]) for limit in slow} == {(4, 0.5)}
    assert len(lanes_per_host(lanes)["https://slow.test"]) == 1
    assert len(lanes_per_host(lanes)["https://fast.test"]) == 4
    assert_plan_holds(tasks, lanes, plan)


def test_per_host_delay_applies_to_every_host() -> None:
    plan = LaneSettings(batch_size=5, per_host_concurrency=4, per_host_delay=1.0, max_lanes=10)
    lanes = plan_lanes(pages({"https://a.test": 30, "https://b.test": 30}), plan)
    assert all(len(ids) == 1 for ids in lanes_per_host(lanes).values())


def test_many_hosts_run_in_parallel_lanes_and_small_hosts_share_batches() -> None:
    """8 hosts x 50 pages at the inline defaults: more than 16 requests can be in flight."""
    plan = LaneSettings(batch_size=10, per_host_concurrency=4, per_host_delay=0.0, max_lanes=10)
    tasks = pages({f"http://127.0.0.{n}:8000": 50 for n in range(1, 9)})
    lanes = plan_lanes(tasks, plan)
    first_batches = [lane["batches"][0] for lane in lanes]
    in_flight = sum(
        min(limit["concurrency"], sum(host_key(p["url"]) == host for p in batch["pages"]))
        for batch in first_batches
        for host, limit in batch["hosts"].items()
    )
    assert in_flight > 16
    assert any(len(batch["hosts"]) > 1 for batch in first_batches)
    assert_plan_holds(tasks, lanes, plan)


def test_lane_count_is_bounded_by_the_map_concurrency() -> None:
    plan = LaneSettings(batch_size=1, per_host_concurrency=8, per_host_delay=0.0, max_lanes=3)
    tasks = pages({f"https://h{n}.test": 20 for n in range(10)})
    lanes = plan_lanes(tasks, plan)
    assert len(lanes) == 3
    assert_plan_holds(tasks, lanes, plan)


def test_a_lane_over_a_thousand_batches_grows_its_batches() -> None:
    plan = LaneSettings(batch_size=2, per_host_concurrency=1, per_host_delay=0.0, max_lanes=4)
    tasks = pages({"https://one.test": 3001})
    [lane] = plan_lanes(tasks, plan)
    assert len(lane["batches"]) == 751  # 3001 pages at 4 a batch, not 1,501 batches of 2
    assert {len(b["pages"]) for b in lane["batches"]} == {4, 1}


def test_the_cost_goal_plan_packs_hosts_into_few_lanes() -> None:
    """100,000 pages on 100 hosts, distributed defaults: 1,000 batches in a few lanes."""
    plan = LaneSettings(batch_size=100, per_host_concurrency=4, per_host_delay=0.0, max_lanes=100)
    tasks = pages({f"https://h{n}.test": 1000 for n in range(100)})
    lanes = plan_lanes(tasks, plan)
    assert batch_count(lanes) == 1000
    assert len(lanes) <= 10  # a few child executions, each batch keeping many hosts busy
    assert min(len(b["hosts"]) for lane in lanes for b in lane["batches"]) >= 25
    assert_plan_holds(tasks, lanes, plan)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://A.test/x", "https://a.test"),
        ("https://a.test:443/x", "https://a.test"),
        ("http://a.test:80/", "http://a.test"),
        ("http://a.test:8080/", "http://a.test:8080"),
        ("https://[::1]:8443/", "https://[::1]:8443"),
        ("http://a.test:99999/", "http://a.test:99999"),
    ],
)
def test_host_keys(url: str, key: str) -> None:
    assert host_key(url) == key
