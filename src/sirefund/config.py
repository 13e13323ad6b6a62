"""Settings, validated by pydantic-settings. Nothing is read at import time: call `load_settings()`."""

from __future__ import annotations

import ipaddress
import secrets
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "secret", "change-me", "dev", "test", ""}
#: Shortest secret accepted (characters).
SECRET_MIN_LENGTH = 16


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(text: str) -> tuple[IPNetwork, ...]:
    return tuple(
        ipaddress.ip_network(item.strip(), strict=False) for item in text.split(",") if item.strip()
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIREFUND_", extra="ignore")

    database_url: str = "sqlite:///var/sirefund.db"
    secret_key: str | None = None
    agency_url: str | None = None
    # Shared secret for signed agency callbacks (HMAC-SHA256).
    callback_secret: str | None = None
    var_dir: Path = Path("var")
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    # Login abuse (services/accounts.py `login`), slowed down without ever locking the owner
    # out: an account may fail `login_free_failures` times in a row, then waits
    # `login_delay_seconds` after a failure, doubled with each further one up to
    # `login_max_delay_seconds`; one client address may fail `login_address_max_failures`
    # times, whatever the accounts, in `login_window_seconds` (which also ends a row of
    # failures).
    login_free_failures: int = 3
    login_delay_seconds: int = 5
    login_max_delay_seconds: int = 300
    login_address_max_failures: int = 20
    login_window_seconds: int = 900
    # Registration (services/accounts.py `count_registration_attempt`): one client address may
    # try `register_address_max_attempts` registrations, successful or not, in
    # `register_window_seconds`, so that guessing who is on record does not scale.
    register_address_max_attempts: int = 10
    register_window_seconds: int = 900
    # SMS verification codes (services/verification.py): a code lives
    # `verification_code_minutes` and allows `verification_code_tries` answers; one phone gets
    # one code per `verification_resend_seconds` and `verification_daily_max` a day; one client
    # address may ask for `verification_address_max_sends` codes per
    # `verification_address_window_seconds` (so that nobody floods strangers' phones).
    verification_code_minutes: int = 5
    verification_code_tries: int = 5
    verification_resend_seconds: int = 60
    verification_daily_max: int = 10
    verification_address_max_sends: int = 20
    verification_address_window_seconds: int = 3600
    # The SMS gateway and the real-name check (公安/运营商 实名核验); the simulators when the
    # app runs with --simulate-agencies.
    sms_url: str | None = None
    identity_url: str | None = None
    # The identity simulator's registry (CSV: id_number, name, phone), loaded when it starts
    # (`sirefund generate` writes identities.csv; the demo points here).
    sim_identities_file: Path | None = None
    # Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For is
    # believed; from anyone else the header is ignored (web/deps.py `client_address`).
    trusted_proxies: str = ""
    max_body_bytes: int = 1_000_000
    dispatch_max_attempts: int = 8
    agency_timeout_seconds: float = 5.0
    # How long a worker's claim on an outbox message lasts (at least 3x the timeout).
    dispatch_lease_seconds: float = 60.0
    # Wait this long for a callback before asking the agency about a result, and between asks.
    dispatch_poll_seconds: float = 60.0
    # The worker reconciles (三方对账) each day by itself, once the China-time hour of the next
    # day reaches this (the agencies' statements of a day are complete by then); -1: never
    # (then `sirefund reconcile` from cron).
    reconcile_at_hour: int = Field(default=2, ge=-1, le=23)
    # Where `sirefund simulate-agencies` sends its callbacks (our /api/v1/callbacks).
    callback_url: str | None = None
    # The public base URL (https://etax.example.cn): when https, cookies are Secure and
    # responses carry HSTS. cookie_secure forces Secure cookies without it.
    public_url: str | None = None
    cookie_secure: bool = False
    echo_sql: bool = Field(default=False)
    # `sirefund import` (imports/fields.py ImportLimits): the largest amount, in whole yuan,
    # accepted per kind, and the earliest date a file may carry (payment dates are never
    # after today; a period never ends after the end of next year).
    import_max_pension_yuan: int = Field(default=20_000, gt=0)
    import_max_medical_yuan: int = Field(default=5_000, gt=0)
    import_max_ltc_yuan: int = Field(default=1_000, gt=0)
    import_max_unit_payment_yuan: int = Field(default=10_000_000, gt=0)
    import_max_unit_line_yuan: int = Field(default=20_000, gt=0)
    import_earliest_date: date = date(2000, 1, 1)
    # Observability (docs/production.md). Log lines: "json" (one object per line) or
    # "text" for a terminal.
    log_format: str = "json"
    # Who may read /metrics: with a token, whoever sends `Authorization: Bearer <token>`;
    # without one, only a client on this machine that did not come through a proxy.
    metrics_token: str | None = None
    # The agency error rates of /metrics count the dispatch attempts of this last window.
    metrics_window_seconds: float = 900.0
    # /readyz: a worker's heartbeat at most this old (0: no worker expected), and at most
    # this many undelivered outbox messages.
    ready_worker_max_age_seconds: float = 60.0
    ready_outbox_backlog_max: int = 1000
    # How often a worker writes its heartbeat (well under ready_worker_max_age_seconds).
    worker_heartbeat_seconds: float = 10.0
    # How often a worker looks for applications returned for correction more than 15 days
    # ago (逾期未补正) and lapses them; `sirefund lapse-overdue` does it at once.
    lapse_check_seconds: float = Field(default=300.0, gt=0)
    # PostgreSQL connections. `db_max_connections` is what ONE `sirefund serve` may open, all
    # its processes together (keep the sum over every app and worker host under the server's
    # max_connections, or pgbouncer's default_pool_size); each of N processes gets a pool of
    # a third of its share plus the rest as overflow, unless db_pool_size / db_max_overflow
    # set them per process.
    db_max_connections: int = 30
    db_pool_size: int | None = None
    db_max_overflow: int | None = None
    # "transaction" when SIREFUND_DATABASE_URL points at a pooler in transaction mode
    # (pgbouncer pool_mode = transaction): psycopg then prepares no statements, since the
    # next transaction may run on another server connection that never saw them.
    db_pooler: Literal["none", "transaction"] = "none"
    # The CJK font embedded in the PDFs (受理回执, 退费凭证); unset: Debian's fonts-wqy-microhei
    # or another of web/documents_pdf.FONT_CANDIDATES.
    pdf_font: Path | None = None

    def pool_limits(self, processes: int = 1) -> tuple[int, int]:
        """(pool_size, max_overflow) for each of `processes` processes."""
        share = max(2, self.db_max_connections // max(1, processes))
        size = self.db_pool_size if self.db_pool_size is not None else max(1, share // 3)
        overflow = self.db_max_overflow if self.db_max_overflow is not None else share - size
        return size, max(0, overflow)

    @field_validator("secret_key", "callback_secret", "metrics_token")
    @classmethod
    def _refuse_placeholders(cls, v: str | None) -> str | None:
        if v is not None and (v.strip().lower() in _PLACEHOLDERS or len(v) < SECRET_MIN_LENGTH):
            raise ValueError("refusing a placeholder or short secret (need at least 16 characters)")
        return v

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.lower().startswith(("http://", "https://")):
            raise ValueError("SIREFUND_PUBLIC_URL must start with http:// or https://")
        return v

    @property
    def https(self) -> bool:
        """The site is public over https (SIREFUND_PUBLIC_URL): send HSTS."""
        return (self.public_url or "").lower().startswith("https://")

    @property
    def secure_cookies(self) -> bool:
        """Cookies go over https only: on an https site, or when cookie_secure says so."""
        return self.cookie_secure or self.https

    @field_validator("trusted_proxies")
    @classmethod
    def _parse_proxies(cls, v: str) -> str:
        _networks(v)  # a typo fails at start-up, not as a proxy silently distrusted
        return v

    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return _networks(self.trusted_proxies)

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and stored under var/ (never in the repo)."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key

    def resolved_callback_secret(self) -> str:
        if self.callback_secret:
            return self.callback_secret
        return "cb-" + self.resolved_secret_key()


def load_settings() -> Settings:
    """The settings of this process, from ``SIREFUND_*`` environment variables."""
    return Settings()
