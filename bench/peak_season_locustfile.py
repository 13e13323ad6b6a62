"""The users of the peak-season load scenario (locust); `bench/peak_season.py` prepares the
database, starts the processes and runs this file. Not for running alone: it reads the
prepared logins from the JSON file named by PEAK_SEASON_USERS.

* `Payer` (most users): logs in with an ID number and password, looks up their pension
  payments of a year and their medical payments, applies for the refund of a refundable
  pension payment (their own card and phone, so no 风险提示), follows its progress, cancels
  some of their pending applications, and sometimes logs out and in again.
* `Officer` (`--officers` of them, TOTP login once each): reads the 待审核 queue and approves
  the applications of its share (id modulo the number of officers), one by one, as reviewers do.

A 409 where the contract says a race ends in 409 (a cancellation that lost to an approval, or
an approval to a cancellation) is the right answer, counted apart, not an error. An
application with a 风险提示 (`risk_flags` in the queue) is approved with `confirm_risk`.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from typing import Any

import pyotp
from locust import HttpUser, between, events, task

_DATA: dict[str, Any] = json.loads(open(os.environ["PEAK_SEASON_USERS"], encoding="utf-8").read())  # noqa: PTH123, SIM115
_PAYERS = itertools.count()
_OFFICERS = itertools.count()
RACES = {
    "cancel lost to an approval": 0,
    "approval lost to a cancellation": 0,
    "approval confirmed a 风险提示": 0,
}
API = "/api/v1"


class Payer(HttpUser):
    weight = 20
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        me = _DATA["payers"][next(_PAYERS) % len(_DATA["payers"])]
        self.me = me
        self.rnd = random.Random(me["id_number"])
        self.login()

    def login(self) -> None:
        resp = self.client.post(
            f"{API}/sessions",
            json={"kind": "person", "login": self.me["id_number"], "password": _DATA["password"]},
            name="POST /sessions (person login)",
        )
        self.client.headers["Authorization"] = f"Bearer {resp.json()['token']}"

    @task(8)
    def pension_payments(self) -> None:
        year = self.rnd.choice(range(2018, 2027))
        self.client.get(f"{API}/pension/payments?year={year}", name="GET /pension/payments")

    @task(4)
    def medical_payments(self) -> None:
        if not hasattr(self, "registration"):  # the page asks once which registration
            regs = self.client.get(
                f"{API}/medical/registrations", name="GET /medical/registrations"
            ).json()["items"]
            self.registration = regs[0]["registration_id"] if regs else None
        if self.registration is None:
            return
        year = self.rnd.choice((2024, 2025, 2026))
        self.client.get(
            f"{API}/medical/payments?insurance_year={year}&registration_id={self.registration}",
            name="GET /medical/payments",
        )

    @task(3)
    def apply(self) -> None:
        listing = self.client.get(
            f"{API}/pension/payments?state=refundable", name="GET /pension/payments (refundable)"
        ).json()
        free = [p["payment_id"] for p in listing["items"] if p["refundable"]]
        if not free:
            return
        self.client.post(
            f"{API}/pension/refunds",
            json={
                "payment_ids": [free[0]],
                "bank_account_type": "bank_card",
                "bank_account_no": self.me["card"],
                "bank_account_name": self.me["name"],
                "bank_category": "103",
                "contact_name": self.me["name"],
                "contact_phone": self.me["phone"],
                "channel": "web",
            },
            name="POST /pension/refunds (apply)",
        )

    @task(2)
    def progress_and_cancel(self) -> None:
        listing = self.client.get(f"{API}/pension/refunds", name="GET /pension/refunds").json()
        pending = [a["id"] for a in listing["items"] if a["status"] == "pending_review"]
        if not pending or self.rnd.random() < 0.6:  # most applicants keep their application
            return
        with self.client.post(
            f"{API}/pension/refunds/{pending[0]}/cancel",
            name="POST /pension/refunds/{id}/cancel",
            catch_response=True,
        ) as resp:
            if resp.status_code == 409:  # noqa: PLR2004 - approved meanwhile: the contract's 409
                RACES["cancel lost to an approval"] += 1
                resp.success()

    @task(1)
    def log_out_and_in(self) -> None:
        self.client.delete(f"{API}/sessions/current", name="DELETE /sessions/current")
        self.login()


class Officer(HttpUser):
    fixed_count = int(os.environ.get("PEAK_SEASON_OFFICERS", "2"))
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.n = next(_OFFICERS)
        me = _DATA["officers"][self.n % len(_DATA["officers"])]
        resp = self.client.post(
            f"{API}/sessions",
            json={
                "kind": "officer",
                "login": me["code"],
                "password": _DATA["password"],
                "otp": pyotp.TOTP(me["secret"]).now(),
            },
            name="POST /sessions (officer login)",
        )
        self.client.headers["Authorization"] = f"Bearer {resp.json()['token']}"

    @task
    def review(self) -> None:
        queue = self.client.get(
            f"{API}/officer/applications?status=pending_review&page_size=20",
            name="GET /officer/applications",
        ).json()
        share = len(_DATA["officers"])
        for app in queue["items"]:
            if app["id"] % share != self.n % share:
                continue
            self.approve(app["id"], confirm_risk=bool(app.get("risk_flags")))
            break

    def approve(self, app_id: int, *, confirm_risk: bool) -> None:
        """A flagged application (风险提示, e.g. a third application to one account within 7
        days) is approved with 确认风险, as the reviewer does after reading the flag."""
        body: dict[str, Any] = {"opinion": "同意退费"}
        if confirm_risk:
            body["confirm_risk"] = True
            RACES["approval confirmed a 风险提示"] += 1
        with self.client.post(
            f"{API}/officer/applications/{app_id}/approve",
            json=body,
            name="POST /officer/applications/{id}/approve",
            catch_response=True,
        ) as resp:
            code = resp.json().get("error", {}).get("code") if resp.status_code == 409 else None  # noqa: PLR2004
            if code == "risk.unconfirmed" and not confirm_risk:  # flagged after the queue read
                resp.success()
                self.approve(app_id, confirm_risk=True)
            elif code is not None:  # cancelled meanwhile: the contract's 409
                RACES["approval lost to a cancellation"] += 1
                resp.success()


@events.quitting.add_listener
def _report_races(environment: Any, **_kwargs: Any) -> None:
    print("expected 409s (races the contract answers with 409):", json.dumps(RACES))
