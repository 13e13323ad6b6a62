"""统计分析 summary tables kept by triggers (issue 11 part 4: an answer in under a second at
1,000,000 applications).

- ``stats_cells``: count and amount per county, China month of application, status, kind
  and channel;
- ``stats_refund_days``: refunded applications (with a 退费日期) per county and China month by
  working days from the China day applied to the day paid (at least 0): the histogram the
  median and 90th percentile are read from;
- ``stats_working_days``: per day of 2000-2099, the working days up to and including it
  (chinesecalendar's holidays and 调休 days, the officers' ``calendar_days`` over them), so a
  trigger counts working days by one subtraction.

Triggers on ``applications`` (AFTER INSERT, DELETE, and UPDATE of the columns counted) move
one application's count and amount from its old cell to its new one in the same transaction,
on SQLite and PostgreSQL alike, whatever wrote the row. On PostgreSQL the two cells of an
update are touched in key order, so two single-row transitions never wait on each other in
a cycle. The tables are filled here from the rows already there; ``sirefund stats rebuild``
does the same later (services/stats_summary.py).

The covering index ``ix_applications_stats_groups`` (0005_supervisor_role) served the
GROUP BY the summary replaces: dropped, one index less to write per application. What stays
live is a date filter's partial months, grouped by county, status, kind and channel over a
range of ``created_at``: ``ix_applications_stats_created`` now covers those columns too, so
that range is read from the index alone; and ``ix_applications_stats_refunded`` becomes
(status, created_at, region_code, refund_date), a range of one state's days applied (the
refunds' day pairs, the pending ones of the overdue count) read from the index alone.

Revision ID: 0016_stats_summary
Revises: 0016_heir_claims
Create Date: 2026-11-29
"""

from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0016_stats_summary"
down_revision = "0016_heir_claims"
branch_labels = None
depends_on = None

_FIRST_DAY, _LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
_COUNTED = ("region_code", "status", "kind", "channel", "amount_fen", "created_at", "refund_date")
_CREATED = ["created_at", "region_code", "status", "kind", "channel", "amount_fen"]
_REFUNDED = ["status", "created_at", "region_code", "refund_date"]
_FEN = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# --------------------------------------------------------------------------- SQLite


def _sqlite_month(row: str) -> str:
    return f"strftime('%Y-%m', {row}.created_at, '+8 hours')"


def _sqlite_cell(row: str, sign: str) -> str:
    return (
        "INSERT INTO stats_cells (region_code, month, status, kind, channel, count, amount_fen) "
        f"VALUES ({row}.region_code, {_sqlite_month(row)}, {row}.status, {row}.kind, "
        f"{row}.channel, {sign}1, {sign}{row}.amount_fen) "
        "ON CONFLICT (region_code, month, status, kind, channel) DO UPDATE SET "
        "count = stats_cells.count + excluded.count, "
        "amount_fen = stats_cells.amount_fen + excluded.amount_fen;"
    )


def _sqlite_refund(row: str, sign: str) -> str:
    return (
        "INSERT INTO stats_refund_days (region_code, month, working_days, count) "
        f"SELECT {row}.region_code, {_sqlite_month(row)}, max(0, p.ordinal - s.ordinal), {sign}1 "
        "FROM stats_working_days s, stats_working_days p "
        f"WHERE {row}.status = 'refunded' AND s.day = date({row}.created_at, '+8 hours') "
        f"AND p.day = {row}.refund_date "
        "ON CONFLICT (region_code, month, working_days) DO UPDATE SET "
        "count = stats_refund_days.count + excluded.count;"
    )


def _sqlite_triggers() -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _COUNTED)
    return [
        "CREATE TRIGGER stats_summary_insert AFTER INSERT ON applications BEGIN "
        f"{_sqlite_cell('NEW', '')} {_sqlite_refund('NEW', '')} END",
        "CREATE TRIGGER stats_summary_delete AFTER DELETE ON applications BEGIN "
        f"{_sqlite_cell('OLD', '-')} {_sqlite_refund('OLD', '-')} END",
        f"CREATE TRIGGER stats_summary_update AFTER UPDATE OF {', '.join(_COUNTED)} "
        f"ON applications WHEN {changed} BEGIN "
        f"{_sqlite_cell('OLD', '-')} {_sqlite_cell('NEW', '')} "
        f"{_sqlite_refund('OLD', '-')} {_sqlite_refund('NEW', '')} END",
    ]


# --------------------------------------------------------------------------- PostgreSQL

