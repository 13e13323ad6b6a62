"""The `sirefund` command line. Each command is a thin entry point: it builds the settings
and engine, owns the transaction, and calls services."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from . import grants, imports, logconfig, migrate, reconcile_report
from .clock import SystemClock
from .config import Settings, load_settings
from .db import make_engine, make_session_factory, unit_of_work
from .domain.errors import DomainError
from .generate import generate
from .models import Officer
from .services import totp

#: Exit status of a command interrupted with Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

T = TypeVar("T")


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
    gr = db_sub.add_parser(
        "grants", help="print the SQL that gives the app's role only what it needs (PostgreSQL)"
    )
    gr.add_argument("--app-role", default="sirefund_app")

    au = sub.add_parser("audit", help="the tamper-evident audit log")
    au_sub = au.add_subparsers(dest="audit_command", required=True)
    av = au_sub.add_parser("verify", help="walk the hash chain; exit 1 when it is broken")
    av.add_argument("--batch-size", type=int, default=5000)
    av.add_argument(
        "--no-anchor", action="store_true", help="do not add a checkpoint of the verified tip"
    )

    im = sub.add_parser("import", help="load a CSV import file")
    im.add_argument("kind", choices=list(imports.KINDS))
    im.add_argument("file", type=Path)

    _add_officer_parser(sub)
    _add_holidays_parser(sub)
    _add_reconcile_parser(sub)
    _add_risk_rules_parser(sub)
    _add_stats_parser(sub)
    sub.add_parser(
        "lapse-overdue",
        help="逾期未补正: applications returned for correction over 15 days ago lapse "
        "(the worker does this on its own every few seconds)",
    )

    g = sub.add_parser("generate", help="write deterministic demo import files")
    g.add_argument("--persons", type=int, required=True)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--pension-payments", type=int, default=None)
    g.add_argument(
        "--load",
        action="store_true",
        help="also COPY persons, pension and medical payments into SIREFUND_DATABASE_URL "
        "(PostgreSQL, empty, migrated): benchmarks at province scale",
    )
    return p


def _add_officer_parser(sub: Any) -> None:
    of = sub.add_parser("officer", help="officer accounts")
    of_sub = of.add_subparsers(dest="officer_command", required=True)
    add = of_sub.add_parser("add", help="create an officer; password read from standard input")
    add.add_argument("--code", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--region", required=True)
    add.add_argument(
        "--role",
        action="append",
        choices=["reviewer", "initiator", "auditor", "supervisor"],
        default=None,
    )
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


def _add_holidays_parser(sub: Any) -> None:
    hd = sub.add_parser(
        "holidays", help="the officers' calendar: holidays and 调休 days the package lacks"
    )
    hd_sub = hd.add_subparsers(dest="holidays_command", required=True)
    ha = hd_sub.add_parser("add", help="set one day (replaces an earlier entry of that day)")
    ha.add_argument("--date", required=True, type=date.fromisoformat, metavar="YYYY-MM-DD")
    kind = ha.add_mutually_exclusive_group(required=True)
    kind.add_argument("--holiday", action="store_true", help="a day off (法定节假日)")
    kind.add_argument("--workday", action="store_true", help="a working day (调休上班)")
    ha.add_argument("--label", required=True, help="说明，如 春节、国庆节调休上班")
    hl = hd_sub.add_parser("list", help="a year's holidays and make-up working days")
    hl.add_argument("--year", type=int, required=True)
    hr = hd_sub.add_parser("remove", help="remove one day from the officers' calendar")
    hr.add_argument("--date", required=True, type=date.fromisoformat, metavar="YYYY-MM-DD")


def _add_stats_parser(sub: Any) -> None:
    st = sub.add_parser("stats", help="统计分析's summary tables (kept by database triggers)")
    st_sub = st.add_subparsers(dest="stats_command", required=True)
    st_sub.add_parser(
        "rebuild",
        help="recompute them from the applications and the calendar "
        "(e.g. after the chinesecalendar package learnt a new year)",
    )
    st_sub.add_parser("check", help="compare them with the live aggregate; exit 1 when they differ")


def _add_reconcile_parser(sub: Any) -> None:
    rc = sub.add_parser(
        "reconcile",
        help="three-way reconciliation (三方对账) of a day; exit 1 when anything differs",
    )
    rc.add_argument(
        "--date",
        type=_iso_date,
        default=None,
        help="YYYY-MM-DD, the statements' date in China time (default: yesterday)",
    )


def _on_off(value: str) -> bool:
    if value in ("on", "true", "1"):
        return True
    if value in ("off", "false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"应为 on 或 off: {value!r}")


def _add_risk_rules_parser(sub: Any) -> None:
    rr = sub.add_parser("risk-rules", help="风险提示 rules: list them, change their settings")
    rr_sub = rr.add_subparsers(dest="risk_rules_command", required=True)
    rr_sub.add_parser("list", help="every rule: code, enabled, threshold, window, label")
    rs = rr_sub.add_parser("set", help="change a rule (only the settings given)")
    rs.add_argument("code", help="the rule's code, e.g. shared_account, large_amount.pension")
    rs.add_argument("--enabled", type=_on_off, default=None, metavar="on|off")
    rs.add_argument(
        "--threshold", type=int, default=None, help="a count, or fen for large_amount.*"
    )
    rs.add_argument("--window-days", type=int, default=None)


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD: {value!r}") from None


def _engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url, echo=settings.echo_sql, pooler=settings.db_pooler)


def cmd_db(args: argparse.Namespace) -> int:
    if args.db_command == "grants":
        print(grants.grants_sql(app_role=args.app_role), end="")
        return 0
    return cmd_db_upgrade(args)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Walk the audit chain; print what was found; 0 when intact, 1 when broken."""
    from .services import audit  # noqa: PLC0415 - lazy: only this command needs it

    engine = _engine(load_settings())
    started = time.perf_counter()
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            walk = audit.verify(
                session,
                at=SystemClock().now(),
                anchor=not args.no_anchor,
                batch_size=max(1, args.batch_size),
            )
    finally:
        engine.dispose()
    seconds = time.perf_counter() - started
    if walk.broken is not None:
        print(
            f"审计链断开于第 {walk.broken.audit_id} 行（{walk.broken.kind}）：{walk.broken.message}；"
            f"此前 {walk.rows} 行完好",
            file=sys.stderr,
        )
        return 1
    print(
        f"审计链完整：{walk.rows} 行，最后一行 {walk.last_id}，哈希 {walk.last_hash}；"
        f"核对锚点 {walk.checkpoints_checked} 个；用时 {seconds:.2f} 秒"
    )
    return 0


