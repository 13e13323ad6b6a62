"""The PostgreSQL grants of the app's own database role (docs/database-roles.md).

The owner role runs the migrations and owns every table; the app role (what `serve`,
`worker` and `import` connect as) may read and write the working tables but only INSERT and
SELECT the logs: it cannot UPDATE, DELETE or TRUNCATE application_events, security_events
(the reveal log), audit_log or audit_checkpoints, nor disable their triggers (only an owner
may). The statements are built from models.py, so a new table gets its grant here without
anyone remembering to add it.
"""

from __future__ import annotations

import re

from .db import Base
from .models import ApplicationEvent, AuditChainHead, AuditCheckpoint, AuditRecord, SecurityEvent

#: Tables the app may only add to and read.
APPEND_ONLY = frozenset(
    t.__tablename__ for t in (ApplicationEvent, SecurityEvent, AuditRecord, AuditCheckpoint)
)
#: The chain head is updated, never deleted.
NO_DELETE = frozenset({AuditChainHead.__tablename__})

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grants_sql(*, app_role: str = "sirefund_app") -> str:
    """SQL, run by the owner role after `sirefund db upgrade`, that (re)sets what `app_role`
    may do. Idempotent: it revokes everything first. The role must exist (CREATE ROLE ...
    LOGIN PASSWORD ...; see docs/database-roles.md)."""
    if not _ROLE.match(app_role):
        raise ValueError("role names: lower-case letters, digits and _")
    tables = sorted(Base.metadata.tables)
    lines = [
        f"-- grants of the app role {app_role}; run as the owner of the tables",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {app_role};",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {app_role};",
        f"GRANT USAGE ON SCHEMA public TO {app_role};",
        f"GRANT SELECT ON alembic_version TO {app_role};",
    ]
    for table in tables:
        if table in APPEND_ONLY:
            privileges = "SELECT, INSERT"
        elif table in NO_DELETE:
            privileges = "SELECT, INSERT, UPDATE"
        else:
            privileges = "SELECT, INSERT, UPDATE, DELETE"
        lines.append(f"GRANT {privileges} ON {table} TO {app_role};")
    lines.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app_role};")
    return "\n".join(lines) + "\n"
