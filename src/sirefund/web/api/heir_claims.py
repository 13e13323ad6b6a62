"""API routes: 继承人代办 (api.md "Outcomes": POST /heir-claims, GET /heir-claims/{id}):
services/heir_claims.py. The deceased's payments are GET /pension/payments?heir_claim_id=
(web/api/pension.py) and applying is POST /pension/refunds with ``heir_claim_id``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from ...services import heir_claims
from ...services.heir_claims import HeirClaimIn, HeirClaimView
from ..deps import Clock, CurrentPerson, DbSession, Deaths
from ..errors import error_responses
from .listing import create_once
from .notifications_schemas import Instant

router = APIRouter(tags=["heir-claims"], responses=error_responses(401, 403))


class HeirClaimOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "status": "verified",
                    "status_label": "已核实",
                    "relationship": "child",
                    "relationship_label": "子女",
                    "deceased_name": "张三",
                    "deceased_id_number_masked": "4****************3",
                    "death_date": "2026-03-01",
                    "confirmation_result": "人社部门已确认死亡登记信息",
                    "confirmed_at": "2026-11-29T02:15:00+00:00",
                    "created_at": "2026-11-29T02:15:00+00:00",
                }
            ]
        }
    )

    id: int
    status: str = Field(
        description="pending_verification 待核实 / verified 已核实 / refused 核实不通过"
    )
    status_label: str
    relationship: str
    relationship_label: str
    deceased_name: str
    deceased_id_number_masked: str
    death_date: date
    confirmation_result: str | None = Field(
        description="人社部门死亡登记核实结果（不通过时为原因）"
    )
    confirmed_at: Instant | None
    created_at: Instant


class HeirClaimsOut(BaseModel):
    items: list[HeirClaimOut]


def claim_out(found: HeirClaimView) -> dict[str, Any]:
    return {
        "id": found.id,
        "status": found.status.value,
        "status_label": found.status_label,
        "relationship": found.relationship.value,
        "relationship_label": found.relationship_label,
        "deceased_name": found.deceased_name,
        "deceased_id_number_masked": found.deceased_id_number_masked,
        "death_date": found.death_date,
        "confirmation_result": found.confirmation_result,
        "confirmed_at": found.confirmed_at,
        "created_at": found.created_at,
    }


@router.post(
    "/heir-claims",
    status_code=201,
    response_model=HeirClaimOut,
    summary="继承人代办申请：已故参保人的证件号码、姓名、死亡日期与关系（支持 Idempotency-Key）",
    description="提交后即向人社部门查询死亡登记：三项一致为 verified，否则 refused 并给出原因；"
    "查询不到人社部门时为 pending_verification，查看时再次查询。不能为本人申请（422 "
    "`heir_claim.self`）；同一已故参保人未被拒绝的申请只能有一条（409 `heir_claim.duplicate`）。",
    responses=error_responses(404, 409, 422),
)
def create_claim(
    body: HeirClaimIn, request: Request, person: CurrentPerson, db: DbSession, deaths: Deaths
) -> JSONResponse:
    def create(session: Session, at: datetime) -> dict[str, Any]:
        found = heir_claims.create(
            session, person_id=person.account_id, claim=body, registry=deaths, at=at
        )
        return HeirClaimOut.model_validate(claim_out(found)).model_dump(mode="json")

    return create_once(request, db=db, principal=person, body=body, create=create)


@router.get(
    "/heir-claims",
    response_model=HeirClaimsOut,
    summary="我的继承人代办申请（最新在前）",
)
def list_claims(person: CurrentPerson, db: DbSession) -> dict[str, Any]:
    with db.read() as session:
        found = heir_claims.own_claims(session, person_id=person.account_id)
    return {"items": [claim_out(c) for c in found]}


@router.get(
    "/heir-claims/{claim_id}",
    response_model=HeirClaimOut,
    summary="一条继承人代办申请及其核实状态",
    description="他人的申请返回 404。待核实的申请在查看时再次向人社部门查询。",
    responses=error_responses(404),
)
def show_claim(
    claim_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    person: CurrentPerson,
    db: DbSession,
    deaths: Deaths,
    clock: Clock,
) -> dict[str, Any]:
    with db.begin() as session:
        found = heir_claims.show(
            session, person_id=person.account_id, claim_id=claim_id, registry=deaths, at=clock.now()
        )
        return claim_out(found)