def cmd_lapse_overdue(args: argparse.Namespace) -> int:
    """Lapse every returned application not corrected within 15 days; print how many."""
    from .services import corrections  # noqa: PLC0415 - lazy: only this command needs it

    engine = _engine(load_settings())
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            result = corrections.lapse_overdue(session, now=SystemClock().now())
    finally:
        engine.dispose()
    print(f"逾期未补正：{len(result.lapsed)} 条申请已失效")
    return 0


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
    yuan = 100  # fen
    limits = imports.ImportLimits(
        max_pension_fen=settings.import_max_pension_yuan * yuan,
        max_medical_fen=settings.import_max_medical_yuan * yuan,
        max_ltc_fen=settings.import_max_ltc_yuan * yuan,
        max_unit_payment_fen=settings.import_max_unit_payment_yuan * yuan,
        max_unit_line_fen=settings.import_max_unit_line_yuan * yuan,
        earliest_date=settings.import_earliest_date,
    )
    try:
        summary = imports.import_file(
            engine, args.kind, args.file, progress=sys.stderr.isatty(), limits=limits
        )
    except DomainError as exc:
        # A whole-file error (nothing loaded), or ImportInterrupted, whose message says how
        # many rows were committed and that running the command again continues.
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        if isinstance(exc, imports.ImportInterrupted) and exc.summary.rejected_path:
            print(f"被拒绝的行见 {exc.summary.rejected_path}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"无法读取文件 {args.file}: {exc.strerror}", file=sys.stderr)
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


def _in_transaction(work: Callable[[Session], T]) -> T | None:
    """`work` (use cases) in one transaction on the configured database, and what it returns;
    None, with the refusal's code and Chinese message on stderr and nothing committed, when a
    use case refuses (DomainError)."""
    factory = make_session_factory(_engine(load_settings()))
    try:
        with unit_of_work(factory) as session:
            return work(session)
    except DomainError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return None


def _officer_command(
    args: argparse.Namespace, change: Callable[[Session], Officer], *, done: str
) -> int:
    """Run `change` (a use case on one officer) in its own transaction; print `done`, and the
    new TOTP secret when the command made one (no --totp-secret given); exit 1 with the
    Chinese reason on a refusal."""

    def work(session: Session) -> tuple[str, str | None]:
        officer = change(session)
        return officer.code, officer.totp_secret

    changed = _in_transaction(work)
    if changed is None:
        return 1
    code, secret = changed
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
            actor=f"cli:{_os_user()}",
        ),
        done="created",
    )


