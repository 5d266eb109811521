"""Schemathesis over every operation of the spec: all built-in checks, positive and negative data,
then the stateful phase along the spec's links (run a command, then read its history)."""

from __future__ import annotations

from typing import Any

from hypothesis import Phase, settings
from schemathesis import Case

from iotcentral_contract._behaviour import RunHistoryLink
from iotcentral_contract._harness import MAX_EXAMPLES, contract_schema, live_session
from iotcentral_contract._target import Target

schema = contract_schema()


@schema.parametrize()
def test_operation_conforms_to_the_spec(case: Case, target: Target) -> None:
    target.check_allowed(case.path_parameters)
    case.call_and_validate(session=live_session())


def test_stateful_run_then_history(target: Target) -> None:
    """Along the spec's links; history read after a run must hold that run (`RunHistoryLink`)."""
    base = schema.as_state_machine()
    session = live_session()

    class RunThenHistory(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            self.link = RunHistoryLink(exact=not target.live)

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {} if session is None else {"session": session}

        def validate_response(self, response: Any, case: Case, **kwargs: Any) -> None:
            super().validate_response(response, case, **kwargs)
            self.link.observe(
                case.method, case.path_parameters, response.status_code, response.content
            )

        def call(self, case: Case, **kwargs: Any) -> Any:
            if case.path_parameters:
                # The state machine does not apply configured parameters: pin them here. Against
                # the simulator too, so that runs succeed and the links lead to a history of
                # that very run (random ids only meet 404s; the per-operation test fuzzes ids).
                allowed = target.path_parameters()
                case.path_parameters = {
                    name: allowed.get(name, v) for name, v in case.path_parameters.items()
                }
            target.check_allowed(case.path_parameters)
            return super().call(case, **kwargs)

    # No shrinking: each shrink step replays a scenario, i.e. runs the command again (on a real
    # device in live mode); a failing scenario is reported as found, with its check's name.
    RunThenHistory.run(
        settings=settings(
            max_examples=min(25, MAX_EXAMPLES),  # --max-examples bounds this phase too
            stateful_step_count=6,
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        )
    )
