"""Validation of the execution input (docs/CONTRACT.md, "Execution input"). Pure: no I/O.

Every problem raises InvalidInputError(field, problem) with the field path the user wrote,
e.g. `pages[3]`, so the InvalidInput Fail state can say exactly what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.common import env, tunables
from lambdas.common.errors import ConfigError, InvalidInputError
from lambdas.common.settings import Settings
from lambdas.common.urls import UrlError, canonicalize

SOURCE_KEYS = ("pages", "sitemap", "pages_s3")
OPTION_KEYS = ("batch_size", "distributed_threshold")
# The same ranges as cdk.json's keys (lambdas/common/tunables.py).
BATCH_SIZE_RANGE = tunables.int_range("batch_size")
DISTRIBUTED_THRESHOLD_RANGE = tunables.int_range("distributed_threshold")  # 0: all distributed
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class ExplicitPages:
    urls: tuple[Any, ...]  # as given: each item is checked (and its index named) later


@dataclass(frozen=True)
class SitemapSource:
    url: str  # canonical


@dataclass(frozen=True)
class S3Source:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


Source = ExplicitPages | SitemapSource | S3Source


@dataclass(frozen=True)
class ExecutionRequest:
    source: Source
    source_field: str  # "pages" | "sitemap" | "pages_s3": what errors about the page set name
    batch_size: int
    distributed_threshold: int
    # Pages per batch when the run goes distributed: bigger by default, because each child
    # execution started costs a state transition. An explicit batch_size applies to both paths.
    distributed_batch_size: int


def describe_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def field_name(key: object) -> str:
    """A key as it can be shown in a message: short and printable."""
    text = key if isinstance(key, str) else repr(key)
    if len(text) <= 40 and text.isprintable() and text.strip() == text and text:
        return text
    return repr(text[:37] + "..." if len(text) > 40 else text)


def _whole_number(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(field, f"must be a whole number, got {describe_type(value)}")
    if not low <= value <= high:
        raise InvalidInputError(field, f"must be between {low} and {high}, got {value}")
    return value


def _parse_source(key: str, value: object) -> Source:
    if key == "pages":
        if not isinstance(value, list):
            raise InvalidInputError("pages", f"must be a list of URLs, got {describe_type(value)}")
        if not value:
            raise InvalidInputError("pages", "is empty: give at least one URL")
        return ExplicitPages(urls=tuple(value))
    if not isinstance(value, str):
        raise InvalidInputError(key, f"must be a string, got {describe_type(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(key, "is not valid Unicode text") from None
    if key == "sitemap":
        try:
            return SitemapSource(url=canonicalize(value, ()))
        except UrlError as exc:
            raise InvalidInputError("sitemap", str(exc)) from None
    return parse_s3_uri(value, key)


def parse_s3_uri(value: str, field: str = "pages_s3") -> S3Source:
    text = value.strip()
    if not text.startswith("s3://"):
        raise InvalidInputError(field, "must be an S3 URI like s3://bucket/key.txt")
    bucket, _, key = text[len("s3://") :].partition("/")
    if not _BUCKET_NAME.match(bucket):
        raise InvalidInputError(field, f"{field_name(bucket)} is not a valid S3 bucket name")
    if not key or len(key.encode("utf-8")) > 1024:
        raise InvalidInputError(field, "needs an object key of 1 to 1024 bytes after the bucket")
    return S3Source(bucket=bucket, key=key)


def _default_source(settings: Settings) -> tuple[str, Source]:
    configured = dict(settings.default_source)
    keys = [key for key in configured if key in SOURCE_KEYS]
    if not configured:
        raise InvalidInputError(
            "input",
            "no page source: give one of pages, sitemap or pages_s3"
            f" ({env.DEFAULT_SOURCE} is not set)",
        )
    if len(keys) != 1 or len(configured) != 1:
        raise ConfigError(env.DEFAULT_SOURCE, "must hold exactly one of pages, sitemap, pages_s3")
    try:
        return keys[0], _parse_source(keys[0], configured[keys[0]])
    except InvalidInputError as exc:
        raise ConfigError(env.DEFAULT_SOURCE, str(exc)) from None


def parse_execution_input(raw: object, settings: Settings) -> ExecutionRequest:
    """The validated request, or InvalidInputError naming the first bad field."""
    if not isinstance(raw, Mapping):
        raise InvalidInputError("input", f"must be a JSON object, got {describe_type(raw)}")
    for key in raw:
        if key not in SOURCE_KEYS and key not in OPTION_KEYS:
            raise InvalidInputError(
                field_name(key),
                "unknown key; expected one of pages, sitemap, pages_s3,"
                " batch_size, distributed_threshold",
            )
    given = [key for key in SOURCE_KEYS if key in raw]
    if len(given) > 1:
        raise InvalidInputError(given[1], f"give only one page source, not both {given[0]} and it")
    if given:
        source_field, source = given[0], _parse_source(given[0], raw[given[0]])
    else:
        source_field, source = _default_source(settings)
    batch_size = settings.batch_size
    distributed_batch_size = settings.distributed_batch_size
    if "batch_size" in raw:
        batch_size = _whole_number(raw["batch_size"], "batch_size", *BATCH_SIZE_RANGE)
        distributed_batch_size = batch_size
    threshold = settings.distributed_threshold
    if "distributed_threshold" in raw:
        threshold = _whole_number(
            raw["distributed_threshold"], "distributed_threshold", *DISTRIBUTED_THRESHOLD_RANGE
        )
    return ExecutionRequest(
        source=source,
        source_field=source_field,
        batch_size=batch_size,
        distributed_threshold=threshold,
        distributed_batch_size=distributed_batch_size,
    )


def canonical_page(value: object, field: str, drop: frozenset[str] = frozenset()) -> str:
    """One page URL of the input, canonical, or InvalidInputError naming its field."""
    if not isinstance(value, str):
        raise InvalidInputError(field, f"must be a URL, got {describe_type(value)}")
    try:
        url = canonicalize(value, drop)
        url.encode("utf-8")  # a lone surrogate (JSON "\\ud800") cannot be stored or sent
    except UrlError as exc:
        raise InvalidInputError(field, str(exc)) from None
    except UnicodeEncodeError:
        raise InvalidInputError(field, "is not valid Unicode text") from None
    return url


def check_execution_input(raw: object, settings: Settings) -> ExecutionRequest:
    """parse_execution_input, and every explicit page URL checked as ListPages will check it.

    What `cdk synth` runs on schedule.input and default_source, so that the schedule never
    starts a run that ListPages refuses.
    """
    request = parse_execution_input(raw, settings)
    if isinstance(request.source, ExplicitPages):
        pages = request.source.urls
        if len(pages) > settings.max_pages:
            raise InvalidInputError(
                request.source_field, f"has more than {settings.max_pages} pages (max_pages)"
            )
        for index, url in enumerate(pages):
            canonical_page(url, f"{request.source_field}[{index}]")
    return request
