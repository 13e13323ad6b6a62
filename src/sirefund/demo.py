"""`sirefund demo`: a fresh embedded database under var/demo/, generated demo data, demo
accounts, then web + worker + agency simulators in one process."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from . import generate as gen
from . import imports, migrate
from .clock import SystemClock
from .config import Settings
from .db import make_engine, make_session_factory, unit_of_work
from .models import Person, Unit
from .runtime import serve as run_server
from .services import officers, passwords, totp

DEMO_DIR = Path("var/demo")
DEMO_PASSWORD = "Demo-2026-sirefund"
DEMO_PHONE = gen.DEMO_PERSON_PHONE
DEMO_OFFICERS = (
    # code, name, region, roles, TOTP secret (fixed, like the password: it is a demo)
    ("SW42001", "王审核", "420000", {"reviewer", "initiator"}, "DEMOSWWANGSHENHEDEMOSWWANGSHENHE"),
    ("SW42072", "李复核", "420700", {"reviewer"}, "DEMOSWLIFUHEXXXXDEMOSWLIFUHEXXXX"),
    ("SW42090", "赵审计", "420000", {"auditor"}, "DEMOSWZHAOSHENJIDEMOSWZHAOSHENJI"),
    ("SW42095", "钱统计", "420000", {"supervisor"}, "DEMOSWQIANTONGJIDEMOSWQIANTONGJI"),
)


def prepare(demo_dir: Path = DEMO_DIR, *, persons: int = 200, seed: int = 2026) -> Settings:
    """Build the demo database from scratch and return settings pointing at it."""
    if demo_dir.exists():
        shutil.rmtree(demo_dir)
    demo_dir.mkdir(parents=True)
    data_dir = demo_dir / "data"
    settings = Settings(
        database_url=f"sqlite:///{demo_dir / 'sirefund.db'}",
        var_dir=demo_dir,
        # The identity simulator knows every generated person (and their phone).
        sim_identities_file=data_dir / gen.IDENTITIES_FILE[0],
    )
    engine = make_engine(settings.database_url, pooler=settings.db_pooler)
    migrate.upgrade(engine)
    gen.generate(max(persons, len(gen.DEMO_PERSONS)), seed, data_dir, demo=True)
    for kind in imports.KINDS:  # in dependency order
        summary = imports.import_file(engine, kind, data_dir / f"{kind}.csv")
        print(summary.line())
    now = SystemClock().now()
    factory = make_session_factory(engine)
    demo_hash = passwords.hash_password(DEMO_PASSWORD)
    with unit_of_work(factory) as session:
        # Seeding: the demo accounts are registered directly, as a registration would.
        for id_number, phone in (
            (gen.DEMO_PERSON_ID_NUMBER, DEMO_PHONE),
            (gen.DEMO_SECOND_PERSON_ID_NUMBER, None),
        ):
            person = session.execute(
                select(Person).where(Person.id_number == id_number)
            ).scalar_one()
            person.password_hash, person.phone, person.registered_at = demo_hash, phone, now
            person.verified_at = now  # as if registered with an SMS code
        unit = session.execute(select(Unit).where(Unit.tax_id == gen.DEMO_UNIT_TAX_ID)).scalar_one()
        unit.password_hash, unit.registered_at, unit.verified_at = demo_hash, now, now
        for code, name, region, roles, secret in DEMO_OFFICERS:
            officers.add_officer(
                session,
                code=code,
                name=name,
                region_code=region,
                roles=roles,
                password=DEMO_PASSWORD,
                at=now,
                totp_secret=secret,
            )
    engine.dispose()
    return settings


def banner(host: str, port: int, *, at: datetime) -> str:
    """What the demo prints: where to go and the demo logins; for the officers also their
    TOTP secret and the code of `at` (valid for about a minute), and how to get a later one."""
    url = f"http://{host}:{port}"
    lines = [
        "",
        f"sirefund 演示系统已启动: {url}/   (API 文档: {url}/docs)",
        f"  电子税务局(PC): {url}/etax/     楚税通(手机): {url}/m/     税务端: {url}/officer/",
        f"  自然人  {gen.DEMO_PERSON_NAME}: 证件号码 {gen.DEMO_PERSON_ID_NUMBER} 或手机 {DEMO_PHONE}  密码 {DEMO_PASSWORD}",
        f"  自然人  {gen.DEMO_SECOND_PERSON_NAME}: 证件号码 {gen.DEMO_SECOND_PERSON_ID_NUMBER}  密码 {DEMO_PASSWORD}",
        f"  村组    {gen.DEMO_UNIT_NAME}: 纳税人识别号 {gen.DEMO_UNIT_TAX_ID}  密码 {DEMO_PASSWORD}",
    ]
    newcomer_id, newcomer_name = gen.DEMO_PERSONS[3]
    handler_id, handler_name = gen.DEMO_PERSONS[gen.DEMO_UNIT_HANDLER]
    deceased_id, deceased_name = gen.DEMO_PERSONS[gen.DEMO_DECEASED]
    lines += [
        f"  短信验证码(模拟短信平台，演示用): {url}/_agencies/_sim/sms/page",
        f"  实名注册试用: 自然人 {newcomer_name} 证件号码 {newcomer_id} 手机 {gen.person_phone(3)}"
        "（生成数据中的每个人都已登记在模拟的实名核验服务中，手机号码见 var/demo/data/identities.csv）",
        f"  单位注册由登记的办税员办理: {gen.DEMO_UNIT_NAME} 的办税员 {handler_name}"
        f" 证件号码 {handler_id} 手机 {gen.person_phone(gen.DEMO_UNIT_HANDLER)}（其他单位见 units.csv）",
        f"  继承人代办试用: 以{gen.DEMO_PERSON_NAME}登录，已故参保人 {deceased_name}"
        f" 证件号码 {deceased_id} 死亡日期 {gen.DEMO_DECEASED_DEATH_DATE}（人社模拟死亡登记已有记录）",
    ]
    for code, name, region, roles, secret in DEMO_OFFICERS:
        lines.append(
            f"  税务人员 {name}({'/'.join(sorted(roles))}, {region}): 代码 {code}  密码 {DEMO_PASSWORD}"
            f"  动态口令密钥 {secret}  当前动态口令 {totp.code_at(secret, at)}"
        )
    lines.append(
        "  税务人员的动态口令每30秒更换一次，每个只能用一次：把密钥加入身份验证器 App，或运行"
        f" .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('{DEMO_OFFICERS[0][4]}').now())\""
    )
    return "\n".join(lines) + "\n"


def run_demo(*, host: str, port: int, persons: int, serve: bool) -> int:
    settings = prepare(persons=persons)
    print(banner(host, port, at=SystemClock().now()), flush=True)
    if not serve:
        return 0
    return run_server(settings, host=host, port=port, worker=True, simulate_agencies=True)
