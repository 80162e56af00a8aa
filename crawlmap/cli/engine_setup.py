"""What `run`, `demo` and `serve` hand the local engine: the template (synthesized, or
--template checked), what ListPages' environment in it says, the cdk.json overrides and the
EngineOptions."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from crawlmap.cli.arguments import read_option_file
from crawlmap.cli.exits import UsageError
from crawlmap.crawl_hooks import CrawlHooks
from crawlmap.engine.errors import EngineError
from crawlmap.engine.runner import EngineOptions
from crawlmap.engine.template import (
    definition_of,
    function_specs,
    load_template,
    state_machine_resource,
)
from crawlmap.runfolder import cache_dir, crawlmap_home, default_database
from lambdas.common import env
from lambdas.common.urls import DEFAULT_TRACKING_PARAMS, canonicalize


def synthesized_template(
    console: Console, context: dict[str, Any], template_path: str | None = None
) -> dict[str, Any]:
    """The app's template (synthesized once per change of the app, then read from the cache)."""
    if template_path:
        return read_template(Path(template_path))
    with console.status("synthesizing the CDK app (cached after the first time)"):
        return load_template(cache_dir(), context)


def read_template(path: Path) -> dict[str, Any]:
    """A synthesized template file (--template), checked for what the engine needs: one
    state machine whose definition resolves, and the Lambda functions it calls."""
    where = f"--template {path}"
    text = read_option_file(path, where)
    try:
        template = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except RecursionError:
        raise UsageError(f"{where}: JSON nested too deeply") from None
    hint = "give a synthesized template such as cdk.out/Crawlmap.template.json"
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise UsageError(f"{where}: not a CloudFormation template (no Resources object); {hint}")
    if not all(isinstance(resource, dict) for resource in template["Resources"].values()):
        raise UsageError(f"{where}: Resources must map logical ids to objects; {hint}")
    try:
        state_machine_resource(template)
        definition = definition_of(template, lambda logical_id, attribute: logical_id)
        functions = function_specs(template)
    except EngineError as exc:
        raise UsageError(f"{where}: {exc}; {hint}") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"{where}: the state machine cannot be read ({exc}); {hint}") from None
    if not isinstance(definition, dict) or not isinstance(definition.get("States"), dict):
        raise UsageError(f"{where}: the state machine definition has no States; {hint}")
    if not functions:
        raise UsageError(f"{where}: no Lambda function with a Handler in it; {hint}")
    return template


def list_pages_environment(template: Mapping[str, Any]) -> Mapping[str, Any]:
    """ListPages' Environment as the synthesized template sets it ({} without ListPages)."""
    for spec in function_specs(template).values():
        if spec.handler.startswith("lambdas.list_pages."):
            return spec.environment
    return {}


def max_pages_of(template: Mapping[str, Any]) -> int | None:
    """ListPages' page limit (cdk.json max_pages) as the synthesized template sets it."""
    try:
        return int(list_pages_environment(template)[env.MAX_PAGES])
    except (KeyError, TypeError, ValueError):
        return None


def as_list_pages_names(pages: Sequence[str], template: Mapping[str, Any]) -> list[str]:
    """The pages as ListPages will name them: it also drops the configured tracking_params
    (cdk.json, or -c), so `--output` must match its results by the same canonical form."""
    raw = list_pages_environment(template).get(env.TRACKING_PARAMS)
    configured = {n.strip() for n in raw.split(",") if n.strip()} if isinstance(raw, str) else set()
    if not configured:
        return list(pages)
    params = DEFAULT_TRACKING_PARAMS | configured
    return list(dict.fromkeys(canonicalize(page, params) for page in pages))


def engine_options(
    args: argparse.Namespace,
    on_invocation: Any,
    overrides: Mapping[str, str],
    context: dict[str, Any] | None = None,
) -> EngineOptions:
    """The options `run` and `demo` share (--db, --fast-retries, --template)."""
    home = crawlmap_home()
    return EngineOptions(
        home=home,
        hooks=CrawlHooks(db_path=Path(args.db) if args.db else default_database(home)),
        time_scale=0.05 if args.fast_retries else 1.0,
        env_overrides=overrides,
        template=synthesized_template(Console(stderr=True), context or {}, args.template),
        on_invocation=on_invocation,
    )


def run_context(args: argparse.Namespace) -> dict[str, Any]:
    """The cdk.json overrides of one run or serve (-c KEY=VALUE, --max-concurrency), checked as
    `cdk synth -c` checks them: ConfigError names the key."""
    from stacks.config import parse_context_options

    options = list(getattr(args, "context", None) or [])
    if getattr(args, "max_concurrency", None) is not None:
        options.append(f"max_concurrency={args.max_concurrency}")
    if options and args.template:
        raise UsageError("-c and --max-concurrency change the synthesized app: drop --template")
    return parse_context_options(options) if options else {}
