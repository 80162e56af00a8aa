"""Where a run's notification goes: SNS when deployed, the console (and a file) locally."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from lambdas.common import env
from lambdas.common.errors import ConfigError
from lambdas.common.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

# SNS: "Subjects must be ... less than 100 characters long", no line breaks or control characters.
MAX_SUBJECT_CHARS = 99


class Notifier(Protocol):
    def publish(self, subject: str, message: str) -> None: ...


def clean_subject(subject: str) -> str:
    """One printable line of at most MAX_SUBJECT_CHARS characters (SNS rejects anything else)."""
    text = "".join(ch if ch.isprintable() else " " for ch in subject)
    text = " ".join(text.split())
    if len(text) > MAX_SUBJECT_CHARS:
        text = text[: MAX_SUBJECT_CHARS - 3].rstrip() + "..."
    return text or "crawlmap"


class SnsNotifier:
    """Publishes to an SNS topic (the stack subscribes the optional e-mail address)."""

    def __init__(self, topic_arn: str, *, client: SNSClient | None = None) -> None:
        self.topic_arn = topic_arn
        self._client = client

    @property
    def client(self) -> SNSClient:
        if self._client is None:
            from lambdas.common.aws import sns_client

            self._client = sns_client()
        return self._client

    def publish(self, subject: str, message: str) -> None:
        self.client.publish(
            TopicArn=self.topic_arn, Subject=clean_subject(subject), Message=message
        )


class ConsoleNotifier:
    """Prints the notification; also appends it as one JSON line to `path` when given."""

    def __init__(self, path: str | Path | None = None, *, stream: TextIO | None = None) -> None:
        self.path = Path(path) if path else None
        self._stream = stream
        self._lock = threading.Lock()

    def publish(self, subject: str, message: str) -> None:
        subject = clean_subject(subject)
        stream = self._stream if self._stream is not None else sys.stdout
        with self._lock:
            print(f"{subject}\n{message}", file=stream, flush=True)
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"subject": subject, "message": message}) + "\n")


def open_notifier(settings: Settings) -> Notifier:
    """The console when running locally (CRAWLMAP_SQLITE_PATH set), else SNS."""
    if settings.sqlite_path:
        return ConsoleNotifier(settings.notify_file or None)
    if not settings.topic_arn:
        raise ConfigError(env.TOPIC_ARN, "not set: give the SNS topic ARN to publish to")
    return SnsNotifier(settings.topic_arn)
