"""The served OpenAPI document describes the contract of api.md: every `METHOD /path` of its
tables is there under /api/v1 with that method, each with examples, and the one error format
is described. /docs serves the interactive documentation.

api.md lives in the shared docs beside the repository (`../shared/docs/api.md`), or where
SIREFUND_API_DOC points.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sirefund.config import Settings
from sirefund.web.app import create_app

API = "/api/v1"
REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ROW = re.compile(r"^\|\s*(GET|POST|PUT|PATCH|DELETE)\s+(/[^\s|]*)\s*\|", re.MULTILINE)
ERROR_STATUSES = {"400", "401", "403", "404", "409", "413", "422", "429"}


def _api_doc() -> Path:
    path = Path(os.environ.get("SIREFUND_API_DOC", REPO.parent / "shared" / "docs" / "api.md"))
    if not path.exists():
        if IN_CI:
            pytest.fail(f"api.md not found at {path}: CI must check the served contract against it")
        pytest.skip(f"api.md not found at {path} (set SIREFUND_API_DOC)")
    return path


def contract_operations(text: str) -> list[tuple[str, str]]:
    """(METHOD, /path) of every row of api.md's tables, in order."""
    return [(m, p) for m, p in ROW.findall(text)]


def _shape(path: str) -> str:
    """`/pension/refunds/{id}` and `/pension/refunds/{application_id}` are the same path."""
    return re.sub(r"\{[^}]*\}", "{}", path)


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> TestClient:
    # The document needs no database: nothing is opened until a request uses one.
    var = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        database_url=f"sqlite:///{var / 'unused.db'}",
        var_dir=var,
        secret_key="test-secret-key-0123456789abcdef",
    )
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def spec(client) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


@pytest.fixture(scope="module")
def contract() -> list[tuple[str, str]]:
    ops = contract_operations(_api_doc().read_text(encoding="utf-8"))
    # api.md has five tables with 30 and more rows; far fewer means the parser broke.
    assert len(ops) >= 30, ops
    return ops


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), _shape(path)): op
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }


def _contract_ops(spec, contract) -> dict[tuple[str, str], dict[str, Any]]:
    ops = _operations(spec)
    return {(m, p): ops[(m, _shape(API + p))] for m, p in contract if (m, _shape(API + p)) in ops}


