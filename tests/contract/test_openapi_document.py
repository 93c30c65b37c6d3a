"""GET /api/openapi.json: a valid OpenAPI 3.1 document that lists exactly the routes the
server has (both directions), with the error body and bearer auth."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from openapi_spec_validator import validate

from tests.helpers.support import ChatServer

# Served by engine.io, described by the AsyncAPI document instead.
SOCKET_PREFIX = "/socket.io"
# The web client's page and its static files (docs/web-client.md): not an API.
WEB_CLIENT_FILES = ("/", "/app/vendor/socket.io.esm.min.js")


def _routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        resource = route.resource
        if route.method in ("HEAD", "OPTIONS") or resource is None:
            continue
        if isinstance(resource, web.StaticResource):
            continue
        path = resource.canonical
        if path.startswith(SOCKET_PREFIX) or path in WEB_CLIENT_FILES:
            continue
        found.add((route.method, path))
    return found


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    found = set()
    for path, item in doc["paths"].items():
        for method in item:
            found.add((method.upper(), path))
    return found


async def _document(server: ChatServer) -> dict[str, Any]:
    status, doc = await server.request("GET", "/api/openapi.json")  # no token: public
    assert status == 200
    return doc


async def test_the_document_is_valid_openapi_3_1(server: ChatServer) -> None:
    doc = await _document(server)
    assert doc["openapi"].startswith("3.1")
    validate(doc)


async def test_every_route_is_documented_and_nothing_else(server: ChatServer) -> None:
    doc = await _document(server)
    documented = _documented(doc)
    served = _routes(server.app)
    # /api/v1/x is the same operation as /api/x; the document lists it once.
    unversioned = {
        (m, "/api/" + p[len("/api/v1/") :]) if p.startswith("/api/v1/") else (m, p)
        for m, p in served
    }
    assert unversioned - documented == set(), "routes missing from /api/openapi.json"
    assert documented - unversioned == set(), "documented operations the server lacks"
    # Every documented /api route is also served under /api/v1 except the few outside it.
    outside_v1 = {"/api/dev/token", "/api/openapi.json"}
    for method, path in documented:
        if path.startswith("/api/") and path not in outside_v1:
            assert (method, "/api/v1/" + path[len("/api/") :]) in served, (method, path)


async def test_auth_and_errors_are_described(server: ChatServer) -> None:
    doc = await _document(server)
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert doc["security"] == [{"bearerAuth": []}]
    ops = {(m.upper(), p): op for p, item in doc["paths"].items() for m, op in item.items()}
    for public in [("GET", "/health"), ("GET", "/info"), ("GET", "/api/openapi.json")]:
        assert ops[public]["security"] == []
    create = ops[("POST", "/api/groups")]
    assert "security" not in create  # the document's default: bearer
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateGroup"
    }
    assert set(create["responses"]) >= {"201", "400", "401", "404", "409", "413", "429", "500"}
    unauthorized = create["responses"]["401"]["content"]["application/json"]["schema"]
    assert unauthorized["properties"]["error"]["properties"]["code"]["enum"] == [
        "AUTHENTICATION_FAILED",
        "INVALID_TOKEN",
        "TOKEN_EXPIRED",
    ]
    history = ops[("GET", "/api/messages/group/{groupId}")]
    names = {p["name"]: p for p in history["parameters"]}
    assert names["groupId"]["in"] == "path"
    assert names["limit"]["schema"]["maximum"] == 100
    # What the server answers for a real error matches the error body it documents.
    status, body = await server.request("POST", "/api/groups", json={"name": "x"})
    assert status == 401
    assert (
        body["error"]["code"] in unauthorized["properties"]["error"]["properties"]["code"]["enum"]
    )
