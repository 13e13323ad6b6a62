"""A page's submitted form as a use case's input model (``Model.model_validate``): the same
model, rules, codes and Chinese messages as the API, each error shown next to its field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .. import errors
from .common import Form

M = TypeVar("M", bound=BaseModel)


def validate(
    form: Form,
    model: type[M],
    data: Mapping[str, object],
    *,
    messages: Mapping[str, str] | None = None,
) -> M | None:
    """The validated model, or None with every problem recorded in ``form.errors`` (the first
    per field wins). ``messages``: a page's own wording for an error code."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            detail = errors.describe_validation_error(error)
            name = detail.field or "_form"
            if name in form.errors:
                continue
            message = (messages or {}).get(detail.code, detail.message)
            if error["type"] == "string_too_long":
                # The page says how long a field may be; the API's message is shorter.
                message = f"内容不能超过{error.get('ctx', {}).get('max_length')}个字符"
            form.errors[name] = message
            form.codes[name] = detail.code
        return None
