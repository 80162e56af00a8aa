"""Every PageResult of a run, one at a time, from wherever the Map left them.

Inline runs carry the results in the state (a list of BatchResult | BatchFailure). Distributed
runs leave a ResultWriter manifest.json in S3 that names result files; each file is a JSON
array of child-execution records whose Output (or, for a failed child, Input) is a JSON string.
Files are streamed in chunks and decoded element by element, so memory stays bounded by one
chunk plus one record, whatever the run size.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from lambdas.common.errors import InvalidInputError
from lambdas.common.models import PageResult, unmeasured_result

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

OUTCOMES = frozenset({"new", "changed", "unchanged", "failed", "skipped"})
MAX_ERROR_CHARS = 500
READ_CHUNK_BYTES = 1024 * 1024
# ResultWriter groups child executions by status; SUCCEEDED first keeps first_failures stable.
RESULT_FILE_STATUSES = ("SUCCEEDED", "FAILED", "PENDING")
_WHITESPACE = re.compile(r"[ \t\r\n]*")
_ATTEMPT = re.compile(r" \(attempt (\d+)\)")  # CrawlBatch's "<url>: HTTP 500 (attempt 4)"
_LAST_STATUS = re.compile(r"\w[\w.]*: HTTP ([1-5]\d\d)\b")  # "TransientCrawlError: HTTP 503"


class ResultReader(Protocol):
    def read_bytes(self, bucket: str, key: str) -> bytes:
        """A small object whole (the manifest)."""
        ...

    def iter_chunks(self, bucket: str, key: str) -> Iterable[bytes]:
        """A large object piece by piece (a result file)."""
        ...


@dataclass
class S3ResultReader:
    """ResultReader on S3; the client is created on first use (and reused)."""

    client: S3Client | None = None
    chunk_bytes: int = READ_CHUNK_BYTES

    def _s3(self) -> S3Client:
        if self.client is None:
            from lambdas.common.aws import s3_client

            self.client = s3_client()
        return self.client

    def read_bytes(self, bucket: str, key: str) -> bytes:
        return self._s3().get_object(Bucket=bucket, Key=key)["Body"].read()

    def iter_chunks(self, bucket: str, key: str) -> Iterator[bytes]:
        body = self._s3().get_object(Bucket=bucket, Key=key)["Body"]
        try:
            yield from body.iter_chunks(self.chunk_bytes)
        finally:
            body.close()


# ---------------------------------------------------------------- failures -> page results


def describe_error(error: object, cause: object, url: str | None = None) -> str:
    """'<Error>: <message>': the message is a Lambda cause's errorMessage when it has one.

    CrawlBatch's TransientCrawlError message starts with the page's URL ("<url>: HTTP 500");
    on that page's own record the URL is dropped, as on every other failure record.
    """
    name = error if isinstance(error, str) and error else "UnknownError"
    detail = ""
    if isinstance(cause, str) and cause.strip():
        detail = cause.strip()
        try:
            parsed = json.loads(detail)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
            detail = parsed["errorMessage"].strip()
    if url and detail.startswith(f"{url}: "):
        detail = detail[len(url) + 2 :]
    detail = _ATTEMPT.sub("", detail)
    text = f"{name}: {detail}" if detail else name
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def failed_result(url: str, error: str, attempts: int = 1) -> PageResult:
    """The record of a page whose batch failed as a whole (nothing was measured).

    When the error names the HTTP status the page last answered ("TransientCrawlError:
    HTTP 500"), the record keeps it: the site did answer, the retries never did better.
    """
    result = unmeasured_result(url, error=error, attempts=attempts)
    status = _LAST_STATUS.match(error)
    if status:
        result["status"] = int(status.group(1))
    return result


def attempts_made(cause: object) -> int:
    """How many times CrawlBatch tried: its TransientCrawlError says "(attempt N)" at the end.

    Step Functions' Catch does not say how many Retry attempts came before; CrawlBatch knows
    ($$.State.RetryCount arrives in its event), so it writes the number into the message.
    """
    match = _ATTEMPT.search(cause) if isinstance(cause, str) else None
    return int(match.group(1)) if match else 1


def failure_results(urls: Iterable[str], error: object, cause: object) -> Iterator[PageResult]:
    """One failed record per page of a batch (or child execution) that failed as a whole."""
    pages = list(urls)
    error_text = describe_error(error, cause, pages[0] if len(pages) == 1 else None)
    attempts = attempts_made(cause)
    for url in pages:
        yield failed_result(url, error_text, attempts)


def _page_urls(pages: object, field: str) -> Iterator[str]:
    if not isinstance(pages, list):
        raise InvalidInputError(field, "must be the batch's list of pages")
    for index, page in enumerate(pages):
        url = page.get("url") if isinstance(page, Mapping) else None
        if not isinstance(url, str):
            raise InvalidInputError(f"{field}[{index}]", "must be a page task with a url")
        yield url


def _checked(result: object, field: str) -> PageResult:
    if not isinstance(result, Mapping):
        raise InvalidInputError(field, "must be a page result object")
    if (
        not isinstance(result.get("url"), str)
        or result.get("outcome") not in OUTCOMES
        or not isinstance(result.get("ok"), bool)
    ):
        raise InvalidInputError(field, "must be a page result with url, ok and a known outcome")
    page: PageResult = dict(result)  # type: ignore[assignment]
    return page


def batch_results(item: object, field: str) -> Iterator[PageResult]:
    """The page results of one Map iteration's output: a BatchResult or a BatchFailure."""
    if not isinstance(item, Mapping):
        raise InvalidInputError(field, "must be a batch result object")
    failure = item.get("failure")
    if failure is not None:
        if not isinstance(failure, Mapping):
            raise InvalidInputError(f"{field}.failure", "must be an object")
        urls = _page_urls(failure.get("pages"), f"{field}.failure.pages")
        yield from failure_results(urls, failure.get("error"), failure.get("cause"))
    results = item.get("results", [])
    if not isinstance(results, list):
        raise InvalidInputError(f"{field}.results", "must be a list")
    for index, result in enumerate(results):
        yield _checked(result, f"{field}.results[{index}]")


def inline_results(batches: list[Any]) -> Iterator[PageResult]:
    for index, item in enumerate(batches):
        yield from batch_results(item, f"batches[{index}]")


# ---------------------------------------------------------------- streaming JSON arrays


class _JsonArrayStream:
    """Decodes the elements of one top-level JSON array from a stream of byte chunks."""

    def __init__(self, chunks: Iterable[bytes], source: str) -> None:
        self._chunks = iter(chunks)
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()
        self._buffer = ""
        self._pos = 0
        self._eof = False
        self._source = source

    def _error(self, problem: str) -> InvalidInputError:
        return InvalidInputError("batches.result_writer", f"{self._source}: {problem}")

    def _fill(self) -> bool:
        """Append the next chunk (dropping what was consumed); False once the stream is done."""
        if self._eof:
            return False
        chunk = next(self._chunks, None)
        try:
            if chunk is None:
                self._eof = True
                tail = self._utf8.decode(b"", final=True)
            else:
                tail = self._utf8.decode(chunk)
        except UnicodeDecodeError:
            raise self._error("is not UTF-8") from None
        self._buffer = self._buffer[self._pos :] + tail
        self._pos = 0
        return True

    def _next_char(self) -> str | None:
        """The next non-whitespace character (not consumed), or None at the end."""
        while True:
            match = _WHITESPACE.match(self._buffer, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._fill():
                return None

    def _expect(self, allowed: str) -> str:
        char = self._next_char()
        if char is None or char not in allowed:
            found = "the end" if char is None else repr(char)
            raise self._error(f"expected {' or '.join(allowed)} but found {found}")
        self._pos += 1
        return char

    def _value(self) -> Any:
        self._next_char()
        while True:
            try:
                value, end = self._json.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                if self._fill():
                    continue
                raise self._error(f"is not valid JSON ({exc.msg})") from None
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(self._buffer) and self._fill():
                continue
            self._pos = end
            return value

    def __iter__(self) -> Iterator[Any]:
        self._expect("[")
        if self._next_char() == "]":
            self._pos += 1
        else:
            while True:
                yield self._value()
                if self._expect(",]") == "]":
                    break
        if self._next_char() is not None:
            raise self._error("has data after the JSON array")


def iter_json_array(chunks: Iterable[bytes], source: str = "result file") -> Iterator[Any]:
    """Each element of a JSON array, decoded as the bytes arrive."""
    return iter(_JsonArrayStream(chunks, source))


# ---------------------------------------------------------------- distributed (ResultWriter)


@dataclass(frozen=True)
class ResultFile:
    status: str
    bucket: str
    key: str


def parse_manifest(manifest: object, default_bucket: str) -> list[ResultFile]:
    """The result files a ResultWriter manifest.json names, SUCCEEDED first."""
    field = "batches.result_writer"
    if not isinstance(manifest, Mapping) or not isinstance(manifest.get("ResultFiles"), Mapping):
        raise InvalidInputError(field, "manifest.json has no ResultFiles")
    bucket = manifest.get("DestinationBucket") or default_bucket
    if not isinstance(bucket, str):
        raise InvalidInputError(field, "manifest.json DestinationBucket must be a string")
    files: list[ResultFile] = []
    for status in RESULT_FILE_STATUSES:
        entries = manifest["ResultFiles"].get(status) or []
        if not isinstance(entries, list):
            raise InvalidInputError(field, f"manifest.json ResultFiles.{status} must be a list")
        for entry in entries:
            key = entry.get("Key") if isinstance(entry, Mapping) else None
            if not isinstance(key, str):
                raise InvalidInputError(field, f"manifest.json ResultFiles.{status} needs Keys")
            files.append(ResultFile(status=status, bucket=bucket, key=key))
    return files


def _json_field(record: Mapping[str, Any], name: str, where: str) -> Any:
    value = record.get(name)
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise InvalidInputError("batches.result_writer", f"{where}: {name} is not JSON") from None


def child_results(record: object, where: str) -> Iterator[PageResult]:
    """The page results of one child execution record of a result file."""
    if not isinstance(record, Mapping):
        raise InvalidInputError("batches.result_writer", f"{where}: not an execution record")
    output = _json_field(record, "Output", where)
    if record.get("Status", "SUCCEEDED") == "SUCCEEDED" and output is not None:
        yield from batch_results(output, where)
        return
    # The child failed as a whole (timeout, abort, error RecordFailure did not catch):
    # every page it was given becomes a failed record.
    given = _json_field(record, "Input", where)
    if not isinstance(given, Mapping):
        raise InvalidInputError("batches.result_writer", f"{where}: failed child has no Input")
    error = record.get("Error") or f"States.{record.get('Status')}"
    urls = _page_urls(given.get("pages"), f"{where} Input.pages")
    yield from failure_results(urls, error, record.get("Cause"))


def distributed_results(location: object, reader: ResultReader) -> Iterator[PageResult]:
    """Every page result of a distributed run, streamed file by file."""
    field = "batches.result_writer"
    if not isinstance(location, Mapping):
        raise InvalidInputError(field, "must be {'Bucket': ..., 'Key': <manifest.json key>}")
    bucket, key = location.get("Bucket"), location.get("Key")
    if not isinstance(bucket, str) or not isinstance(key, str):
        raise InvalidInputError(field, "needs the manifest's Bucket and Key as strings")
    try:
        manifest = json.loads(reader.read_bytes(bucket, key))
    except ValueError:
        raise InvalidInputError(field, f"s3://{bucket}/{key} is not JSON") from None
    for result_file in parse_manifest(manifest, bucket):
        source = f"s3://{result_file.bucket}/{result_file.key}"
        records = iter_json_array(reader.iter_chunks(result_file.bucket, result_file.key), source)
        for index, record in enumerate(records):
            yield from child_results(record, f"{source}[{index}]")


def run_results(batches: object, reader: ResultReader) -> Iterator[PageResult]:
    """The run's page results from StoreAndNotify's `batches` input, inline or distributed."""
    if isinstance(batches, list):
        return inline_results(batches)
    if isinstance(batches, Mapping) and "result_writer" in batches:
        return distributed_results(batches["result_writer"], reader)
    raise InvalidInputError(
        "batches", "must be the Map's list of batch results or {'result_writer': {...}}"
    )
