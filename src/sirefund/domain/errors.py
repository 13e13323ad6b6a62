"""Domain errors. Raised in the core and in services, translated to HTTP once in web/errors.py.

Every error carries a dotted ``code`` (stable, for clients), a Chinese ``message`` (for people)
and the ``field`` it is about, when there is one (so a page can show it next to the input).
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field


class Invalid(DomainError):
    """Bad input: 422."""

    status = 422


class _Defaulted(DomainError):
    """An error that may be raised bare: its code and message are then the class's
    ``default``."""

    default: tuple[str, str]

    def __init__(
        self, code: str | None = None, message: str | None = None, field: str | None = None
    ) -> None:
        default_code, default_message = self.default
        super().__init__(
            default_code if code is None else code,
            default_message if message is None else message,
            field,
        )


class NotFound(_Defaulted):
    """Absent, or not the caller's: 404 (never reveal another person's data)."""

    status = 404
    default = ("not_found", "记录不存在")


class Conflict(DomainError):
    """State conflict: already applied, not cancellable, ...: 409."""

    status = 409


class Forbidden(DomainError):
    """Wrong kind of account, or a rule such as four eyes: 403."""

    status = 403


class Unavailable(DomainError):
    """Something the server needs right now is not there: an outside service (the SMS
    gateway, the real-name check) did not answer, or a font for the PDFs is missing. 503, not
    the caller's fault."""

    status = 503


class Unauthenticated(_Defaulted):
    status = 401
    default = ("auth.required", "请先登录")


class TooManyRequests(DomainError):
    """Too many attempts (login throttling): 429. Says nothing about whether an account exists."""

    status = 429

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        *,
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(code, message, field)
        self.retry_after_seconds = retry_after_seconds