def _os_user() -> str:
    """Who ran the command, for the security log (the account may have no name in a container)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def cmd_stats(args: argparse.Namespace) -> int:
    """`sirefund stats rebuild|check`: services/stats_summary.py."""
    from .services import holidays, stats_summary  # noqa: PLC0415 - lazy, like cmd_holidays

    factory = make_session_factory(_engine(load_settings()))
    with unit_of_work(factory) as session:
        if args.stats_command == "rebuild":
            done = stats_summary.rebuild(session, holidays.working_days(session))
            print(
                f"统计汇总已重建：{done.cells} 个统计格，{done.refund_days} 个办理时长格，"
                f"工作日表更新 {done.working_days_changed} 天"
            )
            return 0
        found = stats_summary.differences(session)
    for d in found[:20]:
        print(f"{d.table}\t{'/'.join(d.key)}\t汇总 {d.summary}\t实际 {d.live}")
    if found:
        print(
            f"统计汇总与申请不一致：{len(found)} 处；请运行 sirefund stats rebuild", file=sys.stderr
        )
        return 1
    print("统计汇总与申请一致")
    return 0


def cmd_holidays(args: argparse.Namespace) -> int:
    """`sirefund holidays add|list|remove`: the calendar_days table (services/holidays.py)."""
    try:
        done = _in_transaction(lambda session: _holidays(session, args))
    except ValidationError as exc:
        print(f"calendar.invalid: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 1
    return 1 if done is None else done


def _holidays(session: Session, args: argparse.Namespace) -> int:
    from .services import holidays  # noqa: PLC0415 - lazy: only this command reads the calendar

    if args.holidays_command == "add":
        day = holidays.set_day(
            session,
            holidays.CalendarDayIn(day=args.date, is_workday=args.workday, label=args.label),
            changed_by=f"cli:{_os_user()}",
            at=SystemClock().now(),
        )
        kind = "工作日" if day.is_workday else "休息日"
        print(f"{day.day.isoformat()} 已设为{kind}（{day.label}）")
    elif args.holidays_command == "remove":
        if not holidays.remove_day(session, args.date):
            print(f"{args.date.isoformat()} 不在税务端节假日表中", file=sys.stderr)
            return 1
        print(f"{args.date.isoformat()} 已从节假日表中删除")
    else:
        first, last = holidays.package_years()
        if not first <= args.year <= last:
            print(
                f"chinesecalendar 未收录{args.year}年（收录{first}-{last}年），以下仅为节假日表中的日期"
            )
        for d in holidays.list_days(session, args.year):
            kind = "上班" if d.is_workday else "休息"
            source = "节假日表" if d.source == "table" else "chinesecalendar"
            print(f"{d.day.isoformat()}\t{kind}\t{d.label}\t{source}")
    return 0


def _rule_line(rule: Any) -> str:
    state = "on" if rule.enabled else "off"
    threshold = "-" if rule.threshold is None else str(rule.threshold)
    window = "-" if rule.window_days is None else str(rule.window_days)
    return f"{rule.code}\t{state}\t{threshold}\t{window}\t{rule.label}"


def cmd_risk_rules(args: argparse.Namespace) -> int:
    """`sirefund risk-rules list|set`: the risk_rules table (services/risk.py)."""
    done = _in_transaction(lambda session: _risk_rules(session, args))
    return 1 if done is None else done


def _risk_rules(session: Session, args: argparse.Namespace) -> int:
    from .services import risk  # noqa: PLC0415 - lazy like the other commands' services

    if args.risk_rules_command == "set":
        rule = risk.set_rule(
            session,
            code=args.code,
            enabled=args.enabled,
            threshold=args.threshold,
            window_days=args.window_days,
        )
        print(_rule_line(rule))
    else:
        print("code\tenabled\tthreshold\twindow_days\tlabel")
        for rule in risk.rules(session):
            print(_rule_line(rule))
    return 0


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
    started = time.perf_counter()
    counts = generate(args.persons, args.seed, args.out, pension_payments=args.pension_payments)
    print(", ".join(f"{name}: {n}" for name, n in counts.items()))
    print(f"files written in {time.perf_counter() - started:.1f} s")
    if not args.load:
        return 0
    from . import generate_load  # noqa: PLC0415 - only this option needs it

    engine = _engine(load_settings())
    try:
        loaded = generate_load.load(engine, args.out)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    for table, (rows, seconds) in loaded.items():
        print(f"{table}: {rows} rows in {seconds:.1f} s ({rows / max(seconds, 1e-9):,.0f} rows/s)")
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


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Print each agency's totals (ours and theirs) and every discrepancy. Exit 0 when the
    day agrees to the fen, 1 when anything differs, 2 when a statement cannot be had."""
    from . import agencies, worker  # noqa: PLC0415 - lazy: loads the agency clients

    settings = load_settings()
    clock = SystemClock()
    day = args.date or clock.today() - timedelta(days=1)
    try:
        adapters = agencies.build_adapters(settings)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    engine = _engine(settings)
    try:
        view = worker.reconcile_day(
            make_session_factory(engine), adapters=adapters, day=day, clock=clock, ran_by="cli"
        )
    except agencies.AgencyError as exc:
        print(f"对账文件获取失败: {exc.message}", file=sys.stderr)
        return 2
    finally:
        for adapter in adapters.values():
            adapter.close()
        engine.dispose()
    print(reconcile_report.render(view))
    return 0 if view.clean else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo  # noqa: PLC0415 - lazy: the demo loads the services and web stack

    return run_demo(host=args.host, port=args.port, persons=args.persons, serve=not args.no_serve)


def main(argv: list[str] | None = None) -> int:
    logconfig.configure(os.environ.get("SIREFUND_LOG_FORMAT"))
    args = _parser().parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "db": cmd_db,
        "audit": cmd_audit_verify,
        "import": cmd_import,
        "officer": cmd_officer,
        "holidays": cmd_holidays,
        "stats": cmd_stats,
        "generate": cmd_generate,
        "serve": cmd_serve,
        "worker": cmd_worker,
        "simulate-agencies": cmd_simulate,
        "demo": cmd_demo,
        "reconcile": cmd_reconcile,
        "risk-rules": cmd_risk_rules,
        "lapse-overdue": cmd_lapse_overdue,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
