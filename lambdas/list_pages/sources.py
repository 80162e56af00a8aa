"""Where the pages come from: the explicit list, a sitemap (index) over HTTP, an S3 object.

Each source yields candidates lazily: (field, where, raw value). The field and `where` name
the entry in an error message; laziness lets the page limit stop a huge sitemap index before
every child sitemap is fetched. Fetching is injected (tests serve sitemaps from 127.0.0.1).
A sitemap's bad entries and dead child sitemaps are problems (problems.py), not errors: only
a top-level sitemap that cannot be read, or that yields no page at all, fails the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from lambdas.common.errors import InvalidInputError
from lambdas.common.settings import Settings
from lambdas.common.urls import UrlError, canonicalize
from lambdas.list_pages.execution_input import ExplicitPages, S3Source, SitemapSource, Source
from lambdas.list_pages.problems import ProblemLog, describe_exception, quoted
from lambdas.list_pages.sitemap import (
    MAX_SITEMAP_BYTES,
    SitemapError,
    decompress_if_gzip,
    parse_sitemap,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_PAGE_LIST_BYTES = 64 * 1024 * 1024  # an S3 page list: 100,000 long URLs fit well under it


class SourceError(Exception):
    """A source could not be read (HTTP error, timeout, missing object); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


SitemapFetcher = Callable[[str, int], bytes]
"""(url, max_bytes) -> body; raises SourceError."""


class ObjectStore(Protocol):
    def get_bytes(self, bucket: str, key: str, max_bytes: int) -> bytes:
        """The object's bytes; raises SourceError when it is missing, unreadable or too big."""
        ...

    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


class Candidate(NamedTuple):
    field: str  # e.g. "pages[3]" or "sitemap"
    where: str  # e.g. "" or "entry 12 of https://example.com/sitemap.xml: "
    value: object
    # The sitemap the entry came from: a bad entry there is a problem of that sitemap, left
    # out of the run. None (the user's own list): a bad entry is invalid input.
    source: str | None = None
    entry: int = 0  # its number in that sitemap


def safe_http_fetcher(settings: Settings) -> SitemapFetcher:
    """Fetch sitemaps through the SSRF-guarded client (lambdas.common.safe_http)."""

    def fetch(url: str, max_bytes: int) -> bytes:
        from lambdas.common.safe_http import FetchError, fetch_bytes

        try:
            return fetch_bytes(url, settings, max_bytes=max_bytes)
        except FetchError as exc:
            raise SourceError(exc.reason) from None

    return fetch


@dataclass
class S3Objects:
    """ObjectStore on S3; the client is created on first use (and reused)."""

    client: S3Client | None = None

    def _s3(self) -> S3Client:
        if self.client is None:
            from lambdas.common.aws import s3_client

            self.client = s3_client()
        return self.client

    def get_bytes(self, bucket: str, key: str, max_bytes: int) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self._s3().get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise SourceError(f"cannot read s3://{bucket}/{key} ({code})") from None
        if response.get("ContentLength", 0) > max_bytes:
            raise SourceError(f"s3://{bucket}/{key} is larger than {max_bytes} bytes")
        return response["Body"].read(max_bytes + 1)

    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self._s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def explicit_candidates(source: ExplicitPages) -> Iterator[Candidate]:
    for index, value in enumerate(source.urls):
        yield Candidate(f"pages[{index}]", "", value)


def _load_sitemap(url: str, fetch: SitemapFetcher) -> tuple[str, list[str]]:
    """The sitemap's kind and locations; SourceError (with the reason) for anything else."""
    try:
        body = decompress_if_gzip(fetch(url, MAX_SITEMAP_BYTES))
        sitemap = parse_sitemap(body)
    except SourceError as exc:
        raise SourceError(f"could not fetch {url}: {exc.reason}") from None
    except SitemapError as exc:
        raise SourceError(f"{url} {exc}") from None
    except Exception as exc:  # a fetcher or parser bug is this sitemap's problem, not the run's
        raise SourceError(f"could not read {url} ({describe_exception(exc)})") from None
    return sitemap.kind, sitemap.locations


def _urlset_candidates(url: str, locations: list[str]) -> Iterator[Candidate]:
    for number, loc in enumerate(locations, start=1):
        yield Candidate("sitemap", f"entry {number} of {url}: ", loc, url, number)


def sitemap_candidates(
    source: SitemapSource, fetch: SitemapFetcher, problems: ProblemLog | None = None
) -> Iterator[Candidate]:
    """The pages of a sitemap, or of each sitemap a sitemap index lists (one level deep).

    Only the top-level sitemap must be readable (else InvalidInputError): a child sitemap
    that cannot be fetched or parsed, or a bad child `<loc>`, is recorded in `problems` and
    the other children are read. Page entries carry their sitemap as `source`, so that
    canonical_pages records a bad one as a problem too.
    """
    log = problems if problems is not None else ProblemLog()
    try:
        kind, locations = _load_sitemap(source.url, fetch)
    except SourceError as exc:
        raise InvalidInputError("sitemap", exc.reason) from None
    if kind == "urlset":
        yield from _urlset_candidates(source.url, locations)
        return
    seen: set[str] = set()
    for number, loc in enumerate(locations, start=1):
        try:
            child = canonicalize(loc, ())
        except Exception as exc:  # UrlError, or whatever else a hostile <loc> provokes
            reason = exc if isinstance(exc, UrlError) else describe_exception(exc)
            log.add(source.url, f"sitemap {number} ({quoted(loc)}): {reason}")
            continue
        if child in seen:
            continue
        seen.add(child)
        try:
            child_kind, child_locations = _load_sitemap(child, fetch)
        except SourceError as exc:
            log.add(child, exc.reason)
            continue
        if child_kind != "urlset":
            log.add(child, "is a sitemap index inside an index; only one level is read")
            continue
        yield from _urlset_candidates(child, child_locations)


def s3_candidates(source: S3Source, objects: ObjectStore) -> Iterator[Candidate]:
    """One URL per line (blank lines and # comments skipped), or a JSON array of URLs."""
    try:
        body = objects.get_bytes(source.bucket, source.key, MAX_PAGE_LIST_BYTES)
    except SourceError as exc:
        raise InvalidInputError("pages_s3", exc.reason) from None
    if len(body) > MAX_PAGE_LIST_BYTES:
        raise InvalidInputError("pages_s3", f"{source.uri} is larger than 64 MiB")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError("pages_s3", f"{source.uri} is not UTF-8 text") from None
    if text.lstrip().startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = f"{source.uri} starts with [ but is not a JSON array ({exc.msg})"
            raise InvalidInputError("pages_s3", problem) from None
        if not isinstance(values, list):
            raise InvalidInputError("pages_s3", f"{source.uri} is not a JSON array")
        for index, value in enumerate(values):
            yield Candidate(f"pages_s3[{index}]", "", value)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield Candidate("pages_s3", f"line {number} of {source.uri}: ", stripped)


def candidates(
    source: Source,
    *,
    fetch_sitemap: SitemapFetcher,
    objects: ObjectStore,
    problems: ProblemLog | None = None,
) -> Iterator[Candidate]:
    if isinstance(source, ExplicitPages):
        return explicit_candidates(source)
    if isinstance(source, SitemapSource):
        return sitemap_candidates(source, fetch_sitemap, problems)
    return s3_candidates(source, objects)