_PG_FUNCTIONS = [
    """
CREATE FUNCTION stats_cell_add(p_region text, p_month text, p_status text, p_kind text,
                               p_channel text, p_count integer, p_fen bigint)
RETURNS void AS $$
    INSERT INTO stats_cells AS t (region_code, month, status, kind, channel, count, amount_fen)
    VALUES (p_region, p_month, p_status, p_kind, p_channel, p_count, p_fen)
    ON CONFLICT (region_code, month, status, kind, channel) DO UPDATE
    SET count = t.count + excluded.count, amount_fen = t.amount_fen + excluded.amount_fen
$$ LANGUAGE sql
""",
    """
CREATE FUNCTION stats_refund_add(p_region text, p_month text, p_applied date, p_paid date,
                                 p_count integer)
RETURNS void AS $$
    INSERT INTO stats_refund_days AS t (region_code, month, working_days, count)
    SELECT p_region, p_month, GREATEST(0, p.ordinal - s.ordinal), p_count
    FROM stats_working_days s, stats_working_days p
    WHERE s.day = p_applied AND p.day = p_paid
    ON CONFLICT (region_code, month, working_days) DO UPDATE SET count = t.count + excluded.count
$$ LANGUAGE sql
""",
    """
CREATE FUNCTION stats_summary_follow() RETURNS trigger AS $$
DECLARE
    old_month text;
    new_month text;
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.region_code, OLD.status, OLD.kind, OLD.channel,
            OLD.amount_fen, OLD.created_at, OLD.refund_date)
        IS NOT DISTINCT FROM (NEW.region_code, NEW.status, NEW.kind, NEW.channel,
            NEW.amount_fen, NEW.created_at, NEW.refund_date) THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        old_month := to_char(OLD.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM');
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_month := to_char(NEW.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM');
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM stats_cell_add(NEW.region_code, new_month, NEW.status, NEW.kind, NEW.channel,
                               1, NEW.amount_fen);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stats_cell_add(OLD.region_code, old_month, OLD.status, OLD.kind, OLD.channel,
                               -1, -OLD.amount_fen);
    ELSIF (OLD.region_code, old_month, OLD.status, OLD.kind, OLD.channel)
        < (NEW.region_code, new_month, NEW.status, NEW.kind, NEW.channel) THEN
        -- the two cells in key order: no two single-row transitions wait on each other
        PERFORM stats_cell_add(OLD.region_code, old_month, OLD.status, OLD.kind, OLD.channel,
                               -1, -OLD.amount_fen);
        PERFORM stats_cell_add(NEW.region_code, new_month, NEW.status, NEW.kind, NEW.channel,
                               1, NEW.amount_fen);
    ELSE
        PERFORM stats_cell_add(NEW.region_code, new_month, NEW.status, NEW.kind, NEW.channel,
                               1, NEW.amount_fen);
        PERFORM stats_cell_add(OLD.region_code, old_month, OLD.status, OLD.kind, OLD.channel,
                               -1, -OLD.amount_fen);
    END IF;
    IF TG_OP <> 'INSERT' AND OLD.status = 'refunded' THEN
        PERFORM stats_refund_add(OLD.region_code, old_month,
            CAST(OLD.created_at AT TIME ZONE 'Asia/Shanghai' AS date), OLD.refund_date, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'refunded' THEN
        PERFORM stats_refund_add(NEW.region_code, new_month,
            CAST(NEW.created_at AT TIME ZONE 'Asia/Shanghai' AS date), NEW.refund_date, 1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    f"""
CREATE TRIGGER stats_summary AFTER INSERT OR DELETE OR UPDATE OF {", ".join(_COUNTED)}
ON applications FOR EACH ROW EXECUTE FUNCTION stats_summary_follow()
""",
]

# --------------------------------------------------------------------------- the fill

_MONTH = {
    "sqlite": "strftime('%Y-%m', a.created_at, '+8 hours')",
    "postgresql": "to_char(a.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')",
}
_DAY = {
    "sqlite": "date(a.created_at, '+8 hours')",
    "postgresql": "CAST(a.created_at AT TIME ZONE 'Asia/Shanghai' AS date)",
}
_AT_LEAST_0 = {"sqlite": "max(0, {})", "postgresql": "GREATEST(0, {})"}


def _working_day_rows() -> list[dict[str, object]]:
    """Working days up to and including each day (as domain.calendar WorkingDays.ordinal
    differences go): weekdays, the package's holidays and 调休 days, the officers' table."""
    from chinese_calendar import constants  # noqa: PLC0415 - only this migration needs it

    exceptions: dict[date, bool] = {d: False for d in constants.holidays}
    exceptions.update({d: True for d in constants.workdays})
    for day, is_workday in op.get_bind().execute(
        sa.text("SELECT day, is_workday FROM calendar_days")
    ):
        exceptions[day if isinstance(day, date) else date.fromisoformat(str(day))] = bool(
            is_workday
        )
    # The origin of WorkingDays.ordinal: the weekdays from 0001-01-01 (a Monday) on, so that
    # `sirefund stats rebuild` finds these numbers unchanged.
    weeks, rest = divmod(_FIRST_DAY.toordinal() - 1, 7)
    ordinal = weeks * 5 + min(rest, 5)
    ordinal += sum(
        (1 if working else -1)
        for d, working in exceptions.items()
        if d < _FIRST_DAY and working != (d.weekday() < 5)  # noqa: PLR2004 - Monday to Friday
    )
    rows, day = [], _FIRST_DAY
    while day <= _LAST_DAY:
        if exceptions.get(day, day.weekday() < 5):  # noqa: PLR2004 - Monday to Friday
            ordinal += 1
        rows.append({"day": day, "ordinal": ordinal})
        day += timedelta(days=1)
    return rows


def _fill(dialect: str, working_days: sa.Table) -> None:
    op.bulk_insert(working_days, _working_day_rows())
    month, day = _MONTH[dialect], _DAY[dialect]
    op.execute(
        "INSERT INTO stats_cells (region_code, month, status, kind, channel, count, amount_fen) "
        f"SELECT a.region_code, {month}, a.status, a.kind, a.channel, count(*), "
        f"sum(a.amount_fen) FROM applications a "
        f"GROUP BY a.region_code, {month}, a.status, a.kind, a.channel"
    )
    waited = _AT_LEAST_0[dialect].format("p.ordinal - s.ordinal")
    op.execute(
        "INSERT INTO stats_refund_days (region_code, month, working_days, count) "
        f"SELECT a.region_code, {month}, {waited}, count(*) FROM applications a "
        f"JOIN stats_working_days s ON s.day = {day} "
        "JOIN stats_working_days p ON p.day = a.refund_date "
        f"WHERE a.status = 'refunded' GROUP BY a.region_code, {month}, {waited}"
    )


def upgrade() -> None:
    op.create_table(
        "stats_cells",
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(14), nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("amount_fen", _FEN, nullable=False),
        sa.PrimaryKeyConstraint(
            "region_code", "month", "status", "kind", "channel", name=op.f("pk_stats_cells")
        ),
    )
    op.create_table(
        "stats_refund_days",
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "region_code", "month", "working_days", name=op.f("pk_stats_refund_days")
        ),
    )
    working_days = op.create_table(
        "stats_working_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_stats_working_days")),
    )
    dialect = op.get_bind().dialect.name
    _fill(dialect, working_days)
    statements = _sqlite_triggers() if dialect == "sqlite" else _PG_FUNCTIONS
    for statement in statements:
        op.execute(statement)
    op.drop_index("ix_applications_stats_groups", table_name="applications")
    op.drop_index("ix_applications_stats_created", table_name="applications")
    op.create_index("ix_applications_stats_created", "applications", _CREATED)
    op.drop_index("ix_applications_stats_refunded", table_name="applications")
    op.create_index("ix_applications_stats_refunded", "applications", _REFUNDED)


def downgrade() -> None:
    op.drop_index("ix_applications_stats_refunded", table_name="applications")
    op.create_index(
        "ix_applications_stats_refunded",
        "applications",
        ["status", "refund_date", "created_at", "region_code"],
    )
    op.drop_index("ix_applications_stats_created", table_name="applications")
    op.create_index(
        "ix_applications_stats_created", "applications", ["created_at", "region_code", "amount_fen"]
    )
    op.create_index(
        "ix_applications_stats_groups",
        "applications",
        ["region_code", "status", "kind", "channel", "amount_fen"],
    )
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS stats_summary_{name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS stats_summary ON applications")
        op.execute("DROP FUNCTION IF EXISTS stats_summary_follow()")
        op.execute("DROP FUNCTION IF EXISTS stats_refund_add(text, text, date, date, integer)")
        op.execute(
            "DROP FUNCTION IF EXISTS stats_cell_add(text, text, text, text, text, integer, bigint)"
        )
    op.drop_table("stats_working_days")
    op.drop_table("stats_refund_days")
    op.drop_table("stats_cells")
