from typing import Literal

ApiVersion = Literal["2022-07-31", "2022-10-31-preview"]

API_VERSION_VALUES: set[ApiVersion] = {
    "2022-07-31",
    "2022-10-31-preview",
}


def check_api_version(value: str) -> ApiVersion:
    if value in API_VERSION_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {API_VERSION_VALUES!r}"
    )
