"""`iotcentral contract-test`: check an app (or a fake, or the simulator) against the spec.

```
iotcentral contract-test [--base-url URL --device ID --command NAME] [--token TOKEN]
                         [--component C] [--module M] [--api-version V] [--junit FILE]
                         [--rate-limit 10/s] [--max-examples N] [-- PYTEST_ARGS...]
```

The suite is the `iotcentral_contract` package (the `contract` extra), run by its `runner`; this
module only parses, checks what can be checked before anything is sent (the allow-list is
complete, the api-version is one this client supports, the URL keeps the token off plain http)
and hands over. With no `--base-url` the suite tests the in-process simulator.
"""

from __future__ import annotations

import typer

from .._config import check_base_url
from .._errors import ValidationError
from .._redact import secrets_in
from ._options import (
    ContractApiVersionOption,
    ContractBaseUrlOption,
    ContractCommandOption,
    ContractComponentOption,
    ContractDeviceOption,
    ContractModuleOption,
    ContractTokenOption,
    JunitOption,
    MaxExamplesOption,
    RateLimitOption,
)
from ._output import EXIT_USAGE, error

__all__ = ["contract_test"]

_INSTALL = (
    "error: the contract suite needs the 'contract' extra: "
    "pip install 'iotcentral-client[contract]'"
)

HELP = """Run the contract suite: shapes (schemathesis) and behaviour (echo, run -> history,
not-found probes, type confusion) against the spec.

Live (--base-url): every request is confined to the allow-listed --device/--command (and
--component/--module) and paced; not-found probes use ids that cannot exist. Running a command
is not idempotent: allow-list a command that is safe to run many times. Exit codes: 0 all
checks passed; 1 the target failed checks; 2 usage (nothing sent); 5 the suite could not run;
130 interrupted. Arguments after -- go to pytest."""


def contract_test(
    ctx: typer.Context,
    base_url: ContractBaseUrlOption = None,
    token: ContractTokenOption = None,
    device: ContractDeviceOption = None,
    command: ContractCommandOption = None,
    component: ContractComponentOption = None,
    module: ContractModuleOption = None,
    api_version: ContractApiVersionOption = None,
    junit: JunitOption = None,
    rate_limit: RateLimitOption = "10/s",
    max_examples: MaxExamplesOption = None,
) -> None:
    """Check an IoT Central app, a fake or the simulator against the spec."""
    import iotcentral

    secrets = secrets_in(token) if token else ()
    try:
        from iotcentral_contract import _gate
        from iotcentral_contract.runner import ContractRun, run
    except ImportError:
        error(_INSTALL)
        raise typer.Exit(EXIT_USAGE) from None
    problems: list[str] = []
    if base_url is not None:
        try:
            base_url = check_base_url(base_url.strip()).rstrip("/")
        except ValidationError as exc:
            problems.append(str(exc))
    if api_version is not None and api_version not in iotcentral.SUPPORTED_API_VERSIONS:
        supported = ", ".join(sorted(iotcentral.SUPPORTED_API_VERSIONS))
        problems.append(f"--api-version {api_version!r} is not supported (supported: {supported})")
    try:
        _gate.parse_rate(rate_limit)
    except ValueError as exc:
        problems.append(f"--rate-limit: {exc}")
    options = ContractRun(
        base_url=base_url or None,
        token=token,
        device=device,
        command=command,
        component=component,
        module=module,
        api_version=api_version,
        junit=junit,
        rate_limit=rate_limit,
        max_examples=max_examples,
        pytest_args=tuple(ctx.args),
    )
    problems += options.problems()
    if problems:
        for problem in problems:
            error(f"error: {problem}", secrets)
        raise typer.Exit(EXIT_USAGE)
    if options.base_url is None:
        error("no --base-url: contract tests against the in-process simulator")
    else:
        scope = f"device {device!r} command {command!r}"
        scope += f" module {module!r}" if module else ""
        scope += f" component {component!r}" if component else ""
        error(f"contract tests against {options.base_url}, only {scope}", secrets)
    raise typer.Exit(run(options))
