"""Run the seed's example through the generated client against an in-process stand-in.

The stand-in answers like the service's documented sample (201 with a DeviceCommand). It is
replaced by the simulator and the `iotcentral` command line once those exist.
"""

from __future__ import annotations

import json
import uuid

import httpx
from iotcentral_api import AuthenticatedClient
from iotcentral_api.api.devices import run_command
from iotcentral_api.models import DeviceCommand


def stand_in(request: httpx.Request) -> httpx.Response:
    """Print the request as sent, and answer as a device that echoes its payload."""
    print(f"request:  {request.method} {request.url}")
    print(f"body:     {request.content.decode()}")
    sent = json.loads(request.content)
    answer = {"id": str(uuid.uuid4()), "request": sent.get("request"), "responseCode": 200}
    answer["response"] = {"echo": sent.get("request")}
    return httpx.Response(201, json=answer)


def main() -> None:
    client = AuthenticatedClient(
        base_url="https://appsubdomain.azureiotcentral.com/api",
        token="SharedAccessSignature sr=demo&sig=demo&skn=demo&se=0",  # noqa: S106
        prefix="",
        httpx_args={"transport": httpx.MockTransport(stand_in)},
    )
    result = run_command.sync_detailed(
        "mx1",
        "CoolDown",
        client=client,
        body=DeviceCommand(request={"tempVal": 30}),
        api_version="2022-07-31",
    )
    print(f"status:   {result.status_code.value}")
    parsed = result.parsed
    print(f"parsed:   {type(parsed).__name__} {json.dumps(parsed.to_dict() if parsed else None)}")


if __name__ == "__main__":
    main()
