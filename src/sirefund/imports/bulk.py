"""The bulk loader: the few statement shapes an import batch needs, on SQLite and PostgreSQL.

Driver level on purpose: the ORM costs microseconds per row, and an import writes millions of
rows. Values are already validated Python ints and ISO date strings, which both drivers store
as the ORM would (SQLite keeps dates as 'YYYY-MM-DD' text). Tables and columns are given as
the models' :class:`~sqlalchemy.Table` and :class:`~sqlalchemy.Column` objects
(``Model.__table__``), so a statement cannot name a table or column the schema lacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Column, Connection, Table

from ..db import Base

#: One row of values, in the order of the columns it is written to.
Values = tuple[Any, ...]

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
#: Rows per block of COPY text sent to PostgreSQL.
_COPY_BLOCK_ROWS = 500
#: Rows per multi-row INSERT on SQLite (x columns stays far below its 32766 variables).
_ROWS_PER_INSERT = 100
#: Keys per ``IN`` list on SQLite, below its 32766 bound variables.
_IN_CHUNK = 10_000


def table_of(model: type[Base]) -> Table:
    """The table a model maps (every model here maps one plain table)."""
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - a mapping of a join or a select
        raise TypeError(f"{model.__name__} does not map a table")
    return table


def names(columns: Iterable[Column[Any]]) -> str:
    """``a, b, c``: a column list for SQL."""
    return ", ".join(c.name for c in columns)


def _copy_line(row: Values, width: int) -> str:
    """One line of PostgreSQL's COPY text format."""
    line = "\t".join(map(str, row))
    if line.count("\t") != width - 1 or "\\" in line or "\n" in line or "\r" in line:
        # Rare: a value holds a tab, newline or backslash, which COPY needs escaped.
        line = "\t".join([str(v).translate(_COPY_ESCAPES) for v in row])
    return line + "\n"


class BulkCursor:
    """The DBAPI cursor of the connection holding a batch's transaction, and what it runs."""

    def __init__(self, conn: Connection) -> None:
        self.pg = conn.dialect.name == "postgresql"
        self.ph = "%s" if self.pg else "?"
        dbapi = conn.connection.dbapi_connection
        if dbapi is None:  # pragma: no cover - the connection was just opened
            raise RuntimeError("the connection is closed")
        # Any: sqlite3's or psycopg's cursor; only psycopg's has copy(), used when self.pg.
        self.cur: Any = dbapi.cursor()

    def close(self) -> None:
        self.cur.close()

    def select_in(self, sql: str, column: str, values: Iterable[str]) -> list[Values]:
        """Run ``sql`` with ``{where}`` replaced by ``column IN values``."""
        values = list(values)
        if not values:
            return []
        if self.pg:
            # %b: arrays in binary format; the text format quotes each element in Python.
            self.cur.execute(sql.format(where=f"{column} = ANY(%b)"), (values,))
            rows: list[Values] = self.cur.fetchall()
            return rows
        out: list[Values] = []
        for i in range(0, len(values), _IN_CHUNK):
            chunk = values[i : i + _IN_CHUNK]
            where = f"{column} IN ({','.join('?' * len(chunk))})"
            self.cur.execute(sql.format(where=where), chunk)
            out.extend(self.cur.fetchall())
        return out

    def scalar(self, sql: str) -> int:
        self.cur.execute(sql)
        row = self.cur.fetchone()
        return int(row[0] or 0) if row else 0

    def insert(self, table: Table, columns: Sequence[Column[Any]], rows: list[Values]) -> None:
        """Insert rows known to be new (checked in this transaction).

        Values are ints and strings, never None (every column the loader writes is required).
        """
        if not rows:
            return
        cols = names(columns)
        if self.pg:
            # COPY is PostgreSQL's bulk path, fed blocks of text lines: formatting them here
            # costs less than the driver's per-row write_row, and the server works through a
            # block while the next is formatted. A concurrent importer inserting the same key
            # makes it fail with a unique violation; the batch is redone.
            width = len(columns)
            with self.cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
                for i in range(0, len(rows), _COPY_BLOCK_ROWS):
                    block = rows[i : i + _COPY_BLOCK_ROWS]
                    copy.write("".join([_copy_line(row, width) for row in block]))
            return
        # Many rows per INSERT: SQLite then steps once per statement instead of once per row.
        one = "(" + ", ".join("?" * len(columns)) + ")"
        full = len(rows) - len(rows) % _ROWS_PER_INSERT
        if full:
            values = ", ".join([one] * _ROWS_PER_INSERT)
            self.cur.executemany(
                f"INSERT INTO {table.name} ({cols}) VALUES {values}",
                [
                    list(chain.from_iterable(rows[i : i + _ROWS_PER_INSERT]))
                    for i in range(0, full, _ROWS_PER_INSERT)
                ],
            )
        if full < len(rows):
            self.cur.executemany(f"INSERT INTO {table.name} ({cols}) VALUES {one}", rows[full:])

    def insert_owners(
        self, table: Table, columns: Sequence[Column[Any]], rows: list[Values]
    ) -> list[int]:
        """Insert new persons or units (looked up as absent in this transaction) and return
        their ids in row order, chosen here so that they need not be read back.

        PostgreSQL draws them from the table's sequence in one statement; a concurrent
        importer creating the same person makes the insert fail with a unique violation, and
        the batch is redone.
        """
        if not rows:
            return []
        id_column = table.c.id
        if self.pg:
            self.cur.execute(
                f"SELECT nextval(pg_get_serial_sequence('{table.name}', '{id_column.name}')) "
                "FROM generate_series(1, %s)",
                (len(rows),),
            )
            ids = [int(r[0]) for r in self.cur.fetchall()]
        else:
            # The batch's transaction holds SQLite's only write lock (BEGIN IMMEDIATE), so the
            # ids after the largest are ours to take.
            self.cur.execute(f"SELECT COALESCE(MAX({id_column.name}), 0) FROM {table.name}")
            first = int(self.cur.fetchone()[0]) + 1
            ids = list(range(first, first + len(rows)))
        self.insert(
            table, (id_column, *columns), [(i, *row) for i, row in zip(ids, rows, strict=True)]
        )
        return ids

    def update(
        self, table: Table, key: Column[Any], columns: Sequence[Column[Any]], rows: list[Values]
    ) -> None:
        """Each row is (values of ``columns``..., key)."""
        if not rows:
            return
        sets = ", ".join(f"{c.name} = {self.ph}" for c in columns)
        self.cur.executemany(f"UPDATE {table.name} SET {sets} WHERE {key.name} = {self.ph}", rows)
