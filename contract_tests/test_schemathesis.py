"""Schemathesis over every operation of the spec: all built-in checks, positive and negative data,
then the stateful phase along the spec's links (run a command, then read its history)."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from schemathesis import Case

from contract_tests._harness import contract_schema
from contract_tests._target import Target

schema = contract_schema()


@schema.parametrize()
def test_operation_conforms_to_the_spec(case: Case, target: Target) -> None:
    target.check_allowed(case.path_parameters)
    case.call_and_validate()


def test_stateful_run_then_history(target: Target) -> None:
    base = schema.as_state_machine()

    class RunThenHistory(base):  # type: ignore[misc, valid-type]
        def call(self, case: Case, **kwargs: Any) -> Any:
            if target.live and case.path_parameters:
                # The state machine does not apply configured parameters: pin them here.
                allowed = target.path_parameters()
                case.path_parameters = {
                    name: allowed.get(name, v) for name, v in case.path_parameters.items()
                }
            target.check_allowed(case.path_parameters)
            return super().call(case, **kwargs)

    RunThenHistory.run(settings=settings(max_examples=25, stateful_step_count=6))
