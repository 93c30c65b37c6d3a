"""openapi_document(app): OpenAPI 3.1 of every REST route, made from the routes' own
declaration table (routes/spec.py) and the pydantic models and TypedDicts they read and
answer with, so the document cannot drift from the code.

Inputs are described in pydantic's validation mode, answers in serialization mode; every
type lands once under components.schemas. Error answers are the one error body with, per
status, the codes that route can answer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from safechat import __version__
from safechat.container import OPERATIONS
from safechat.errors import HTTP_STATUS, ErrorCode
from safechat.models.common import OBJECT_ID_JSON_SCHEMA
from safechat.models.responses import ErrorDetail
from safechat.routes.spec import Operation

REF = "#/components/schemas/{model}"
PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")
# The path parameters' schemas, by name: what routes/common.path_id and the routes check.
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "id": OBJECT_ID_JSON_SCHEMA,
    "groupId": OBJECT_ID_JSON_SCHEMA,
    "mediaId": OBJECT_ID_JSON_SCHEMA,
    "userId": {"type": "string", "minLength": 1, "maxLength": 200},
    "key": {"type": "string", "minLength": 1},
}
AUTH_CODES = (ErrorCode.AUTHENTICATION_FAILED, ErrorCode.INVALID_TOKEN, ErrorCode.TOKEN_EXPIRED)
ALWAYS = (ErrorCode.INTERNAL_ERROR, ErrorCode.SERVICE_UNAVAILABLE)
REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    302: "Found",
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    422: "Unprocessable",
    429: "Too many requests",
    500: "Internal error",
    503: "Unavailable",
}
DESCRIPTION = (
    "SafeChat's REST API, generated from the routes' own models (docs/protocol.md §5). "
    "Every route is served under /api and /api/v1. Success bodies carry `success: true`; "
    "errors are `{success: false, error: {code, message, details?}}`, and a model check's "
    "`details` is `{errors: [{loc, msg, type}]}`. Real-time events are on Socket.IO at "
    "/socket.io/ (see /api/asyncapi.json where served)."
)


class _Schemas:
    """Collects every type once, then generates all schemas in one pass (shared $defs)."""

    def __init__(self) -> None:
        self._inputs: dict[tuple[str, JsonSchemaMode], TypeAdapter[Any]] = {}

    def want(self, tp: Any, mode: JsonSchemaMode) -> tuple[str, JsonSchemaMode]:
        key = (f"{getattr(tp, '__module__', '')}.{getattr(tp, '__qualname__', repr(tp))}", mode)
        self._inputs.setdefault(key, TypeAdapter(tp))
        return key

    def build(self) -> tuple[dict[tuple[str, JsonSchemaMode], dict[str, Any]], dict[str, Any]]:
        inputs = [(key, mode, adapter) for (key, mode), adapter in self._inputs.items()]
        refs, defs = TypeAdapter.json_schemas(inputs, ref_template=REF)
        return dict(refs), dict(defs.get("$defs", {}))


def _path_params(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMS[name]}
        for name in PATH_PARAM.findall(path)
    ]


def _openapi_path(path: str) -> str:
    return PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation", ref_template=REF)
    assert "$defs" not in schema, f"{model.__name__}: query parameters must be flat"
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _form_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The text fields inline (form fields are flat) plus the one file part."""
    schema = model.model_json_schema(mode="validation", ref_template=REF)
    assert "$defs" not in schema, f"{model.__name__}: form fields must be flat"
    schema["properties"]["file"] = {
        "type": "string",
        "contentMediaType": "application/octet-stream",
        "description": "The file (the part may also be named `image`).",
    }
    schema["required"] = [*schema.get("required", []), "file"]
    return schema


def _error_codes(op: Operation) -> list[ErrorCode]:
    codes = list(op.errors)
    if not op.public:
        codes += [*AUTH_CODES, ErrorCode.RATE_LIMITED]
    if op.body or op.form or op.query or PATH_PARAM.search(op.path):
        codes.append(ErrorCode.VALIDATION_ERROR)
    if op.body or op.form:
        codes.append(ErrorCode.PAYLOAD_TOO_LARGE)
    codes += ALWAYS
    return list(dict.fromkeys(codes))


def _error_response(codes: list[ErrorCode]) -> dict[str, Any]:
    names = [c.value for c in codes]
    return {
        "description": "Error: " + ", ".join(f"`{n}`" for n in names),
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["success", "error"],
                    "additionalProperties": False,
                    "properties": {
                        "success": {"const": False},
                        "error": {
                            "allOf": [{"$ref": REF.format(model="ErrorDetail")}],
                            "properties": {"code": {"enum": names}},
                        },
                    },
                }
            }
        },
    }


def _operation(
    op: Operation, schemas: _Schemas, refs: dict[tuple[str, JsonSchemaMode], dict[str, Any]]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
    }
    if op.description:
        out["description"] = op.description
    params = _path_params(op.path) + (_query_params(op.query) if op.query else [])
    if params:
        out["parameters"] = params
    if op.body is not None:
        needs = bool(op.body.model_json_schema(mode="validation").get("required"))
        body = refs[schemas.want(op.body, "validation")]
        out["requestBody"] = {"required": needs, "content": {"application/json": {"schema": body}}}
    if op.form is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": _form_schema(op.form)}},
        }
    responses: dict[str, Any] = {}
    for status, tp in sorted(op.ok.items()):
        answer: dict[str, Any] = {"description": REASONS.get(status, str(status))}
        if isinstance(tp, str):
            answer["content"] = {tp: {"schema": {}}}
        elif tp is not None:
            answer["content"] = {
                "application/json": {"schema": refs[schemas.want(tp, "serialization")]}
            }
        if status in op.headers:
            answer["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in op.headers[status].items()
            }
        responses[str(status)] = answer
    by_status: dict[int, list[ErrorCode]] = defaultdict(list)
    for code in _error_codes(op):
        by_status[HTTP_STATUS.get(code, 500)].append(code)
    for status, codes in sorted(by_status.items()):
        if str(status) not in responses:  # a route's own non-error answer wins (ready's 503)
            responses[str(status)] = _error_response(codes)
    out["responses"] = responses
    if op.public:
        out["security"] = []
    return out


def openapi_document(app: web.Application) -> dict[str, Any]:
    """The whole document for the routes recorded on `app` (each under /api, not /api/v1)."""
    operations: list[Operation] = app.get(OPERATIONS, [])
    schemas = _Schemas()
    schemas.want(ErrorDetail, "serialization")
    for op in operations:  # first pass: every type, so one generation shares all $defs
        for tp in op.ok.values():
            if tp is not None and not isinstance(tp, str):
                schemas.want(tp, "serialization")
        if op.body is not None:
            schemas.want(op.body, "validation")
    refs, defs = schemas.build()
    ids = [op.operation_id for op in operations]
    assert len(ids) == len(set(ids)), f"operationIds must be unique: {sorted(ids)}"
    paths: dict[str, dict[str, Any]] = defaultdict(dict)
    for op in operations:
        paths[_openapi_path(op.path)][op.method.lower()] = _operation(op, schemas, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "SafeChat REST API", "version": __version__, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in operations)],
        "paths": dict(paths),
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A token from the configured identity provider (Clerk) "
                    "or the dev issuer.",
                }
            },
        },
    }