class Schemas:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.named = spec.get("components", {}).get("schemas", {})

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        seen = set()
        while isinstance(node, dict) and "$ref" in node and node["$ref"] not in seen:
            seen.add(node["$ref"])
            node = self.named[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def has_example(self, node: Any, depth: int = 0, seen: frozenset = frozenset()) -> bool:
        """An example anywhere in the media type or its schema: on the whole body, or on the
        fields from which a documentation viewer builds one."""
        if depth > 12:
            return False
        if isinstance(node, dict):
            if "example" in node or "examples" in node:
                return True
            ref = node.get("$ref")
            if ref:
                return ref not in seen and self.has_example(
                    self.resolve(node), depth + 1, seen | {ref}
                )
            return any(self.has_example(v, depth + 1, seen) for v in node.values())
        if isinstance(node, list):
            return any(self.has_example(v, depth + 1, seen) for v in node)
        return False

    def is_error_envelope(self, node: dict[str, Any]) -> bool:
        """`{"error": {"code", "message", "field"}}`."""
        outer = self.resolve(node)
        inner = self.resolve(outer.get("properties", {}).get("error", {}))
        return {"code", "message", "field"} <= set(inner.get("properties", {}))


# --------------------------------------------------------------------------- parametrisation

# Gaps known when these tests were written, each naming what is missing where. A strict
# xfail: the test starts failing the day the gap is closed, so the entry gets removed.
NO_EXAMPLE_GAPS: dict[tuple[str, str], str] = {}
ERROR_FORMAT_GAPS: dict[tuple[str, str], str] = {}

# api.md's wave 2 operations, each waiting for the issue that builds it. Strict xfails too: an
# operation that starts being served fails here until its entry is removed.
WAVE_2_PENDING: dict[tuple[str, str], str] = {}


def _collected_contract() -> list[tuple[str, str]]:
    path = Path(os.environ.get("SIREFUND_API_DOC", REPO.parent / "shared" / "docs" / "api.md"))
    return contract_operations(path.read_text(encoding="utf-8")) if path.exists() else []


def _params(gaps: dict[tuple[str, str], str] | None = None) -> list[Any]:
    ops = _collected_contract()
    if not ops:  # the `contract` fixture then skips or fails with the reason
        return [pytest.param("GET", "/", id="api.md-missing")]
    marks = {**WAVE_2_PENDING, **(gaps or {})}
    return [
        pytest.param(
            m,
            p,
            id=f"{m} {p}",
            marks=[pytest.mark.xfail(strict=True, reason=marks[(m, p)])] if (m, p) in marks else [],
        )
        for m, p in ops
    ]


# api.md writes the operations every kind has once, under `/{kind}/...`.
KINDS = ("pension", "unit", "medical")


def _ops(spec, contract, method: str, path: str) -> list[dict[str, Any]]:
    """The served operation(s) of an api.md row: one per kind for a `/{kind}/...` row."""
    assert (method, path) in contract
    paths = [path.replace("{kind}", k) for k in KINDS] if "{kind}" in path else [path]
    found = []
    for one in paths:
        # A row such as `GET /pension/payments?heir_claim_id=` names a query parameter of
        # the operation at the path.
        bare, _, query = one.partition("?")
        op = _operations(spec).get((method, _shape(API + bare)))
        assert op is not None, f"{method} {API}{one} is not in /openapi.json"
        for name in filter(None, (q.partition("=")[0] for q in query.split("&"))):
            served = {p.get("name") for p in op.get("parameters", []) if p.get("in") == "query"}
            assert name in served, f"{method} {API}{bare} has no query parameter {name}"
        found.append(op)
    return found


# --------------------------------------------------------------------------- tests


def test_the_api_md_parser_reads_method_and_path_of_each_table_row():
    text = (
        "| method path | body | result |\n|---|---|---|\n"
        "| POST /register/person | `id_number` | 201 |\n"
        "| GET /pension/refunds/{id} | | one |\n"
        "| DELETE /sessions/current | | 204 |\n"
        "Prose mentioning GET /me is not a row.\n"
    )
    assert contract_operations(text) == [
        ("POST", "/register/person"),
        ("GET", "/pension/refunds/{id}"),
        ("DELETE", "/sessions/current"),
    ]


@pytest.mark.parametrize(("method", "path"), _params())
def test_openapi_lists_the_api_md_operation_under_api_v1_with_its_method(
    spec, contract, method, path
):
    _ops(spec, contract, method, path)


@pytest.mark.parametrize(("method", "path"), _params(NO_EXAMPLE_GAPS))
def test_the_api_md_operation_has_a_response_example(spec, contract, method, path):
    for op in _ops(spec, contract, method, path):
        _assert_response_example(spec, op)


def _assert_response_example(spec, op: dict[str, Any]) -> None:
    success = {code: r for code, r in op.get("responses", {}).items() if code.startswith("2")}
    assert success, "no success response documented"
    bodies = [r["content"] for r in success.values() if r.get("content")]
    if not bodies:
        assert set(success) == {"204"}, "a success response with a body must describe it"
        return  # 204 No Content: nothing to show
    assert any(Schemas(spec).has_example(content) for content in bodies), success


@pytest.mark.parametrize(("method", "path"), _params())
def test_the_api_md_operation_that_takes_a_body_has_a_request_example(spec, contract, method, path):
    for op in _ops(spec, contract, method, path):
        if "requestBody" in op:
            assert Schemas(spec).has_example(op["requestBody"]["content"]), op["requestBody"]


def test_the_error_format_is_described_as_a_schema(spec):
    schemas = Schemas(spec)
    envelopes = [name for name, s in schemas.named.items() if schemas.is_error_envelope(s)]
    assert envelopes, 'no schema describes {"error": {"code", "message", "field"}}'


@pytest.mark.parametrize(("method", "path"), _params(ERROR_FORMAT_GAPS))
def test_the_api_md_operation_describes_its_errors_in_the_error_format(
    spec, contract, method, path
):
    """What the API really sends on 401/403/404/409/422 is `{"error": {...}}`; a 4xx documented
    with another schema (FastAPI's own HTTPValidationError, say) misleads every client."""
    for op in _ops(spec, contract, method, path):
        _assert_error_envelopes(spec, op)


def _assert_error_envelopes(spec, op: dict[str, Any]) -> None:
    errors = {code: r for code, r in op.get("responses", {}).items() if code in ERROR_STATUSES}
    assert errors, "no error response documented"
    schemas = Schemas(spec)
    wrong = {
        code: r.get("content", {}).get("application/json", {}).get("schema")
        for code, r in errors.items()
        if not schemas.is_error_envelope(
            r.get("content", {}).get("application/json", {}).get("schema") or {}
        )
    }
    assert not wrong


def test_docs_serves_the_interactive_documentation_of_openapi_json(client):
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text.lower() and "swagger" in r.text.lower()
    assert "/openapi.json" in r.text


def test_docs_loads_nothing_from_another_host(client):
    r = client.get("/docs")
    external = re.findall(r"""(?:src|href)\s*=\s*["'](https?://[^"']+)""", r.text)
    assert not external
