"""One local-engine run in its own process, for the overlapping-runs test.

    python -m tests.workflow.overlap_runner TEMPLATE.json HOME URL...

Prints the run's id, status and summary as one JSON object. Private networks are allowed (the
site is on 127.0.0.1) and the request timeout is long: the test holds one page open while
another run starts and ends.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from crawlmap.crawl_hooks import CrawlHooks
from crawlmap.engine.runner import EngineOptions, run_execution
from lambdas.common import env


def main(argv: list[str]) -> None:
    template_path, home, *urls = argv
    record = run_execution(
        {"pages": urls},
        EngineOptions(
            home=Path(home),
            template=json.loads(Path(template_path).read_text()),
            hooks=CrawlHooks(),
            time_scale=0.01,
            env_overrides={env.ALLOW_PRIVATE_NETWORKS: "true", env.REQUEST_TIMEOUT: "120"},
        ),
    )
    print(json.dumps({"run_id": record.run_id, "status": record.status, "summary": record.summary}))


if __name__ == "__main__":
    main(sys.argv[1:])
