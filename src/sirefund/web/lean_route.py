"""Routes whose common requests skip FastAPI's per-request machinery (issue 12: the persons'
"my payments" reads are the hottest requests of a refund season).

FastAPI answers every request of a route by solving its dependency tree and validating each
query parameter through pydantic: for the payments reads that was about half of the
request's CPU. A lean route keeps the route exactly as declared — the same path, parameters,
responses and OpenAPI document, the same handler for anything unusual — and puts a fast path
in front of it: when every query parameter it is given is in its plain form (digits within
the declared bounds, one of the declared values), the fast path parses them itself and
answers; anything else (a value out of bounds, a malformed number, a parameter the fast path
leaves to the route) goes to FastAPI's own handler, so every 422 is FastAPI's, as before.

Both paths run inside the same Starlette request wrapper, so errors raised by either (401,
403, a DomainError) reach the app's exception handlers the same way.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .deps import PersonReader, person_reader

#: A fast path: the answer, or None to leave the request to FastAPI's handler.
FastPath = Callable[[Request], Awaitable[Response | None]]

_PLAIN_INT = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True, slots=True)
class IntQuery:
    """An integer query parameter within [ge, le] (as its Query(ge=, le=) declares)."""

    ge: int
    le: int
    default: int | None = None


@dataclass(frozen=True, slots=True)
class ChoiceQuery:
    """A query parameter that is one of `choices` (a Literal or an enum's values)."""

    choices: frozenset[str]
    default: str | None = None


#: Query parameters the fast path knows, by name; None: only FastAPI's handler takes it.
QuerySpec = Mapping[str, IntQuery | ChoiceQuery | None]


@dataclass(frozen=True, slots=True)
class PlainQuery:
    """The fast path's parsed parameters (defaults filled in as FastAPI would)."""

    ints: dict[str, int | None]
    texts: dict[str, str | None]

    def number(self, name: str) -> int:
        value = self.ints[name]
        if value is None:
            raise KeyError(name)  # declared with a default: never reached
        return value


def plain_query(request: Request, spec: QuerySpec) -> PlainQuery | None:
    """The parameters of `spec` when each one given is in its plain form, else None.

    A parameter given twice counts by its last value, as for FastAPI; parameters outside
    `spec` are ignored, as FastAPI ignores them."""
    params = request.query_params
    ints: dict[str, int | None] = {}
    texts: dict[str, str | None] = {}
    for name, kind in spec.items():
        raw = params.get(name)
        if kind is None:
            if raw is not None:
                return None
        elif isinstance(kind, IntQuery):
            if raw is None:
                ints[name] = kind.default
                continue
            if not _PLAIN_INT.fullmatch(raw) or not kind.ge <= int(raw) <= kind.le:
                return None
            ints[name] = int(raw)
        elif raw is None:
            texts[name] = kind.default
        elif raw in kind.choices:
            texts[name] = raw
        else:
            return None
    return PlainQuery(ints, texts)


#: A person's read on a fast path: the answer's JSON body for the request's reader, the parsed
#: parameters and the request (run in a worker thread).
PersonRead = Callable[[PersonReader, PlainQuery, Request], Any]


def person_read(spec: QuerySpec, read: PersonRead) -> FastPath:
    """The fast path of a logged-in person's GET: ``spec``'s parameters when they are all
    plain (else None: FastAPI's handler), the request's `PersonReader` (401 at once without a
    token), ``read`` in a worker thread, its body answered as JSON."""

    async def fast(request: Request) -> Response | None:
        query = plain_query(request, spec)
        if query is None:
            return None
        reader = await person_reader(request)
        return JSONResponse(await run_in_threadpool(read, reader, query, request))

    return fast


def lean_route(fast: FastPath) -> type[APIRoute]:
    """An APIRoute class whose requests try `fast` first (see the module's docstring); pass
    it as `route_class_override` of `APIRouter.add_api_route`."""

    class LeanRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            full = super().get_route_handler()

            async def handler(request: Request) -> Response:
                answer = await fast(request)
                return answer if answer is not None else await full(request)

            return handler

    return LeanRoute


#: Adds a hot read once more on the app's router, under the API's prefix.
AddHotCopy = Callable[[APIRouter, str], None]


def add_hot_read(
    router: APIRouter, path: str, endpoint: Callable[..., Any], fast: FastPath, **documented: Any
) -> AddHotCopy:
    """``GET path`` on ``router`` (documented with ``documented``, the keywords of
    `APIRouter.add_api_route`) with the fast path ``fast`` in front; answers the function that
    adds the same route once more on the app's own router ahead of the included routers, out
    of the OpenAPI document: FastAPI matches an included router's routes one by one, twice
    per request, behind every router included before it (issue 12). Same endpoint and fast
    path, so the same answers."""
    route_class = lean_route(fast)
    router.add_api_route(
        path, endpoint, methods=["GET"], route_class_override=route_class, **documented
    )

    def add_copy(front: APIRouter, prefix: str) -> None:
        front.add_api_route(
            prefix + path,
            endpoint,
            methods=["GET"],
            include_in_schema=False,
            route_class_override=route_class,
        )

    return add_copy
