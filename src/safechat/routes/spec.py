"""The declaration table of the REST routes: each route is registered from an `Operation`
that also says what it takes and answers, so the OpenAPI document
(safechat/contract/openapi.py) is made from the same records the router is.

A route added with plain `app.router.add_*` has no record: the contract test that
enumerates the router fails until it gets one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from safechat.container import OPERATIONS
from safechat.errors import ErrorCode

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Success bodies that are not JSON: the media type a status answers with.
Raw = str
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Operation:
    """One REST route. `ok` maps each success status to the type of its body (a
    TypedDict or model; None: no body, or a `Raw` media type string for a non-JSON one).
    `errors` are the route's own codes; the generator adds the ones every route shares
    (auth, rate limit, validation of what it reads, 500, 503)."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    ok: dict[int, Any]
    body: type[BaseModel] | None = None
    form: type[BaseModel] | None = None  # multipart/form-data text fields (+ one file)
    query: type[BaseModel] | None = None
    errors: tuple[ErrorCode, ...] = ()
    public: bool = False
    versioned: bool = True  # also served under /api/v1
    description: str = ""
    # Response headers by status: name -> description (Location of a redirect).
    headers: dict[int, dict[str, str]] = field(default_factory=dict)
    name: str = ""  # the operationId's second part when the handler's name is taken

    @property
    def operation_id(self) -> str:
        return f"{self.tag}_{self.name or self.handler.__name__}"


def api(method: str, path: str, handler: Handler, summary: str, **kw: Any) -> Operation:
    """An authenticated route under /api (and /api/v1)."""
    assert path.startswith("/api/")
    return Operation(method, path, handler, summary, **kw)


def public(method: str, path: str, handler: Handler, summary: str, **kw: Any) -> Operation:
    """A route that needs no token; outside /api/v1 unless `versioned=True`."""
    kw.setdefault("versioned", False)
    return Operation(method, path, handler, summary, public=True, **kw)


def register(app: web.Application, operations: Sequence[Operation]) -> None:
    """Add each route to the router (twice when versioned) and record it."""
    recorded = app.setdefault(OPERATIONS, [])
    for op in operations:
        app.router.add_route(op.method, op.path, op.handler)
        if op.versioned and op.path.startswith("/api/"):
            app.router.add_route(op.method, "/api/v1/" + op.path[len("/api/") :], op.handler)
        recorded.append(op)
