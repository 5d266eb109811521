from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.api_version import ApiVersion
from ...models.device_command import DeviceCommand
from ...models.error import Error
from ...types import UNSET, Response


def _get_kwargs(
    device_id: str,
    component_name: str,
    command_name: str,
    *,
    body: DeviceCommand,
    api_version: ApiVersion,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    json_api_version: str = api_version
    params["api-version"] = json_api_version

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/devices/{device_id}/components/{component_name}/commands/{command_name}".format(
            device_id=quote(str(device_id), safe=""),
            component_name=quote(str(component_name), safe=""),
            command_name=quote(str(command_name), safe=""),
        ),
        "params": params,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DeviceCommand | Error:
    if response.status_code == 201:
        response_201 = DeviceCommand.from_dict(response.json())

        return response_201

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DeviceCommand | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    device_id: str,
    component_name: str,
    command_name: str,
    *,
    client: AuthenticatedClient | Client,
    body: DeviceCommand,
    api_version: ApiVersion,
) -> Response[DeviceCommand | Error]:
    """Run a component command

     Run a command on a component of a device.

    Args:
        device_id (str):
        component_name (str):
        command_name (str):
        api_version (ApiVersion): The API versions this client supports (see README, "API version
            bumps").
        body (DeviceCommand): The device command definition.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeviceCommand | Error]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        component_name=component_name,
        command_name=command_name,
        body=body,
        api_version=api_version,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    device_id: str,
    component_name: str,
    command_name: str,
    *,
    client: AuthenticatedClient | Client,
    body: DeviceCommand,
    api_version: ApiVersion,
) -> DeviceCommand | Error | None:
    """Run a component command

     Run a command on a component of a device.

    Args:
        device_id (str):
        component_name (str):
        command_name (str):
        api_version (ApiVersion): The API versions this client supports (see README, "API version
            bumps").
        body (DeviceCommand): The device command definition.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeviceCommand | Error
    """

    return sync_detailed(
        device_id=device_id,
        component_name=component_name,
        command_name=command_name,
        client=client,
        body=body,
        api_version=api_version,
    ).parsed


async def asyncio_detailed(
    device_id: str,
    component_name: str,
    command_name: str,
    *,
    client: AuthenticatedClient | Client,
    body: DeviceCommand,
    api_version: ApiVersion,
) -> Response[DeviceCommand | Error]:
    """Run a component command

     Run a command on a component of a device.

    Args:
        device_id (str):
        component_name (str):
        command_name (str):
        api_version (ApiVersion): The API versions this client supports (see README, "API version
            bumps").
        body (DeviceCommand): The device command definition.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeviceCommand | Error]
    """

    kwargs = _get_kwargs(
        device_id=device_id,
        component_name=component_name,
        command_name=command_name,
        body=body,
        api_version=api_version,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    device_id: str,
    component_name: str,
    command_name: str,
    *,
    client: AuthenticatedClient | Client,
    body: DeviceCommand,
    api_version: ApiVersion,
) -> DeviceCommand | Error | None:
    """Run a component command

     Run a command on a component of a device.

    Args:
        device_id (str):
        component_name (str):
        command_name (str):
        api_version (ApiVersion): The API versions this client supports (see README, "API version
            bumps").
        body (DeviceCommand): The device command definition.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeviceCommand | Error
    """

    return (
        await asyncio_detailed(
            device_id=device_id,
            component_name=component_name,
            command_name=command_name,
            client=client,
            body=body,
            api_version=api_version,
        )
    ).parsed
