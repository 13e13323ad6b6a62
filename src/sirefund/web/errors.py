"""Domain errors -> HTTP, in one place. Every error body is
{"error": {"code": "dotted.code", "message": "中文说明", "field": "name or null"}}."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError as DatabaseDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..domain.errors import DomainError, TooManyRequests
from ..services.deposit_accounts import FormInvalid

log = logging.getLogger(__name__)

_HTTP_MESSAGES = {
    400: ("request.bad", "请求格式不正确"),
    401: ("auth.required", "请先登录"),
    403: ("auth.forbidden", "无权进行此操作"),
    404: ("not_found", "记录不存在"),
    405: ("request.method_not_allowed", "不支持的请求方法"),
    413: ("request.too_large", "请求内容过大"),
    415: ("request.unsupported_media_type", "不支持的内容类型"),
    429: ("auth.throttled", "尝试次数过多，请稍后再试"),
}

# pydantic error type -> Chinese message
_VALIDATION_MESSAGES = {
    "missing": "此项为必填项",
    "string_too_long": "内容过长",
    "string_too_short": "内容过短",
    "too_long": "项目过多",
    "too_short": "请至少选择一项",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "bool_parsing": "应为是或否",
    "bool_type": "应为是或否",
    "date_from_datetime_parsing": "日期格式应为YYYY-MM-DD",
    "date_parsing": "日期格式应为YYYY-MM-DD",
    "date_type": "日期格式应为YYYY-MM-DD",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "string_type": "应为文本",
    "list_type": "应为列表",
    "json_invalid": "请求内容不是合法的JSON",
    "model_attributes_type": "请求内容格式不正确",
    "dict_type": "请求内容格式不正确",
    "string_pattern_mismatch": "格式不正确",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "greater_than": "数值过小",
    "less_than": "数值过大",
    "extra_forbidden": "不允许的字段",
    "string_unicode": "内容包含无法识别的字符",
}


# FastAPI's detail when reading the body failed other than by a JSON syntax error.
_FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"
_BAD_REQUEST = 400


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class Error(BaseModel):
    """The one error format of the API."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "auth.invalid_credentials",
                        "message": "账号或密码错误",
                        "field": None,
                    }
                },
            ]
        }
    )
    error: ErrorDetail


_STATUS_TEXT = {
    401: "未登录或会话已结束",
    403: "账户类型不符或CSRF校验失败",
    404: "记录不存在或不属于当前账户",
    409: "状态冲突",
    413: "请求内容过大",
    422: "输入不正确",
    429: "尝试次数过多",
    503: "外部服务（短信、实名核验）暂不可用",
}


def error_responses(
    *statuses: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the listed statuses documented with the Error model.

    ``descriptions``: a router's own wording per status (what 404 means for an officer, say);
    by default the generic one."""
    text = _STATUS_TEXT if descriptions is None else descriptions
    return {s: {"model": Error, "description": text.get(s, "错误")} for s in statuses}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def describe_validation_error(error: Mapping[str, Any]) -> ErrorDetail:
    """One pydantic error as the contract's code, Chinese message and field. The API answers
    the first of a request's errors with it; a page shows each next to its field.

    An error whose type is a dotted domain code was raised by an input model's validator from
    a domain error (services/bank_details.refusal): its code and message pass unchanged.
    """
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    etype = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if "." in etype and "message" in ctx:
        return ErrorDetail(code=etype, message=str(ctx["message"]), field=field)
    if etype == "json_invalid":
        return ErrorDetail(code="request.malformed_json", message="请求内容不是合法的JSON")
    if etype == "value_error":
        # Raised by our own validators, which carry a Chinese message.
        err = ctx.get("error")
        msg = str(err) if err else str(error.get("msg", "格式不正确"))
        return ErrorDetail(code=f"validation.{field or 'body'}", message=msg, field=field)
    message = _VALIDATION_MESSAGES.get(etype, "输入内容格式不正确")
    return ErrorDetail(code=f"validation.{etype or 'invalid'}", message=message, field=field)


def validation_error_body(exc: RequestValidationError) -> dict[str, Any]:
    errors = exc.errors()
    first = errors[0] if errors else {"type": "request.bad", "loc": ()}
    detail = describe_validation_error(first)
    return error_body(detail.code, detail.message, detail.field)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status)

    @app.exception_handler(FormInvalid)
    async def _form(_: Request, exc: FormInvalid) -> JSONResponse:
        # The first problem as for any error, plus every problem, so a client can mark each
        # field of each row at once (api.md, the medical forms).
        body = error_body(exc.code, exc.message, exc.field)
        body["error"]["errors"] = [
            {"code": e.code, "message": e.message, "field": e.field} for e in exc.errors
        ]
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_error_body(exc), status_code=422)

    @app.exception_handler(TooManyRequests)
    async def _too_many(_: Request, exc: TooManyRequests) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after_seconds)} if exc.retry_after_seconds else None
        return JSONResponse(
            error_body(exc.code, exc.message, exc.field), status_code=exc.status, headers=headers
        )

    # Input the validators let through but the database cannot store (a NUL character or a
    # number beyond BIGINT on PostgreSQL, an integer beyond 64 bits or a lone surrogate on
    # either): the client's fault, so 422, never 500. The value is not logged.
    @app.exception_handler(DatabaseDataError)
    @app.exception_handler(OverflowError)
    @app.exception_handler(UnicodeEncodeError)
    async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
        log.warning(
            "unstorable input on %s %s: %s", request.method, request.url.path, type(exc).__name__
        )
        return JSONResponse(
            error_body("request.unstorable_value", "输入内容包含无法处理的字符或数值"),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == _BAD_REQUEST and exc.detail == _FASTAPI_BODY_PARSE_ERROR:
            # JSON that is not UTF-8, or a number too long to parse: malformed, like bad syntax.
            return JSONResponse(
                error_body("request.malformed_json", "请求内容不是合法的JSON"), status_code=422
            )
        code, message = _HTTP_MESSAGES.get(exc.status_code, ("http.error", "请求失败"))
        return JSONResponse(
            error_body(code, message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never echo the exception: it may carry personal data from the request.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("server.error", "系统繁忙，请稍后再试"), status_code=500)
