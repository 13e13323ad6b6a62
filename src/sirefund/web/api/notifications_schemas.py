"""The 消息中心's JSON (GET /notifications): the typed read models of
services/notifications.py as text, instants as ISO 8601 in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from ...clock import as_utc

Instant = Annotated[datetime, PlainSerializer(lambda v: as_utc(v).isoformat(), return_type=str)]


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: Instant
    title: str
    body: str
    application_id: int | None = Field(
        description="消息所涉退费申请；继承人代办核实结果的消息为 null（见 heir_claim_id）"
    )
    heir_claim_id: int | None = Field(
        default=None, description="消息所涉继承人代办申请（GET /heir-claims/{id}）；否则为 null"
    )
    read: bool


class NotificationsOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 12,
                            "created_at": "2026-11-29T02:15:00+00:00",
                            "title": "退费申请已受理",
                            "body": "您的养老保险费退费申请（文书号鄂税退〔2026〕420102000001号）"
                            "已提交，税务机关将于2027年1月12日前（30个工作日内）完成审核。"
                            "审核结果将通过站内消息和短信通知您。",
                            "application_id": 7,
                            "heir_claim_id": None,
                            "read": False,
                        }
                    ],
                    "unread_count": 1,
                }
            ]
        },
    )

    items: list[NotificationOut]
    unread_count: int
