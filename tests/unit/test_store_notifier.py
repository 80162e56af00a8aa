"""The notifiers: SNS (moto's SNS, read back through an SQS subscription) and the console."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from lambdas.common.errors import ConfigError
from lambdas.common.notifier import (
    ConsoleNotifier,
    SnsNotifier,
    clean_subject,
    open_notifier,
)
from lambdas.common.settings import Settings
from tests.lambdas.data_support import AwsClients, aws, published_messages

__all__ = ["aws"]  # fixture used by name


def test_subjects_are_one_short_printable_line() -> None:
    assert clean_subject("run\nabc:\t1 ok") == "run abc: 1 ok"
    long = clean_subject("x" * 150)
    assert len(long) == 99
    assert long.endswith("...")
    assert clean_subject("\n") == "crawlmap"


def test_sns_notifier_publishes_a_clean_subject(aws: AwsClients) -> None:
    SnsNotifier(aws.topic_arn, client=aws.sns).publish("crawlmap run r1:\n2 ok", "body text")
    assert published_messages(aws) == [{"subject": "crawlmap run r1: 2 ok", "message": "body text"}]


def test_console_notifier_prints_and_appends_json_lines(tmp_path: Path) -> None:
    stream = io.StringIO()
    path = tmp_path / "deep" / "notification.jsonl"
    notifier = ConsoleNotifier(path, stream=stream)
    notifier.publish("first", "one")
    notifier.publish("second", "two\nlines")

    assert stream.getvalue() == "first\none\nsecond\ntwo\nlines\n"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {"subject": "first", "message": "one"},
        {"subject": "second", "message": "two\nlines"},
    ]


def test_open_notifier_picks_by_settings(tmp_path: Path) -> None:
    local = open_notifier(Settings(sqlite_path=str(tmp_path / "s.db"), notify_file="n.json"))
    assert isinstance(local, ConsoleNotifier)
    assert local.path == Path("n.json")
    deployed = open_notifier(Settings(topic_arn="arn:aws:sns:us-east-1:123456789012:t"))
    assert isinstance(deployed, SnsNotifier)
    with pytest.raises(ConfigError, match="CRAWLMAP_TOPIC_ARN"):
        open_notifier(Settings(table_name="t"))
