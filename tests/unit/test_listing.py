"""Pure parts of ListPages: input validation, canonical dedupe, batching, mode, sitemap parsing."""

from __future__ import annotations

import gzip
from collections import Counter
from typing import Any

import pytest

from lambdas.common.errors import ConfigError, InvalidInputError
from lambdas.common.host_keys import host_key
from lambdas.common.models import Batch, PageTask
from lambdas.common.settings import Settings
from lambdas.list_pages.execution_input import (
    ExplicitPages,
    S3Source,
    SitemapSource,
    parse_execution_input,
)
from lambdas.list_pages.lanes import LaneSettings, plan_lanes
from lambdas.list_pages.listing import (
    INLINE_BATCHES_LIMIT_BYTES,
    canonical_pages,
    choose_mode,
)
from lambdas.list_pages.sitemap import SitemapError, decompress_if_gzip, parse_sitemap
from lambdas.list_pages.sources import Candidate, explicit_candidates

SETTINGS = Settings(batch_size=10, distributed_threshold=500, max_pages=5)


def field_of(raw: object, settings: Settings = SETTINGS) -> str:
    with pytest.raises(InvalidInputError) as caught:
        parse_execution_input(raw, settings)
    assert str(caught.value).startswith(f"{caught.value.field}: ")
    return caught.value.field


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([], "input"),
        ("https://a.test/", "input"),
        ({"pages": [], "colour": "red"}, "colour"),
        ({"pages": ["https://a.test/"], "sitemap": "https://a.test/s.xml"}, "sitemap"),
        ({"pages": "https://a.test/"}, "pages"),
        ({"pages": []}, "pages"),
        ({"sitemap": 3}, "sitemap"),
        ({"sitemap": "ftp://a.test/s.xml"}, "sitemap"),
        ({"pages_s3": "https://bucket/key"}, "pages_s3"),
        ({"pages_s3": "s3://bucket"}, "pages_s3"),
        ({"pages_s3": "s3://UPPER/key"}, "pages_s3"),
        ({"pages": ["https://a.test/"], "batch_size": 0}, "batch_size"),
        ({"pages": ["https://a.test/"], "batch_size": 101}, "batch_size"),
        ({"pages": ["https://a.test/"], "batch_size": True}, "batch_size"),
        ({"pages": ["https://a.test/"], "batch_size": 2.0}, "batch_size"),
        ({"pages": ["https://a.test/"], "distributed_threshold": -1}, "distributed_threshold"),
        ({"pages": ["https://a.test/"], "distributed_threshold": "9"}, "distributed_threshold"),
        ({}, "input"),  # no default source configured
    ],
)
def test_each_invalid_input_names_its_field(raw: object, field: str) -> None:
    assert field_of(raw) == field


def test_valid_inputs_parse_with_overrides() -> None:
    request = parse_execution_input(
        {"pages": ["https://a.test/"], "batch_size": 3, "distributed_threshold": 0}, SETTINGS
    )
    assert request.source == ExplicitPages(urls=("https://a.test/",))
    assert (request.batch_size, request.distributed_threshold) == (3, 0)
    sitemap = parse_execution_input({"sitemap": "HTTPS://A.test/s.xml#x"}, SETTINGS)
    assert sitemap.source == SitemapSource(url="https://a.test/s.xml")
    assert (sitemap.batch_size, sitemap.distributed_threshold) == (10, 500)
    s3 = parse_execution_input({"pages_s3": "s3://my-bucket/lists/pages.txt"}, SETTINGS)
    assert s3.source == S3Source(bucket="my-bucket", key="lists/pages.txt")


def test_empty_input_uses_the_configured_default_source() -> None:
    settings = Settings(default_source={"sitemap": "https://a.test/sitemap.xml"})
    request = parse_execution_input({"batch_size": 4}, settings)
    assert request.source == SitemapSource(url="https://a.test/sitemap.xml")
    assert request.batch_size == 4
    with pytest.raises(ConfigError, match="CRAWLMAP_DEFAULT_SOURCE"):
        parse_execution_input({}, Settings(default_source={"pages": "nope"}))


def pages_of(urls: list[object], max_pages: int = 5) -> tuple[list[str], int]:
    return canonical_pages(
        explicit_candidates(ExplicitPages(urls=tuple(urls))),
        tracking_params={"ref"},
        max_pages=max_pages,
        source_field="pages",
    )


def test_canonical_dedupe_keeps_first_occurrence_and_counts_duplicates() -> None:
    urls, dropped = pages_of(
        [
            "https://b.test/x?utm_source=mail",
            "https://a.test",
            "HTTPS://A.TEST:443/",
            "https://b.test/x?ref=home",
            "https://a.test/#top",
        ]
    )
    assert urls == ["https://b.test/x", "https://a.test/"]
    assert dropped == 3


