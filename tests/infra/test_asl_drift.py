"""statemachine/crawl.asl.json must be what the stack synthesizes."""

from __future__ import annotations

import json

from stacks.nag import logical_id
from statemachine.render import ASL_PATH, RENDER_COMMAND, render_definition
from tests.infra.conftest import Synthesized


def test_rendered_definition_is_up_to_date(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    placeholders = {
        logical_id(function): f"{name}FunctionArn"
        for name, function in stack.functions.by_state_name.items()
    }
    placeholders[logical_id(stack.storage.bucket)] = "ArtifactsBucketName"
    expected = render_definition(synthesized.template_json, placeholders)
    on_disk = json.loads(ASL_PATH.read_text())
    assert on_disk == expected, f"statemachine/crawl.asl.json is stale: run `{RENDER_COMMAND}`"


def test_rendered_definition_names_its_placeholders() -> None:
    text = ASL_PATH.read_text()
    for placeholder in (
        "${ListPagesFunctionArn}",
        "${CrawlBatchFunctionArn}",
        "${StoreAndNotifyFunctionArn}",
        "${ArtifactsBucketName}",
    ):
        assert placeholder in text
    assert "Fn::" not in text
    assert '"Ref"' not in text
