"""Where a distributed batch lives: JSON objects read and written through a small protocol
(S3 on AWS and in the local engine's moto; a dict in tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ObjectStore(Protocol):
    def get_json(self, bucket: str, key: str) -> Any: ...

    def put_json(self, bucket: str, key: str, value: Any) -> None: ...


class ObjectReadError(Exception):
    """The batch object could not be read or is not JSON (the message names it)."""


@dataclass
class S3ObjectStore:
    """ObjectStore on S3: the given client, else lambdas.common.aws's (made once, reused)."""

    client: S3Client | None = None

    def _s3(self) -> S3Client:
        if self.client is not None:
            return self.client
        from lambdas.common.aws import s3_client

        return s3_client()

    def get_json(self, bucket: str, key: str) -> Any:
        body = self._s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ObjectReadError(f"s3://{bucket}/{key}: not JSON ({exc})") from None

    def put_json(self, bucket: str, key: str, value: Any) -> None:
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
