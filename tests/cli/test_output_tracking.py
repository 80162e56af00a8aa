"""`--output` names pages as ListPages does, with the configured tracking_params dropped too:
one line per page, no extra "not crawled" row (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

from crawlmap.cli import main
from tests.cli.conftest import RecordingSite


def test_configured_tracking_params_give_one_output_line_per_page(
    home: Path, template_file: Path, tmp_path: Path
) -> None:
    template = json.loads(template_file.read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function" and "list_pages" in str(
            resource["Properties"].get("Handler")
        ):
            resource["Properties"]["Environment"]["Variables"]["CRAWLMAP_TRACKING_PARAMS"] = "ref"
    configured = tmp_path / "template.json"
    configured.write_text(json.dumps(template))
    out = tmp_path / "pages.jsonl"
    with RecordingSite() as site:
        pages = [site.url("/page/a?ref=mail"), site.url("/page/b?ref=x&keep=1")]
        code = main(
            ["run", "--quiet", "--allow-private-networks", "--template", str(configured),
             "--output", str(out), *pages]
        )  # fmt: skip
    assert code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["url"] for line in lines] == [site.url("/page/a"), site.url("/page/b?keep=1")]
    assert all(line["ok"] for line in lines)
