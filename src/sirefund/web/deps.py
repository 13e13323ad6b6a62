"""FastAPI dependencies: the unit of work, the clock, and who is calling.

Routes own their transaction: `with db.begin() as session:` — committed when the block
ends, rolled back on any error — so a failed commit surfaces inside the handler.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, NoReturn, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .. import clock as clocks
from ..config import IPNetwork, Settings
from ..db import statement_session
from ..domain.errors import Forbidden, Unauthenticated, Unavailable
from ..services import accounts, audit
from ..services.accounts import Principal
from ..services.ports import DeathRegistry, IdentityCheck, SmsGateway
from ..services.views import Payer

SESSION_COOKIE = "sirefund_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class Db:
    """Transactions of one request; their audit rows name the request's client `address`."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        read_factory: sessionmaker[Session] | None = None,
        *,
        address: str | None = None,
    ) -> None:
        self._factory = factory
        self._read_factory = read_factory or factory
        self._address = address

    @contextmanager
    def begin(self) -> Iterator[Session]:
        with self._factory() as session:
            if self._address is not None:
                session.info[audit.ADDRESS_KEY] = self._address
            with session.begin():
                yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction that only reads (db.read_only): on SQLite it takes no write lock."""
        with self._read_factory() as session, session.begin():
            yield session


def _db_of(app: Any, *, address: str | None = None) -> Db:
    state = app.state
    return Db(state.session_factory, getattr(state, "read_session_factory", None), address=address)


def get_db(request: Request) -> Db:
    return _db_of(request.app, address=client_address(request))


def get_clock(request: Request) -> clocks.Clock:
    app_clock: clocks.Clock = request.app.state.clock
    return app_clock


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_sms(request: Request) -> SmsGateway:
    """The SMS gateway the app was built with (create_app `sms=`); 503 without one."""
    sms: SmsGateway | None = getattr(request.app.state, "sms", None)
    if sms is None:
        raise Unavailable("sms.unavailable", "短信服务暂不可用，请稍后再试")
    return sms


def get_identity_check(request: Request) -> IdentityCheck:
    """The real-name check the app was built with (create_app `identity_check=`)."""
    check: IdentityCheck | None = getattr(request.app.state, "identity_check", None)
    if check is None:
        raise Unavailable("identity.unavailable", "实名核验服务暂不可用，请稍后再试")
    return check


def get_death_registry(request: Request) -> DeathRegistry | None:
    """The death registry the app was built with (create_app `death_registry=`); None: heir
    claims wait in pending_verification until one answers."""
    registry: DeathRegistry | None = getattr(request.app.state, "death_registry", None)
    return registry


# FastAPI runs a plain `def` dependency in the threadpool (a hop per dependency per request):
# these only read app state, so their dependencies are coroutines.
async def _db_dependency(request: Request) -> Db:
    return get_db(request)


async def _clock_dependency(request: Request) -> clocks.Clock:
    return get_clock(request)


async def _settings_dependency(request: Request) -> Settings:
    return get_settings(request)


DbSession = Annotated[Db, Depends(_db_dependency)]
Deaths = Annotated[DeathRegistry | None, Depends(get_death_registry)]
Sms = Annotated[SmsGateway, Depends(get_sms)]
RealNameCheck = Annotated[IdentityCheck, Depends(get_identity_check)]
Clock = Annotated[clocks.Clock, Depends(_clock_dependency)]
AppSettings = Annotated[Settings, Depends(_settings_dependency)]


def _token_from(request: Request) -> tuple[str | None, bool]:
    """(token, came_from_cookie)."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None, False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie or None), bool(cookie)


