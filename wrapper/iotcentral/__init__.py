"""iotcentral: a typed, command-safe client for Azure IoT Central device commands.

```python
from iotcentral import IoTCentralClient, ApiToken

with IoTCentralClient("myapp", credential=ApiToken("SharedAccessSignature sr=...")) as client:
    result = client.run_command("mx1", "CoolDown", {"tempVal": 30})
    print(result.response_code, result.response)
```

Everything public is listed in `__all__`; modules starting with `_` are private. The command line
(`iotcentral.cli`, needs the `cli` extra) is not imported here: importing this package stays light.
"""

from ._auth import (
    AccessTokenLike,
    ApiToken,
    BearerToken,
    TokenCredential,
    TokenCredentialAuth,
)
from ._client import AsyncIoTCentralClient, IoTCentralClient
from ._config import (
    AZURE_SCOPE,
    DEFAULT_API_VERSION,
    DEFAULT_BASE_DOMAIN,
    DEFAULT_TIMEOUT,
    SERVICE_DEFAULT_CONNECTION_TIMEOUT,
    SERVICE_DEFAULT_RESPONSE_TIMEOUT,
    SUPPORTED_API_VERSIONS,
    USER_AGENT,
    Timeout,
)
from ._errors import (
    APIError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    CredentialError,
    DeviceCommandFailedError,
    DeviceOfflineError,
    DeviceTimeoutError,
    InvalidArgumentError,
    InvalidPayloadError,
    IoTCentralError,
    MalformedResponseError,
    NotFoundError,
    PagingError,
    PermissionDeniedError,
    PreconditionFailedError,
    RequestMaybeSentError,
    RequestNotSentError,
    ResponseTooLargeError,
    ServerError,
    ServiceUnavailableError,
    ThrottledError,
    TransportError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
    ValidationError,
    WrongEventLoopError,
)
from ._models import CommandHistory, CommandResult
from ._paging import DEFAULT_MAX_PAGES, AsyncCommandHistoryPager, CommandHistoryPager
from ._retry import (
    DEFAULT_RETRY,
    DEFAULT_RETRY_DECISION,
    NO_RETRY,
    RetryChain,
    RetryDecision,
    RetryOption,
    RetryPolicy,
    parse_retry_after,
    retry_idempotent,
    retry_not_sent,
    retry_throttled,
    retry_unsafe,
)
from ._version import __version__

__all__ = [
    "AZURE_SCOPE",
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_DOMAIN",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_RETRY",
    "DEFAULT_RETRY_DECISION",
    "DEFAULT_TIMEOUT",
    "NO_RETRY",
    "SERVICE_DEFAULT_CONNECTION_TIMEOUT",
    "SERVICE_DEFAULT_RESPONSE_TIMEOUT",
    "SUPPORTED_API_VERSIONS",
    "USER_AGENT",
    "APIError",
    "APIStatusError",
    "AccessTokenLike",
    "ApiToken",
    "AsyncCommandHistoryPager",
    "AsyncIoTCentralClient",
    "AuthenticationError",
    "BadRequestError",
    "BearerToken",
    "ClientClosedError",
    "CommandHistory",
    "CommandHistoryPager",
    "CommandResult",
    "CredentialError",
    "DeviceCommandFailedError",
    "DeviceOfflineError",
    "DeviceTimeoutError",
    "InvalidArgumentError",
    "InvalidPayloadError",
    "IoTCentralClient",
    "IoTCentralError",
    "MalformedResponseError",
    "NotFoundError",
    "PagingError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "RequestMaybeSentError",
    "RequestNotSentError",
    "ResponseTooLargeError",
    "RetryChain",
    "RetryDecision",
    "RetryOption",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailableError",
    "ThrottledError",
    "Timeout",
    "TokenCredential",
    "TokenCredentialAuth",
    "TransportError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "WrongEventLoopError",
    "__version__",
    "parse_retry_after",
    "retry_idempotent",
    "retry_not_sent",
    "retry_throttled",
    "retry_unsafe",
]
