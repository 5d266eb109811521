from typing import Literal

DefaultApiVersion = Literal["2022-07-31"]

DEFAULT_API_VERSION_VALUES: set[DefaultApiVersion] = {
    "2022-07-31",
}


def check_default_api_version(value: str) -> DefaultApiVersion:
    if value in DEFAULT_API_VERSION_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {DEFAULT_API_VERSION_VALUES!r}"
    )
