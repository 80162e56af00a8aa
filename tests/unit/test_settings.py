"""Settings from the environment: the ranges agree with cdk.json's and the execution input's."""

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
