"""scripts/spec-diff: the project's spec against Microsoft-style Swagger 2.0 fixtures and mutations.

The mutations (fixtures/mutations.yaml) each change one thing and list EXACTLY the breaking and
non-breaking changes the tool must report, so a change of a rule, of the normalisation or of the
matching fails here. test_every_rule_is_exercised keeps the mutations in step with the rule table.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = REPO / "spec" / "iotcentral.yaml"
PROVENANCE = REPO / "spec" / "PROVENANCE.md"
MS = FIXTURES / "ms-2022-07-31.json"
PREVIEW = FIXTURES / "ms-2022-10-31-preview.json"
BREAKING = FIXTURES / "ms-2022-07-31-breaking.json"
SCRIPT = REPO / "scripts" / "spec-diff"
MUTATIONS: list[dict[str, Any]] = yaml.safe_load(
    (FIXTURES / "mutations.yaml").read_text(encoding="utf-8")
)["mutations"]
# The deviations of PROVENANCE.md that show as changes between the project and Microsoft's file.
KNOWN_IDS = {"servers", "api-token", "version-enum", "operation-ids"}


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("spec_diff", REPO / "scripts" / "spec_diff.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["spec_diff"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


spec_diff = _load()


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = spec_diff.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *args, "--json")
    assert code in (0, 1), err
    return code, json.loads(out)


def reported(data: dict[str, Any], *statuses: str) -> set[tuple[str, str, str]]:
    return {
        (c["kind"], c["where"], c["status"]) for c in data["changes"] if c["status"] in statuses
    }


# ------------------------------------------------------------------------------ mutation helpers
def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    tokens = [_unescape(t) for t in pointer.split("/")[1:]]
    node = doc
    for token in tokens[:-1]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node, tokens[-1]


def _get(doc: Any, pointer: str) -> Any:
    node, last = _parent(doc, pointer)
    return node[int(last)] if isinstance(node, list) else node[last]


def _remove(doc: Any, pointer: str) -> Any:
    node, last = _parent(doc, pointer)
    return node.pop(int(last)) if isinstance(node, list) else node.pop(last)


def mutate(base: str, ops: list[dict[str, Any]], tmp_path: Path) -> Path:
    source = MS if base == "ms" else PROJECT
    text = source.read_text(encoding="utf-8")
    for op in ops:
        if "text" in op:
            assert op["text"] in text
            text = text.replace(op["text"], op["to"])
    doc = json.loads(text) if base == "ms" else yaml.safe_load(text)
    doc = copy.deepcopy(doc)
    for op in ops:
        if "set" in op:
            node, last = _parent(doc, op["set"])
            node[last] = op["value"]
        elif "remove" in op:
            _remove(doc, op["remove"])
        elif "append" in op:
            _get(doc, op["append"]).append(op["value"])
        elif "move" in op:
            value = _remove(doc, op["move"])
            node, last = _parent(doc, op["to"])
            node[last] = value
    target = tmp_path / ("mutated.json" if base == "ms" else "mutated.yaml")
    if base == "ms":
        target.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    else:
        target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


# ----------------------------------------------------------------------------------------- tests
def test_project_vs_microsoft_same_version_reports_only_known_deviations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, data = run_json(capsys, PROJECT, MS)
    assert code == 0
    assert data["breaking"] is False
    assert reported(data, "breaking", "non-breaking") == set()
    assert {c["known_deviation"] for c in data["changes"]} == KNOWN_IDS
    # Every known change would break (or change) something if it were not a deliberate deviation.
    assert any(c["breaking_if_unknown"] for c in data["changes"])
    assert len(data["matched"]) == 8
    assert (data["removed"], data["added"]) == ([], [])
    assert data["new"]["ignored_operations"] == 5
    assert data["new"]["origin"] == "microsoft"
    assert data["old"]["origin"] == "project"
    assert data["unseen_deviations"] == []
    assert data["absorbed_deviations"] == ["openapi-3.1", "links", "examples", "paging"]
    kinds = {c["kind"] for c in data["changes"]}
    assert kinds == {
        "server-default-changed",
        "security-removed",
        "tags-changed",
        "enum-removed",
        "operation-id-changed",
    }


def test_microsoft_vs_project_is_known_in_the_other_direction_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, data = run_json(capsys, MS, PROJECT)
    assert code == 0
    assert reported(data, "breaking", "non-breaking") == set()
    assert {c["known_deviation"] for c in data["changes"]} == KNOWN_IDS
    assert "enum-added" in {c["kind"] for c in data["changes"]}


def test_preview_has_the_same_command_operations(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, PROJECT, PREVIEW)
    assert code == 0
    assert reported(data, "breaking", "non-breaking") == set()
    assert data["new"]["version"] == "2022-10-31-preview"
    assert data["notes"] == []  # the preview is in the project's ApiVersion enum


def test_a_version_missing_from_the_enum_is_noted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = yaml.safe_load(PROJECT.read_text(encoding="utf-8"))
    spec["components"]["schemas"]["ApiVersion"]["enum"] = ["2022-07-31"]
    project = tmp_path / "iotcentral.yaml"
    project.write_text(yaml.safe_dump(spec), encoding="utf-8")
    code, data = run_json(capsys, project, PREVIEW)
    assert code == 0
    (note,) = data["notes"]
    assert "2022-10-31-preview" in note
    assert "ApiVersion" in note


@pytest.mark.parametrize(("old", "new"), [(PROJECT, PROJECT), (MS, PREVIEW), (MS, MS)])
def test_same_origin_reports_nothing(
    capsys: pytest.CaptureFixture[str], old: Path, new: Path
) -> None:
    code, data = run_json(capsys, old, new)
    assert code == 0
    assert data["changes"] == []


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m["name"] for m in MUTATIONS])
def test_mutation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mutation: dict[str, Any]
) -> None:
    new = mutate(mutation["base"], mutation["ops"], tmp_path)
    old = MS if mutation.get("old") == "ms" else PROJECT
    code, data = run_json(capsys, old, new)
    expected = {tuple(e) for e in mutation["expect"]}
    assert reported(data, "breaking", "non-breaking") == expected
    assert code == (1 if mutation["breaking"] else 0)
    assert data["breaking"] is mutation["breaking"]
    assert data["unseen_deviations"] == mutation.get("unseen", [])


def test_every_rule_is_exercised(capsys: pytest.CaptureFixture[str]) -> None:
    covered = {e[0] for m in MUTATIONS for e in m["expect"]}
    _, data = run_json(capsys, PROJECT, MS, "--verbose")
    covered |= {c["kind"] for c in data["changes"]}
    assert set(spec_diff.RULES) - covered == set()
    assert covered - set(spec_diff.RULES) == set()


def test_breaking_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, PROJECT, BREAKING)
    assert code == 1
    assert reported(data, "breaking") == {
        ("bound-narrowed", "request body.connectionTimeout", "breaking"),
        ("status-removed", "response 201", "breaking"),
        ("paging-changed", "paging", "breaking"),
        ("property-removed", "response 200 body.nextLink", "breaking"),
        ("param-added-required", "param query priority", "breaking"),
        ("enum-value-removed", "param query api-version", "breaking"),
    }
    by_kind = {c["kind"]: c for c in data["changes"] if c["status"] == "breaking"}
    assert by_kind["status-removed"]["operations"] == [
        "runComponentCommand  POST /api/devices/{deviceId}/components/{componentName}"
        "/commands/{commandName}"
    ]
    assert len(by_kind["bound-narrowed"]["operations"]) == 4
    assert by_kind["paging-changed"]["new"] == {"nextLinkName": "@nextLink", "itemName": "value"}


def test_text_output_is_grouped_and_cites_provenance(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, PROJECT, MS)
    assert code == 0
    assert "other operations not compared: 0 in OLD, 5 in NEW" in out
    assert "\ndocument (server, security schemes)\n" in out
    assert "\nall 8 command operations\n" in out
    assert "\nrunCommand  POST /api/devices/{deviceId}/commands/{commandName}\n" in out
    assert "[PROVENANCE.md deviation `api-token`]" in out
    assert "BREAKING" not in out
    assert out.rstrip().endswith("(not shown: --verbose)")
    code, out, _ = run(capsys, PROJECT, BREAKING)
    assert code == 1
    line = "  BREAKING      request body.connectionTimeout: maximum 30 -> 20 (bound-narrowed)"
    assert line in out


def test_descriptions_only_with_verbose(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (mutation,) = [m for m in MUTATIONS if m["name"] == "description-only"]
    new = mutate("ms", mutation["ops"], tmp_path)
    code, out, _ = run(capsys, MS, new)
    assert code == 0
    assert "description-changed" not in out
    assert "3 description changes (not shown: --verbose)" in out
    code, out, _ = run(capsys, MS, new, "--verbose")
    assert code == 0
    assert "Seconds to wait for the device to connect. (description-changed)" in out


def test_fixture_keeps_microsofts_dangling_example_refs() -> None:
    """Published files reference example files beside them; spec-diff must never follow them."""
    doc = json.loads(MS.read_text(encoding="utf-8"))
    run_op = doc["paths"]["/devices/{deviceId}/commands/{commandName}"]["post"]
    (example,) = run_op["x-ms-examples"].values()
    assert not (MS.parent / example["$ref"]).exists()
    assert doc["x-ms-parameterized-host"]["hostTemplate"] == "{subdomain}.{baseDomain}"
    assert "responses" in run_op
    assert set(run_op["responses"]) == {"201", "default"}


def _provenance_without(tmp_path: Path, deviation: str, *, table: bool, block: bool) -> Path:
    lines = PROVENANCE.read_text(encoding="utf-8").splitlines(keepends=True)
    out: list[str] = []
    skip_block_entry = False
    for line in lines:
        if table and line.startswith(f"| `{deviation}` |"):
            continue
        if block and line.strip() == f"- id: {deviation}":
            skip_block_entry = True
            continue
        if skip_block_entry and line.startswith("    "):
            continue
        skip_block_entry = False
        out.append(line)
    path = tmp_path / "PROVENANCE.md"
    path.write_text("".join(out), encoding="utf-8")
    return path


def test_known_deviations_come_from_provenance(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    provenance = _provenance_without(tmp_path, "api-token", table=True, block=True)
    code, data = run_json(capsys, PROJECT, MS, "--provenance", provenance)
    assert code == 1
    assert reported(data, "breaking") == {
        ("security-removed", "security api_token", "breaking"),
        ("security-removed", "security scheme api_token", "breaking"),
    }


def test_provenance_table_and_block_cannot_drift(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    provenance = _provenance_without(tmp_path, "version-enum", table=False, block=True)
    code, out, err = run(capsys, PROJECT, MS, "--provenance", provenance)
    assert code == 2
    assert out == ""
    assert "only in the table ['version-enum']" in err
    broken = tmp_path / "BROKEN.md"
    broken.write_text("| `x` | y | z |\n```yaml spec-diff\ndeviations: [{note: no id}]\n```\n")
    code, _, err = run(capsys, PROJECT, MS, "--provenance", broken)
    assert code == 2
    assert "spec-diff block is malformed" in err
    loaded = spec_diff.load_provenance(PROVENANCE)
    assert {d.id for d in loaded.deviations} >= KNOWN_IDS | {"openapi-3.1", "paging"}


def test_unseen_deviation_is_noted(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    project = tmp_path / "no-token.yaml"
    doc = yaml.safe_load(PROJECT.read_text(encoding="utf-8"))
    doc["security"] = [{"azure_auth": ["user_impersonation"]}]
    del doc["components"]["securitySchemes"]["api_token"]
    project.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    code, out, _ = run(capsys, project, MS)
    assert code == 0
    assert "note: deviation `api-token`" in out


def _minimal_swagger(tmp_path: Path, paths: dict[str, Any]) -> Path:
    path = tmp_path / "other.json"
    doc = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": paths}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_input_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, PROJECT, tmp_path / "missing.json")
    assert code == 2
    assert "missing.json: cannot read" in err
    garbage = tmp_path / "garbage.yaml"
    garbage.write_text("a: [unclosed\n", encoding="utf-8")
    assert run(capsys, PROJECT, garbage)[0] == 2
    not_api = tmp_path / "list.yaml"
    not_api.write_text("- 1\n", encoding="utf-8")
    code, _, err = run(capsys, PROJECT, not_api)
    assert code == 2
    assert "not an OpenAPI or Swagger document" in err
    broken = _minimal_swagger(
        tmp_path,
        {"/devices/{d}/commands/{c}": {"get": {"responses": {"200": {"$ref": "#/responses/X"}}}}},
    )
    code, _, err = run(capsys, PROJECT, broken)
    assert code == 2
    assert "other.json" in err
    code, _, err = run(capsys, PROJECT, broken, "--no-validate")
    assert code == 2
    assert "unresolvable $ref" in err
    assert run(capsys, PROJECT, MS, "--no-validate")[0] == 0
    code, _, err = run(capsys, PROJECT, _minimal_swagger(tmp_path, {"/users": {}}))
    assert code == 2
    assert "no command operations found" in err
    assert run(capsys, PROJECT)[0] == 2


def test_remote_refs_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = json.loads(MS.read_text(encoding="utf-8"))
    doc["definitions"]["Error"] = {"$ref": "https://example.com/common-types/v1/types.json#/Error"}
    remote = tmp_path / "remote.json"
    remote.write_text(json.dumps(doc), encoding="utf-8")
    code, _, err = run(capsys, PROJECT, remote)
    assert code == 2
    assert "reads local files only" in err


def test_rules_table_lists_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--rules")
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split("|")[1].strip() for row in rows[1:]] == list(spec_diff.RULES)
    assert "| bound-narrowed | yes | no |" in out


def _script(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, IOTC_NO_BOOTSTRAP="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
        timeout=60,
    )


def test_script_exit_codes() -> None:
    same = _script("spec/iotcentral.yaml", MS.relative_to(REPO))
    assert same.returncode == 0, same.stderr
    assert "known" in same.stdout
    assert "result: 0 breaking" in same.stdout
    breaking = _script("spec/iotcentral.yaml", BREAKING, "--json")
    assert breaking.returncode == 1, breaking.stderr
    assert json.loads(breaking.stdout)["breaking"] is True
    missing = _script("spec/iotcentral.yaml", "nope.json")
    assert missing.returncode == 2
    assert "spec-diff: error:" in missing.stderr