@pytest.mark.parametrize(
    ("urls", "field", "problem"),
    [
        (["https://a.test/", "ftp://a.test/"], "pages[1]", "only http and https"),
        (["https://a.test/", 7], "pages[1]", "must be a URL, got a number"),
        (["https://a.test/" + "x" * 2100], "pages[0]", "longer than 2083"),
        (["https://user:pw@a.test/"], "pages[0]", "credentials"),
        ([f"https://a.test/{i}" for i in range(6)], "pages", "more than 5 pages"),
    ],
)
def test_bad_urls_name_their_index(urls: list[object], field: str, problem: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        pages_of(urls)
    assert caught.value.field == field
    assert problem in caught.value.problem


def test_duplicates_do_not_count_against_the_page_limit() -> None:
    urls, dropped = pages_of(["https://a.test/"] * 50, max_pages=1)
    assert (urls, dropped) == (["https://a.test/"], 49)


def make_batches(tasks: list[PageTask], batch_size: int) -> list[Batch]:
    """The batches of a one-lane plan (one Map slot): the order CrawlLane runs them in."""
    plan = LaneSettings(batch_size, per_host_concurrency=4, per_host_delay=0.0, max_lanes=1)
    [lane] = plan_lanes(tasks, plan)
    return lane["batches"]


def host_of(url: str) -> str:
    return host_key(url).removeprefix("https://")


def test_batches_interleave_hosts() -> None:
    tasks = [
        PageTask(url=f"https://{host}.test/{i}", previous=None)
        for host in ("a", "b", "c")
        for i in range(10)
    ]
    batches = make_batches(tasks, batch_size=3)

    assert [b["batch_id"] for b in batches] == list(range(10))
    for batch in batches:
        assert sorted(host_of(p["url"]) for p in batch["pages"]) == ["a.test", "b.test", "c.test"]
    flattened = [p["url"] for b in batches for p in b["pages"]]
    assert sorted(flattened) == sorted(t["url"] for t in tasks)


def test_a_dominant_host_is_spread_behind_the_others() -> None:
    tasks = [PageTask(url=f"https://big.test/{i}", previous=None) for i in range(8)]
    tasks += [PageTask(url="https://small.test/", previous=None)]
    batches = make_batches(tasks, batch_size=4)
    assert [len(b["pages"]) for b in batches] == [4, 4, 1]
    first_hosts = Counter(host_of(p["url"]) for p in batches[0]["pages"])
    assert first_hosts == {"big.test": 3, "small.test": 1}


def test_mode_switches_on_count_and_on_payload_size() -> None:
    assert choose_mode(500, 500, 1000, 1000) == "inline"
    assert choose_mode(501, 500, 1000, 1000) == "distributed"
    assert choose_mode(10, 500, INLINE_BATCHES_LIMIT_BYTES + 1, 1000) == "distributed"
    assert choose_mode(10, 500, 1000, 300 * 1024) == "distributed"


def test_sitemap_urlset_and_index_are_read_in_order() -> None:
    urlset = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url><loc> https://a.test/one?x=1&amp;y=2 </loc>
       <image:image><image:loc>https://a.test/pic.png</image:loc></image:image></url>
  <url><loc><![CDATA[https://a.test/two]]></loc><lastmod>2024-01-01</lastmod></url>
</urlset>"""
    parsed = parse_sitemap(urlset)
    assert parsed.kind == "urlset"
    assert parsed.locations == ["https://a.test/one?x=1&y=2", "https://a.test/two"]

    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://a.test/s1.xml</loc></sitemap></sitemapindex>"""
    assert parse_sitemap(index).kind == "sitemapindex"
    assert parse_sitemap(index).locations == ["https://a.test/s1.xml"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
            b"<urlset><url><loc>&lol;</loc></url></urlset>",
            "DOCTYPE",
        ),
        (b'<!DOCTYPE urlset SYSTEM "http://10.0.0.1/x.dtd"><urlset/>', "DOCTYPE"),
        (b"<html><body>not found</body></html>", "root element is <html>"),
        (b"<urlset><url><loc>https://a.test/</url></urlset>", "not well-formed"),
        (b"", "not well-formed"),
    ],
)
def test_unsafe_or_broken_sitemaps_are_refused(body: bytes, problem: str) -> None:
    with pytest.raises(SitemapError, match=problem):
        parse_sitemap(body)


def test_gzip_sitemaps_are_decompressed_with_a_cap() -> None:
    assert decompress_if_gzip(gzip.compress(b"<urlset/>")) == b"<urlset/>"
    assert decompress_if_gzip(b"<urlset/>") == b"<urlset/>"
    bomb = gzip.compress(b"\0" * (2 * 1024 * 1024))
    with pytest.raises(SitemapError, match="larger than 1 MiB"):
        decompress_if_gzip(bomb, limit=1024 * 1024)


def test_candidates_are_lazy_so_the_limit_stops_early() -> None:
    seen: list[int] = []

    def endless() -> Any:
        index = 0
        while True:
            seen.append(index)
            yield Candidate("sitemap", "", f"https://a.test/{index}")
            index += 1

    with pytest.raises(InvalidInputError, match="more than 5 pages"):
        canonical_pages(endless(), tracking_params=(), max_pages=5, source_field="sitemap")
    assert len(seen) == 6
