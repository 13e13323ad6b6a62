"""The `sirefund` command line. Each command is a thin entry point: it builds the settings
and engine, owns the transaction, and calls services."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from . import imports, logconfig, migrate
from .clock import SystemClock
from .config import Settings, load_settings
from .db import make_engine, make_session_factory, unit_of_work
from .domain.errors import DomainError
from .generate import generate
from .models import Officer
from .services import totp

#: Exit status of a command interrupted with Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sirefund", description="城乡居民社会保险费退费")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="fresh demo database, demo data, web + worker + simulators")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--persons", type=int, default=200)
    d.add_argument("--no-serve", action="store_true", help="prepare the demo database and exit")

    s = sub.add_parser("serve", help="the web app (API + pages)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--worker", action="store_true", help="also run the dispatcher in-process")
    s.add_argument("--simulate-agencies", action="store_true", help="mount the agency simulators")
    s.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N app processes on one socket (PostgreSQL only; pools sized to fit)",
    )

    sub.add_parser("worker", help="the dispatcher alone")

    sa = sub.add_parser("simulate-agencies", help="the HRSS / medical security / bank simulators")
    sa.add_argument("--host", default="127.0.0.1")
    sa.add_argument("--port", type=int, default=8100)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="create or migrate the schema")

    im = sub.add_parser("import", help="load a CSV import file")
    im.add_argument("kind", choices=list(imports.KINDS))
    im.add_argument("file", type=Path)

    of = sub.add_parser("officer", help="officer accounts")
    of_sub = of.add_subparsers(dest="officer_command", required=True)
    add = of_sub.add_parser("add", help="create an officer; password read from standard input")
    add.add_argument("--code", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--region", required=True)
    add.add_argument("--role", action="append", choices=["reviewer", "initiator"], default=None)
    add.add_argument(
        "--totp-secret",
        metavar="BASE32",
        default=None,
        help="the officer's TOTP secret (scripted set-up); a new one is made and shown otherwise",
    )

    tp = of_sub.add_parser(
        "totp", help="give an officer a new TOTP secret (an old database's officers have none)"
    )
    tp.add_argument("--code", required=True)
    tp.add_argument(
        "--totp-secret",
        metavar="BASE32",
        default=None,
        help="the officer's new TOTP secret (scripted set-up); a new one is made and shown otherwise",
    )

    g = sub.add_parser("generate", help="write deterministic demo import files")
    g.add_argument("--persons", type=int, required=True)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--pension-payments", type=int, default=None)
    return p


def _engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url, echo=settings.echo_sql)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = _engine(settings)
    migrate.upgrade(engine)
    print(f"database at revision {migrate.current_revision(engine)}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not args.file.is_file():
        print(f"文件不存在: {args.file}", file=sys.stderr)
        return 2
    engine = _engine(settings)
    try:
        summary = imports.import_file(engine, args.kind, args.file, progress=sys.stderr.isatty())
    except DomainError as exc:  # a whole-file error: nothing of the file is usable
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(summary.line())
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("密码: ")
        if getpass.getpass("再次输入密码: ") != first:
            raise SystemExit("两次输入的密码不一致")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _show_totp_secret(secret: str, officer_code: str) -> None:
    """What the new officer scans with an authenticator app (or types in): shown once."""
    import segno  # noqa: PLC0415 - lazy: only this command draws a QR code

    uri = totp.provisioning_uri(secret, officer_code=officer_code)
    print("请用身份验证器 App 扫描下面的二维码，或手工输入密钥（仅显示这一次）：")
    segno.make(uri, error="m").terminal(compact=True)
    print(f"密钥: {secret}")
    print(f"URI:  {uri}")


def _officer_command(
    args: argparse.Namespace, change: Callable[[Session], Officer], *, done: str
) -> int:
    """Run `change` (a use case on one officer) in its own transaction; print `done`, and the
    new TOTP secret when the command made one (no --totp-secret given); exit 1 with the
    Chinese reason on a refusal."""
    factory = make_session_factory(_engine(load_settings()))
    try:
        with unit_of_work(factory) as session:
            officer = change(session)
            code, secret = officer.code, officer.totp_secret
    except DomainError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 1
    print(f"officer {code} {done}")
    if args.totp_secret is None and secret is not None:
        _show_totp_secret(secret, code)
    return 0


def cmd_officer_add(args: argparse.Namespace) -> int:
    from .services import officers  # noqa: PLC0415 - lazy: password hashing loads argon2

    password = _read_password()
    roles = set(args.role or ["reviewer"])
    return _officer_command(
        args,
        lambda session: officers.add_officer(
            session,
            code=args.code,
            name=args.name,
            region_code=args.region,
            roles=roles,
            password=password,
            at=SystemClock().now(),
            totp_secret=args.totp_secret,
        ),
        done="created",
    )


def _os_user() -> str:
    """Who ran the command, for the security log (the account may have no name in a container)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def cmd_officer_totp(args: argparse.Namespace) -> int:
    from .services import officers  # noqa: PLC0415 - lazy: password hashing loads argon2

    return _officer_command(
        args,
        lambda session: officers.reset_totp(
            session,
            code=args.code,
            at=SystemClock().now(),
            actor=f"cli:{_os_user()}",
            totp_secret=args.totp_secret,
        ),
        done="TOTP secret replaced",
    )


def cmd_officer(args: argparse.Namespace) -> int:
    if args.officer_command == "totp":
        return cmd_officer_totp(args)
    return cmd_officer_add(args)


def cmd_generate(args: argparse.Namespace) -> int:
    counts = generate(args.persons, args.seed, args.out, pension_payments=args.pension_payments)
    print(", ".join(f"{name}: {n}" for name, n in counts.items()))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .runtime import serve  # noqa: PLC0415 - lazy: the web stack loads only to serve

    return serve(
        load_settings(),
        host=args.host,
        port=args.port,
        worker=args.worker,
        simulate_agencies=args.simulate_agencies,
        workers=args.workers,
    )


def cmd_worker(args: argparse.Namespace) -> int:
    from .worker import run_forever  # noqa: PLC0415 - lazy: loads the services and agency clients

    return run_forever(load_settings())


def cmd_simulate(args: argparse.Namespace) -> int:
    from .runtime import serve_simulators  # noqa: PLC0415 - lazy: the web stack loads only to serve

    return serve_simulators(load_settings(), host=args.host, port=args.port)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo  # noqa: PLC0415 - lazy: the demo loads the services and web stack

    return run_demo(host=args.host, port=args.port, persons=args.persons, serve=not args.no_serve)


def main(argv: list[str] | None = None) -> int:
    logconfig.configure(os.environ.get("SIREFUND_LOG_FORMAT"))
    args = _parser().parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "db": cmd_db_upgrade,
        "import": cmd_import,
        "officer": cmd_officer,
        "generate": cmd_generate,
        "serve": cmd_serve,
        "worker": cmd_worker,
        "simulate-agencies": cmd_simulate,
        "demo": cmd_demo,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
