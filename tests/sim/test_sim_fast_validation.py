"""The simulator's fast validation path agrees with openapi-core on every request.

``SpecBinding`` accepts plainly valid requests with validators compiled once per operation and
sends everything else through openapi-core (see ``iotcentral_sim._spec``). These tests hold the
two paths to one answer: the same parsed body, or the same error (status, code and message).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from iotcentral_sim._errors import SimError
from iotcentral_sim._spec import SpecBinding
from sim_helpers import SPEC_FILE
from starlette.datastructures import Headers, QueryParams

FAST = SpecBinding()
SLOW = SpecBinding()
SLOW.fast = False

_TEMPLATES = [
    ("POST", "/api/devices/{d}/commands/{c}"),
    ("POST", "/api/devices/{d}/components/{x}/commands/{c}"),
    ("POST", "/api/devices/{d}/modules/{m}/commands/{c}"),
    ("POST", "/api/devices/{d}/modules/{m}/components/{x}/commands/{c}"),
    ("GET", "/api/devices/{d}/commands/{c}"),
    ("GET", "/api/devices/{d}/modules/{m}/components/{x}/commands/{c}"),
]


def _outcome(binding: SpecBinding, kind: str, *args: Any) -> tuple[Any, ...]:
    try:
        if kind == "parameters":
            binding.check_parameters(*args)
            return ("ok",)
        return ("ok", binding.parse_body(*args))
    except SimError as error:
        return ("error", error.status, error.code, error.message)


_segment_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#"), min_size=1, max_size=12
)
_segment = st.one_of(
    st.sampled_from(["mx1", "dev-0001", "CoolDown", "sensor_7"]),
    _segment_text.map(lambda s: quote(s, safe="")),
    st.from_regex(r"[A-Za-z0-9%._~-]{1,10}", fullmatch=True),
)


@st.composite
def _paths(draw: st.DrawFn) -> tuple[str, str]:
    method, template = draw(st.sampled_from(_TEMPLATES))
    path = template
    for name in ("d", "c", "x", "m"):
        path = path.replace("{" + name + "}", draw(_segment))
    return method, path


_api_version = st.one_of(
    st.sampled_from([*FAST.api_versions, "", "2022-05-31", "latest", " 2022-07-31"]),
    st.text(max_size=12),
)
_query_pairs = st.one_of(
    st.just([("api-version", FAST.default_api_version)]),
    st.lists(
        st.tuples(st.sampled_from(["api-version", "other", "API-VERSION"]), _api_version),
        max_size=3,
    ),
)

_timeout = st.one_of(
    st.integers(-3, 40), st.floats(allow_nan=False), st.booleans(), st.none(), st.text(max_size=3)
)
_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
_body_document = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "request": _json_value,
            "connectionTimeout": _timeout,
            "responseTimeout": _timeout,
            "id": _json_value,
            "responseCode": _json_value,
            "extra": _json_value,
        },
    ),
    _json_value,
)
_body = st.one_of(
    _body_document.map(lambda d: json.dumps(d).encode()),
    st.sampled_from(
        [b"", b"{", b"null", b'{"request": NaN}', b'{"connectionTimeout": Infinity}', b"\xff\xfe"]
    ),
    st.integers(60, 70).map(lambda n: b"[" * n + b"]" * n),
    st.binary(max_size=20),
)
_content_type = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/plain",
        "application/xml",
        None,
    ]
)


@given(_paths(), _query_pairs)
def test_parameter_checks_agree_with_openapi_core(
    route: tuple[str, str], pairs: list[tuple[str, str]]
) -> None:
    method, path = route
    query = QueryParams(urlencode(pairs))
    headers = Headers({})
    fast = _outcome(FAST, "parameters", method, path, query, headers)
    assert fast == _outcome(SLOW, "parameters", method, path, query, headers)


@given(_paths(), _content_type, _body)
def test_body_checks_agree_with_openapi_core(
    route: tuple[str, str], content_type: str | None, body: bytes
) -> None:
    _, path = route
    headers = Headers({"content-type": content_type} if content_type else {})
    fast = _outcome(FAST, "body", "POST", path, headers, body)
    assert fast == _outcome(SLOW, "body", "POST", path, headers, body)


def _plain_request() -> tuple[str, QueryParams, Headers, bytes]:
    path = "/api/devices/dev-1/commands/Reboot"
    query = QueryParams(f"api-version={FAST.default_api_version}")
    headers = Headers({"content-type": "application/json"})
    body = json.dumps({"request": {"delay": 3}, "connectionTimeout": 10}).encode()
    return path, query, headers, body


def test_a_plain_valid_request_never_reaches_openapi_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    binding = SpecBinding()

    def refuse(*_: object) -> None:
        raise AssertionError("openapi-core was asked about a plainly valid request")

    monkeypatch.setattr(binding._parameters, "iter_errors", refuse)
    monkeypatch.setattr(binding._body, "iter_errors", refuse)
    path, query, headers, body = _plain_request()
    binding.check_parameters("POST", path, query, headers)
    assert binding.parse_body("POST", path, headers, body) == {
        "request": {"delay": 3},
        "connectionTimeout": 10,
    }


@pytest.mark.parametrize(
    ("query", "body", "rejected"),
    [
        ("api-version=2022-07-31&api-version=2022-07-31", None, False),  # a duplicate
        ("api-version=bogus", None, True),
        ("", None, True),
        (None, b'{"connectionTimeout": 31}', True),
        (None, b'{"request": NaN}', True),
    ],
)
def test_anything_not_plainly_valid_is_decided_by_openapi_core(
    monkeypatch: pytest.MonkeyPatch, query: str | None, body: bytes | None, rejected: bool
) -> None:
    binding = SpecBinding()
    asked: list[str] = []
    for name in ("_parameters", "_body"):
        validator = getattr(binding, name)
        original = validator.iter_errors

        def spy(request: Any, _original: Any = original, _name: str = name) -> Any:
            asked.append(_name)
            return _original(request)

        monkeypatch.setattr(validator, "iter_errors", spy)
    path, plain_query, headers, plain_body = _plain_request()
    if query is not None:
        try:
            binding.check_parameters("POST", path, QueryParams(query), headers)
        except SimError:
            assert rejected
        else:
            assert not rejected
        assert asked == ["_parameters"]
    else:
        binding.check_parameters("POST", path, plain_query, headers)
        with pytest.raises(SimError):
            binding.parse_body("POST", path, headers, body or plain_body)
        assert asked == ["_body"]


def test_operations_with_parameters_it_does_not_model_always_use_openapi_core(
    tmp_path: Path,
) -> None:
    spec = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    post = spec["paths"]["/devices/{deviceId}/commands/{commandName}"]["post"]
    post.setdefault("parameters", []).append(
        {"name": "x-priority", "in": "header", "required": True, "schema": {"type": "integer"}}
    )
    copy = tmp_path / "iotcentral.yaml"
    copy.write_text(yaml.safe_dump(spec), encoding="utf-8")
    binding = SpecBinding(copy)
    path, query, _, _ = _plain_request()
    with pytest.raises(SimError) as missing:
        binding.check_parameters("POST", path, query, Headers({}))
    assert missing.value.code == "InvalidParameter"
    binding.check_parameters("POST", path, query, Headers({"x-priority": "3"}))
