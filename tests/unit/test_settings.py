"""Settings from the environment: each function checks its own variables, as cdk.json is checked."""

import pytest

from lambdas.common import env
from lambdas.common.errors import ConfigError
from lambdas.common.settings import Settings


def test_a_distributed_threshold_of_zero_is_allowed_as_in_the_config() -> None:
    settings = Settings.from_env({env.DISTRIBUTED_THRESHOLD: "0"})
    assert settings.distributed_threshold == 0


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        (env.DISTRIBUTED_THRESHOLD, "-1", "between 0 and 1000000"),
        (env.BATCH_SIZE, "0", "between 1 and 100"),
        (env.REQUEST_TIMEOUT, "soon", "expected a number"),
        (env.OBEY_ROBOTS, "maybe", "expected true or false"),
        (env.SELECTORS, "{not json", "not valid JSON"),
    ],
)
def test_a_bad_value_names_the_variable(key: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        Settings.from_env({key: value})
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        (env.PER_HOST_CONCURRENCY, "65", "between 1 and 64"),
        (env.PER_HOST_DELAY, "-1", "between 0.0 and 60.0"),
        (env.MAX_CRAWL_DELAY, "five", "expected a number"),
        (env.USER_AGENT, "bot\r\nX: y", "visible ASCII"),
        (env.SELECTORS, '{"t": "h2[[["}', "not a valid CSS selector"),
        (env.TRACKING_PARAMS, "ok,a b", "not a query parameter name"),
    ],
)
def test_crawl_batch_checks_its_own_variables_at_cold_start(
    key: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        Settings.from_env(
            {key: value}, function="crawl_batch" if key != env.TRACKING_PARAMS else "list_pages"
        )
    assert caught.value.key.startswith(key)


def test_a_function_ignores_the_variables_it_does_not_get() -> None:
    # CRAWLMAP_BATCH_SIZE is ListPages'; CrawlBatch does not read it, bad or not.
    settings = Settings.from_env(
        {env.BATCH_SIZE: "many", env.PER_HOST_DELAY: "2.5"}, function="crawl_batch"
    )
    assert settings.batch_size == 10
    assert settings.per_host_delay == 2.5
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({env.BATCH_SIZE: "many", env.TABLE_NAME: "t"}, function="list_pages")
    assert caught.value.key == env.BATCH_SIZE


@pytest.mark.parametrize(
    ("function", "given", "missing"),
    [
        ("list_pages", {}, env.TABLE_NAME),
        ("store_and_notify", {env.TABLE_NAME: "t"}, env.TOPIC_ARN),
        ("store_and_notify", {env.TOPIC_ARN: "arn:aws:sns:eu-west-1:1:t"}, env.TABLE_NAME),
    ],
)
def test_a_missing_resource_fails_at_cold_start_naming_the_variable(
    function: str, given: dict[str, str], missing: str
) -> None:
    with pytest.raises(ConfigError, match="not set") as caught:
        Settings.from_env(given, function=function)
    assert caught.value.key == missing


def test_the_local_engine_needs_no_table_or_topic() -> None:
    for function in ("list_pages", "crawl_batch", "store_and_notify"):
        settings = Settings.from_env({env.SQLITE_PATH: "/tmp/c.db"}, function=function)
        assert settings.sqlite_path == "/tmp/c.db"


def test_unset_variables_take_the_tables_defaults() -> None:
    settings = Settings.from_env({env.TABLE_NAME: "t"}, function="list_pages")
    assert settings == Settings(table_name="t")
    assert settings.default_source == {}  # no default source unless the stack sets one
    assert settings.per_host_concurrency == 4
    assert settings.max_crawl_delay == 5.0
