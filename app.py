#!/usr/bin/env python3
"""CDK entry point: cdk.json context -> CrawlmapConfig (validated once) -> the Crawlmap stack.

A bad configuration value stops synthesis with one line naming the key, never a traceback:
    crawlmap config: crawlmap.max_concurrency: must be between 1 and 40, got 99
Values that run but throttle (see stacks.config.config_warnings) print a warning line.
"""

import sys

from lambdas.common.errors import ConfigError
from stacks.config import config_warnings, load_config
from stacks.synth import add_crawlmap


def main() -> int:
    from aws_cdk import App  # after stacks/__init__ has quietened jsii

    app = App()  # the CDK CLI passes cdk.json's context and every `-c key=value`
    try:
        config = load_config(app.node.get_all_context())
    except ConfigError as error:
        print(f"crawlmap config: {error}", file=sys.stderr)
        return 1
    for warning in config_warnings(config):
        print(f"crawlmap config: warning: {warning}", file=sys.stderr)
    add_crawlmap(app, config, nag=True)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