async def _csrf_token_from(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


async def optional_principal(request: Request) -> Principal | None:
    """The logged-in account, or None. Cookie sessions must carry the CSRF token on writes."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    token, from_cookie = _token_from(request)
    principal = None
    if token:
        app = request.app
        db, at, settings = _db_of(app), app.state.clock.now(), app.state.settings
        # Most requests only read the session; the idle timer is written back now and then
        # (services/accounts.py TOUCH_FRACTION), in a write transaction of its own.
        with db.read() as session:
            peek = accounts.peek_session(session, token=token, at=at, settings=settings)
        principal = peek.principal
        if peek.needs_write:
            with db.begin() as session:
                principal = accounts.resolve_session(session, token=token, at=at, settings=settings)
        if principal is not None and from_cookie and request.method not in SAFE_METHODS:
            sent = await _csrf_token_from(request)
            if not sent or not hmac.compare_digest(sent, principal.csrf_token):
                raise Forbidden("auth.csrf", "页面已过期，请刷新后重试")
    request.state.principal = principal
    return principal


async def current_principal(request: Request) -> Principal:
    principal = await optional_principal(request)
    if principal is None:
        raise Unauthenticated()
    return principal


#: A dependency answering the logged-in principal of one kind (403 for another kind).
PrincipalOfKind = Callable[[Request], Awaitable[Principal]]


def _of_kind(kind: str) -> PrincipalOfKind:
    async def dep(request: Request) -> Principal:
        principal = await current_principal(request)
        if principal.kind != kind:
            raise Forbidden("auth.wrong_account_kind", "当前登录的账户类型无权使用此功能")
        return principal

    dep.__name__ = f"current_{kind}"
    return dep


# Named, so that routes declared once for several kinds (api/refund_routes.py) can be given one.
current_person = _of_kind("person")
current_unit = _of_kind("unit")

CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentPerson = Annotated[Principal, Depends(current_person)]
CurrentUnit = Annotated[Principal, Depends(current_unit)]
CurrentOfficer = Annotated[Principal, Depends(_of_kind("officer"))]


@dataclass(frozen=True, slots=True)
class PersonRead:
    """What a person's read runs with: who (the live person session), the session (and
    connection) it was looked up on, and 缴费人 as the answers show it."""

    person: Principal
    session: Session
    payer: Payer | None


T = TypeVar("T")

#: A read's first statement joined to the session lookup (PERSON_SESSION_SQL), given the
#: session and the token's hash: the session row (None: no such session) and what it read;
#: None where the database does not join them (the lookup then runs alone first).
JoinedRead = Callable[[Session, str], tuple[tuple[object, ...] | None, T] | None]


def _alone(session: Session, token_hash: str) -> None:
    """No statement joined to the session lookup."""


class PersonReader:
    """A logged-in person's read (the "my payments" answers, issue 12) on ONE connection
    checkout (`db.statement_session`: autocommit driver statements, on SQLite without the
    write lock): the session lookup (accounts.peek_person_session, one
    statement on the driver) and the route's queries, run together in the route's worker thread; the
    dependency itself (`person_reader`) only takes the token, so no database call runs on
    the event loop. Same answers as `CurrentPerson`: 401 without a live session, 403 for
    another kind of account; the idle timer is written back, when due, in a write
    transaction of its own before the read (`resolve_session`)."""

    def __init__(self, app: Any, token: str) -> None:
        self._app = app
        self._token = token

    @contextmanager
    def read(self) -> Iterator[PersonRead]:
        with self.read_with(_alone) as (read, _):
            yield read

    @contextmanager
    def read_with(self, joined: JoinedRead[T]) -> Iterator[tuple[PersonRead, T | None]]:
        """`read`, with the read's first statement run in the session lookup's own (one
        round trip: `joined`, where the database joins them); what it read comes with the
        PersonRead once the session is known to be live, else None (the route reads alone)."""
        state = self._app.state
        engine: Engine = getattr(state, "statement_read_engine", None) or state.engine
        at, settings = state.clock.now(), state.settings
        with statement_session(engine) as session:
            both = (
                joined(session, accounts.token_hash(self._token))
                if len(self._token) <= accounts.MAX_TOKEN_CHARS
                else None
            )
            if both is None:
                peek, first = self._peek(session, at), None
            else:
                peek, first = accounts.person_peek(both[0], at=at, settings=settings), both[1]
            if not peek.needs_write:
                if peek.principal is None:
                    _refuse(self._other_kind(session, peek, at))
                payer = Payer(peek.payer_name, peek.id_number_masked)
                yield PersonRead(peek.principal, session, payer), first
                return
        with _db_of(self._app).begin() as session:
            principal = accounts.resolve_session(
                session, token=self._token, at=at, settings=settings
            )
        if principal is None or principal.kind != "person":
            _refuse(principal)
        with statement_session(engine) as session:
            yield PersonRead(principal, session, None), None

    def _peek(self, session: Session, at: datetime) -> accounts.PersonPeek:
        settings = self._app.state.settings
        return accounts.peek_person_session(session, token=self._token, at=at, settings=settings)

    def _other_kind(
        self, session: Session, peek: accounts.PersonPeek, at: datetime
    ) -> Principal | None:
        """The live principal of a unit's or officer's session (for its 403), else None."""
        if peek.kind is None or peek.kind == "person":
            return None
        settings = self._app.state.settings
        return accounts.peek_session(session, token=self._token, at=at, settings=settings).principal


def _refuse(principal: Principal | None) -> NoReturn:
    """401 without a principal, 403 for one of another kind (as `current_person`)."""
    if principal is None:
        raise Unauthenticated()
    raise Forbidden("auth.wrong_account_kind", "当前登录的账户类型无权使用此功能")


async def person_reader(request: Request) -> PersonReader:
    """The `PersonReader` of the request's token (401 at once without one); a GET-only
    dependency (no CSRF check)."""
    token, _ = _token_from(request)
    if not token:
        raise Unauthenticated()
    return PersonReader(request.app, token)


PersonReading = Annotated[PersonReader, Depends(person_reader)]


#: Longest address kept (an IPv6 address with a zone is under 50 characters).
MAX_ADDRESS_CHARS = 64


def _is_trusted(host: str, proxies: tuple[IPNetwork, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def client_address(request: Request) -> str:
    """The address login throttling and the logs know a client by.

    The peer's address, unless the peer is one of SIREFUND_TRUSTED_PROXIES: then the nearest
    X-Forwarded-For hop that is no trusted proxy (each proxy appends the address it saw, so
    the hops left of it are what the client claimed and are not believed). From anyone else
    the header is ignored: a client choosing its own address could take a fresh one for
    each login attempt. (`serve` runs uvicorn without proxy headers, so the peer is real.)
    """
    peer = request.client.host if request.client else "unknown"
    proxies = get_settings(request).trusted_proxy_networks()
    if not _is_trusted(peer, proxies):
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, proxies):
            return hop[:MAX_ADDRESS_CHARS]
    return hops[0][:MAX_ADDRESS_CHARS] if hops else peer
