"""Speed 7b: for every inline Map iteration moto deep-copies the whole Map state input.

Checked against moto 5.2.5: the copy comes before evaluating the ItemSelector, whose paths only
read it, so a Map over n items copies n x n items. The engine lets the ItemSelector read the
input in place (its paths copy what they extract).
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    inline_item_processor_worker,
)


def _eval_input(self: Any, env_frame: Any) -> None:
    if not self._parameters and not self._item_selector:
        return
    map_state_input = self._env.stack[-1]
    # moto: env_frame.states.reset(map_state_input), a deep copy of all the items, per item.
    env_frame.states._states_data.update(input=map_state_input, result=None, errorOutput=None)
    env_frame.stack.append(map_state_input)
    (self._item_selector or self._parameters).eval(env_frame)
    env_frame.states.reset(input_value=env_frame.stack[-1])


def install() -> None:
    inline_item_processor_worker.InlineItemProcessorWorker._eval_input = _eval_input
