"""The ListPages handler end to end.

Sitemaps are served by a real HTTP server on 127.0.0.1 (so private networks are allowed in
those settings); moto (`mock_aws`) stands in for S3 and DynamoDB; SQLite runs on a tmp path.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import Batch, Lane, ListPagesOutput, PageTask, RobotsVerdict
from lambdas.common.settings import Settings
from lambdas.common.store import DynamoDBStore, SQLiteStore
from lambdas.list_pages import handler as list_pages_handler
from lambdas.list_pages import listing
from lambdas.list_pages.lanes import LaneSettings
from lambdas.list_pages.listing import ListingContext, list_pages, put_all
from lambdas.list_pages.sources import S3Objects, safe_http_fetcher
from tests.lambdas.data_support import AwsClients, StaticSite, aws, make_result, static_site

__all__ = ["aws", "static_site"]  # fixtures used by name

STARTED = "2026-03-01T10:00:00.000Z"


def event(execution_input: object, run_id: str = "run-1") -> dict[str, object]:
    return {"input": execution_input, "execution": run_id, "started_at": STARTED}


@pytest.fixture
def local_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The handler configured like the local engine: SQLite store, private networks allowed."""
    db = tmp_path / "store" / "crawlmap.db"
    monkeypatch.setenv("CRAWLMAP_SQLITE_PATH", str(db))
    monkeypatch.setenv("CRAWLMAP_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("CRAWLMAP_BATCH_SIZE", "2")
    list_pages_handler.listing_context.cache_clear()
    yield db
    list_pages_handler.listing_context.cache_clear()


def batches(output: ListPagesOutput) -> list[Batch]:
    """Every inline batch, lane after lane."""
    return [batch for lane in output["lanes"] for batch in lane["batches"]]


def sitemap(*urls: str) -> bytes:
    entries = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    return f'<?xml version="1.0"?><urlset xmlns="{ns}">{entries}</urlset>'.encode()


def test_explicit_pages_get_previous_state_from_sqlite(local_env: Path) -> None:
    SQLiteStore(local_env).save_results(
        "earlier", [make_result("https://a.test/", "new", content_hash="h0", etag='"e0"')], STARTED
    )
    output = list_pages_handler.handler(
        event({"pages": ["https://a.test", "https://b.test/x", "https://a.test/#frag"]}), None
    )

    assert output["run"] == {
        "run_id": "run-1",
        "started_at": STARTED,
        "mode": "inline",
        "page_count": 2,
        "batch_count": 2,
        "duplicates_dropped": 1,
        "batches_location": None,
        "results_prefix": None,
        "lane_count": 2,
        "lanes_location": None,
    }
    # two hosts, lanes to spare: a lane each, each with the whole per-host limit
    assert output["lanes"] == [
        {
            "lane_id": 0,
            "batches": [
                {
                    "batch_id": 0,
                    "pages": [
                        {
                            "url": "https://a.test/",
                            "previous": {
                                "etag": '"e0"',
                                "last_modified": None,
                                "content_hash": "h0",
                            },
                        }
                    ],
                    "lane_id": 0,
                    "hosts": {"https://a.test": {"concurrency": 4, "delay_s": 0.0}},
                }
            ],
        },
        {
            "lane_id": 1,
            "batches": [
                {
                    "batch_id": 1,
                    "pages": [{"url": "https://b.test/x", "previous": None}],
                    "lane_id": 1,
                    "hosts": {"https://b.test": {"concurrency": 4, "delay_s": 0.0}},
                }
            ],
        },
    ]
    json.dumps(output)  # the state payload must be JSON


def test_sitemap_index_with_a_gzip_child_over_real_http(
    local_env: Path, static_site: StaticSite
) -> None:
    base = static_site.base
    child_one = static_site.add("/s1.xml", sitemap(f"{base}/a", f"{base}/b"))
    child_two = static_site.add(
        "/s2.xml.gz", gzip.compress(sitemap(f"{base}/c", f"{base}/a")), "application/gzip"
    )
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    index = (
        f'<sitemapindex xmlns="{ns}"><sitemap><loc>{child_one}</loc></sitemap>'
        f"<sitemap><loc>{child_two}</loc></sitemap></sitemapindex>"
    ).encode()
    root = static_site.add("/sitemap.xml", index)

    output = list_pages_handler.handler(event({"sitemap": root}), None)

    urls = [p["url"] for b in batches(output) for p in b["pages"]]
    assert sorted(urls) == [f"{base}/a", f"{base}/b", f"{base}/c"]
    assert output["run"]["duplicates_dropped"] == 1
    assert output["run"]["batch_count"] == 2
    # robots.txt once for the run's one origin (a 404 here: everything allowed).
    assert static_site.hits == ["/sitemap.xml", "/s1.xml", "/s2.xml.gz", "/robots.txt"]
    assert {p["robots"]["allowed"] for b in batches(output) for p in b["pages"]} == {True}


def test_robots_txt_is_read_once_per_origin_and_sent_with_every_page(
    local_env: Path, static_site: StaticSite
) -> None:
    static_site.add(
        "/robots.txt", b"User-agent: *\nDisallow: /private/\nCrawl-delay: 2\n", "text/plain"
    )
    base = static_site.base
    pages = [f"{base}/a", f"{base}/private/b", f"{base}/c", f"{base}/private/d", f"{base}/e"]

    output = list_pages_handler.handler(event({"pages": pages}), None)

    tasks = {p["url"]: p for b in batches(output) for p in b["pages"]}
    assert len(batches(output)) == 3  # batches of 2: three batches, one robots.txt read
    # Crawl-delay: one lane for the host, which spaces its requests by the whole delay
    assert len(output["lanes"]) == 1
    assert {b["hosts"][base]["delay_s"] for b in batches(output)} == {2.0}
    assert static_site.hits == ["/robots.txt"]
    assert tasks[f"{base}/a"]["robots"] == {"allowed": True, "reason": None, "crawl_delay": 2.0}
    assert tasks[f"{base}/private/b"]["robots"] == {
        "allowed": False,
        "reason": "robots.txt disallows",
        "crawl_delay": 2.0,
    }


def test_an_unreadable_robots_txt_leaves_the_verdict_to_crawl_batch(
    local_env: Path, static_site: StaticSite
) -> None:
    static_site.add("/robots.txt", b"down", "text/plain", status=503)
    output = list_pages_handler.handler(event({"pages": [f"{static_site.base}/a"]}), None)
    [task] = [p for b in batches(output) for p in b["pages"]]
    assert "robots" not in task


def test_a_missing_sitemap_is_invalid_input_naming_the_url(
    local_env: Path, static_site: StaticSite
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        list_pages_handler.handler(event({"sitemap": static_site.base + "/nope.xml"}), None)
    assert caught.value.field == "sitemap"
    assert "HTTP 404" in caught.value.problem
    assert "/nope.xml" in caught.value.problem


def test_a_bad_loc_among_good_ones_is_counted_and_the_rest_is_listed(
    local_env: Path, static_site: StaticSite
) -> None:
    root = static_site.add(
        "/sitemap.xml", sitemap("https://a.test/", "javascript:alert(1)", "https://b.test/")
    )
    output = list_pages_handler.handler(event({"sitemap": root}), None)
    assert [p["url"] for b in batches(output) for p in b["pages"]] == [
        "https://a.test/",
        "https://b.test/",
    ]
    assert output["run"]["source_problems"] == {
        "count": 1,
        "first": [
            {
                "source": root,
                "reason": "entry 2 ('javascript:alert(1)'): only http and https URLs are"
                " crawled, not 'javascript'",
            }
        ],
    }


def test_dead_and_malformed_child_sitemaps_are_counted_and_the_others_crawled(
    local_env: Path, static_site: StaticSite
) -> None:
    base = static_site.base
    good = static_site.add("/good.xml", sitemap(f"{base}/a", "/relative", f"{base}/b"))
    broken = static_site.add("/broken.xml", b"<urlset><url><loc>x</loc>")
    static_site.add("/down.xml", b"oops", "text/plain", status=500)
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    children = [f"{base}/dead.xml", "javascript:void(0)", broken, good, f"{base}/down.xml"]
    locs = "".join(f"<sitemap><loc>{child}</loc></sitemap>" for child in children)
    root = static_site.add(
        "/sitemap.xml", f'<sitemapindex xmlns="{ns}">{locs}</sitemapindex>'.encode()
    )

    output = list_pages_handler.handler(event({"sitemap": root}), None)

    assert [p["url"] for b in batches(output) for p in b["pages"]] == [f"{base}/a", f"{base}/b"]
    problems = output["run"]["source_problems"]
    assert problems["count"] == 5
    assert [(p["source"], p["reason"].split(" ", 1)[0]) for p in problems["first"]] == [
        (f"{base}/dead.xml", "could"),
        (root, "sitemap"),
        (broken, broken),
        (good, "entry"),
        (f"{base}/down.xml", "could"),
    ]
    assert "HTTP 404" in problems["first"][0]["reason"]
    assert "not well-formed XML" in problems["first"][2]["reason"]
    assert problems["first"][3]["reason"].startswith("entry 2 ('/relative'): only http")
    assert "HTTP 500" in problems["first"][4]["reason"]


def test_a_sitemap_with_nothing_usable_fails_with_one_reason(
    local_env: Path, static_site: StaticSite
) -> None:
    root = static_site.add("/sitemap.xml", sitemap("javascript:alert(1)", "mailto:x@a.test"))
    with pytest.raises(InvalidInputError) as caught:
        list_pages_handler.handler(event({"sitemap": root}), None)
    assert caught.value.field == "sitemap"
    assert caught.value.problem == (
        f"lists no page that can be crawled (2 problems; first: {root}: entry 1"
        " ('javascript:alert(1)'): only http and https URLs are crawled, not 'javascript')"
    )


def test_only_the_first_ten_problems_are_kept_but_all_are_counted(
    local_env: Path, static_site: StaticSite
) -> None:
    bad = [f"javascript:{n}" for n in range(25)]
    root = static_site.add("/sitemap.xml", sitemap(*bad, "https://a.test/"))
    output = list_pages_handler.handler(event({"sitemap": root}), None)
    problems = output["run"]["source_problems"]
    assert problems["count"] == 25
    assert [p["reason"].split(" ")[1] for p in problems["first"]] == [str(n) for n in range(1, 11)]


def test_a_fetcher_that_raises_anything_is_contained_per_child(tmp_path: Path) -> None:
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    index = (
        f'<sitemapindex xmlns="{ns}"><sitemap><loc>https://a.test/bug.xml</loc></sitemap>'
        f"<sitemap><loc>https://a.test/ok.xml</loc></sitemap></sitemapindex>"
    ).encode()

    def fetch(url: str, max_bytes: int) -> bytes:
        if url.endswith("bug.xml"):
            raise RecursionError("maximum recursion depth exceeded")
        return index if url.endswith("index.xml") else sitemap("https://a.test/page")

    settings = Settings(sqlite_path=str(tmp_path / "s.db"))
    context = ListingContext(settings, SQLiteStore(tmp_path / "s.db"), fetch, S3Objects())
    output = list_pages(event({"sitemap": "https://a.test/index.xml"}), context)
    assert [p["url"] for b in batches(output) for p in b["pages"]] == ["https://a.test/page"]
    [problem] = output["run"]["source_problems"]["first"]
    assert problem == {
        "source": "https://a.test/bug.xml",
        "reason": "could not read https://a.test/bug.xml (RecursionError: maximum recursion"
        " depth exceeded)",
    }


def test_a_robots_txt_redirecting_to_a_bad_port_affects_only_its_origin(
    local_env: Path, static_site: StaticSite
) -> None:
    static_site.server.redirect("/robots.txt", "http://127.0.0.1:99999/robots.txt")
    pages = [f"{static_site.base}/a", "https://a.test/"]
    output = list_pages_handler.handler(event({"pages": pages}), None)
    tasks = {p["url"]: p for b in batches(output) for p in b["pages"]}
    assert sorted(tasks) == sorted(pages)
    assert "robots" not in tasks[f"{static_site.base}/a"]  # CrawlBatch applies RFC 9309 itself


def test_a_robots_check_that_raises_leaves_every_verdict_to_crawl_batch(tmp_path: Path) -> None:
    def broken_check(urls: Sequence[str]) -> dict[str, RobotsVerdict]:
        raise ValueError("Port out of range 0-65535")

    settings = Settings(sqlite_path=str(tmp_path / "s.db"))
    context = ListingContext(
        settings,
        SQLiteStore(tmp_path / "s.db"),
        safe_http_fetcher(settings),
        S3Objects(),
        check_robots=broken_check,
    )
    output = list_pages(event({"pages": ["https://a.test/"]}), context)
    assert batches(output)[0]["pages"] == [{"url": "https://a.test/", "previous": None}]


def test_sitemaps_on_private_addresses_are_refused_by_default(
    tmp_path: Path, static_site: StaticSite
) -> None:
    root = static_site.add("/sitemap.xml", sitemap("https://a.test/"))
    settings = Settings(sqlite_path=str(tmp_path / "s.db"))  # allow_private_networks=False
    context = ListingContext(
        settings, SQLiteStore(tmp_path / "s.db"), safe_http_fetcher(settings), S3Objects()
    )
    with pytest.raises(InvalidInputError) as caught:
        list_pages(event({"sitemap": root}), context)
    assert caught.value.field == "sitemap"
    assert static_site.hits == []  # refused before connecting


@pytest.fixture
def deployed_env(monkeypatch: pytest.MonkeyPatch, aws: AwsClients) -> Iterator[AwsClients]:
    """The handler configured like the stack does it; moto stands in for DynamoDB and S3."""
    monkeypatch.setenv("CRAWLMAP_TABLE_NAME", aws.table)
    monkeypatch.setenv("CRAWLMAP_BUCKET_NAME", aws.bucket)
    monkeypatch.setenv("CRAWLMAP_DISTRIBUTED_THRESHOLD", "3")
    monkeypatch.setenv("CRAWLMAP_BATCH_SIZE", "2")
    monkeypatch.setenv("CRAWLMAP_DISTRIBUTED_BATCH_SIZE", "2")
    list_pages_handler.listing_context.cache_clear()
    yield aws
    list_pages_handler.listing_context.cache_clear()


def test_large_runs_write_batches_to_s3(deployed_env: AwsClients) -> None:
    aws = deployed_env
    DynamoDBStore(aws.table, client=aws.dynamodb).save_results(
        "earlier", [make_result("https://a.test/2", "new", content_hash="h2")], STARTED
    )
    pages = [f"https://a.test/{i}" for i in range(5)]

    output = list_pages_handler.handler(event({"pages": pages}, run_id="big-run"), None)

    run = output["run"]
    assert output["lanes"] == []
    assert run["mode"] == "distributed"
    assert run["batches_location"] is None
    assert run["lanes_location"] == {"bucket": aws.bucket, "key": "runs/big-run/lanes.json"}
    assert run["results_prefix"] == "runs/big-run/results/"
    batches = stored_batches(aws, run["lanes_location"])
    assert [len(b["pages"]) for b in batches] == [2, 2, 1]
    assert run["batch_count"] == 3
    assert run["lane_count"] == 3  # one host, 3 batches: 3 lanes of per_host_concurrency // 3
    assert {b["hosts"]["https://a.test"]["concurrency"] for b in batches} == {1}
    previous = {p["url"]: p["previous"] for b in batches for p in b["pages"]}
    assert previous["https://a.test/2"] == {
        "etag": None,
        "last_modified": None,
        "content_hash": "h2",
    }
    assert previous["https://a.test/0"] is None


def stored_batches(aws: AwsClients, location: dict[str, str]) -> list[Batch]:
    """The batches a distributed run wrote: lanes.json's LaneRefs, then each lane's objects."""
    body = aws.s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
    found: list[Batch] = []
    for ref in json.loads(body):
        assert (
            ref["batches_prefix"]
            == f"{location['key'].removesuffix('lanes.json')}lanes/{ref['lane_id']}/"
        )
        for index in range(ref["batch_count"]):
            key = f"{ref['batches_prefix']}{index}.json"
            batch = json.loads(aws.s3.get_object(Bucket=location["bucket"], Key=key)["Body"].read())
            assert batch["lane_id"] == ref["lane_id"]
            found.append(batch)
    return found


def test_distributed_runs_use_the_distributed_batch_size_unless_the_input_sets_one(
    deployed_env: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRAWLMAP_DISTRIBUTED_BATCH_SIZE", "4")
    list_pages_handler.listing_context.cache_clear()
    pages = [f"https://a.test/{i}" for i in range(9)]

    def batch_sizes(run_id: str, execution_input: dict[str, object]) -> list[int]:
        output = list_pages_handler.handler(event(execution_input, run_id=run_id), None)
        return [
            len(b["pages"]) for b in stored_batches(deployed_env, output["run"]["lanes_location"])
        ]

    assert batch_sizes("default", {"pages": pages}) == [4, 4, 1]
    assert batch_sizes("explicit", {"pages": pages, "batch_size": 5}) == [5, 4]


def test_over_the_threshold_only_the_distributed_batches_are_built(
    deployed_env: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []
    real_plan_lanes = listing.plan_lanes

    def recording(tasks: Sequence[PageTask], settings: LaneSettings) -> list[Lane]:
        built.append(settings.batch_size)
        return real_plan_lanes(tasks, settings)

    monkeypatch.setattr(listing, "plan_lanes", recording)
    pages = [f"https://a.test/{i}" for i in range(5)]

    output = list_pages_handler.handler(event({"pages": pages}), None)

    assert output["run"]["mode"] == "distributed"
    assert len(built) == 1


def test_the_input_can_override_the_threshold(deployed_env: AwsClients) -> None:
    output = list_pages_handler.handler(
        event({"pages": [f"https://a.test/{i}" for i in range(5)], "distributed_threshold": 10}),
        None,
    )
    assert output["run"]["mode"] == "inline"
    assert len(batches(output)) == 3


@pytest.mark.parametrize(
    "body",
    [
        b"# pages\nhttps://a.test/1\n\n  https://b.test/2  \r\nhttps://a.test/1\n",
        b'["https://a.test/1", "https://b.test/2", "https://a.test/1"]',
    ],
)
def test_pages_from_an_s3_object(deployed_env: AwsClients, body: bytes) -> None:
    deployed_env.s3.put_object(Bucket=deployed_env.bucket, Key="lists/p.txt", Body=body)
    output = list_pages_handler.handler(
        event({"pages_s3": f"s3://{deployed_env.bucket}/lists/p.txt"}), None
    )
    assert [p["url"] for b in batches(output) for p in b["pages"]] == [
        "https://a.test/1",
        "https://b.test/2",
    ]
    assert output["run"]["duplicates_dropped"] == 1


def test_s3_list_problems_name_pages_s3(deployed_env: AwsClients) -> None:
    with pytest.raises(InvalidInputError, match=r"^pages_s3: cannot read .*NoSuchKey"):
        list_pages_handler.handler(event({"pages_s3": f"s3://{deployed_env.bucket}/no"}), None)
    deployed_env.s3.put_object(Bucket=deployed_env.bucket, Key="bad.json", Body=b'["ok", 3]')
    with pytest.raises(InvalidInputError) as caught:
        list_pages_handler.handler(
            event({"pages_s3": f"s3://{deployed_env.bucket}/bad.json"}), None
        )
    assert caught.value.field == "pages_s3[0]"


def test_an_event_without_the_execution_name_is_refused(deployed_env: AwsClients) -> None:
    with pytest.raises(InvalidInputError, match=r"^execution: "):
        list_pages_handler.handler({"input": {"pages": ["https://a.test/"]}}, None)


@settings(max_examples=30, deadline=None)
@given(count=st.integers(min_value=0, max_value=120), threads=st.integers(min_value=1, max_value=6))
def test_batch_uploads_go_out_once_each_with_few_made_ahead(count: int, threads: int) -> None:
    """Every body is put once, and no more than 2 x threads are made before their PUT ends
    (a million-page run's bodies are not all held at once)."""
    lock = threading.Lock()
    made, put_done, ahead = [0], [], [0]

    def uploads() -> Iterator[int]:
        for n in range(count):
            with lock:
                made[0] += 1
                ahead[0] = max(ahead[0], made[0] - len(put_done))
            yield n

    def put(n: int) -> None:
        time.sleep(0.0005)
        with lock:
            put_done.append(n)

    put_all(put, uploads(), threads)
    assert sorted(put_done) == list(range(count))
    assert ahead[0] <= 2 * threads + 1


def test_a_failed_batch_upload_fails_the_listing_and_stops_the_rest() -> None:
    made = []

    def uploads() -> Iterator[int]:
        for n in range(1000):
            made.append(n)
            yield n

    def put(n: int) -> None:
        if n == 3:
            raise OSError("S3 said no")

    with pytest.raises(OSError, match="S3 said no"):
        put_all(put, uploads(), 2)
    assert len(made) < 1000
