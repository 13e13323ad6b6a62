"""导出Excel at scale (issue 12): the workbook is built in a helper process (so a large export
never holds the serving process's GIL) into a temporary file that the response streams and
then deletes; a refusal made in the helper reaches the client as the usual error. Runs on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from sirefund.domain.errors import Forbidden
from sirefund.services import accounts
from sirefund.services.review_queue import QueueFilters
from sirefund.web import export_worker
from tests import factories as f
from tests.web.officer_helpers import pension_app

API = "/api/v1/officer"


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_an_export_streams_the_workbook_in_chunks_and_leaves_no_file_behind(
    client, session_factory, clock, settings, own_tempdir, monkeypatch
):
    monkeypatch.setattr(export_worker, "STREAM_CHUNK_BYTES", 1024)
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        ids = [pension_app(s).id for _ in range(3)]
        token, _ = accounts.create_session(
            s, kind="officer", account_id=officer.id, at=clock.now(), settings=settings
        )
    chunks: list[bytes] = []
    with client.stream(
        "GET", f"{API}/applications.xlsx", headers={"Authorization": f"Bearer {token}"}
    ) as r:
        assert r.status_code == 200
        chunks.extend(r.iter_raw())
    assert len(chunks) > 1  # sent as it is read, not as one body
    rows = list(load_workbook(io.BytesIO(b"".join(chunks))).active.iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == ids
    assert list(own_tempdir.iterdir()) == []


def test_a_refusal_made_in_the_helper_process_is_raised_with_its_code(
    engine, session_factory, clock, own_tempdir
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        officer.active = False
    principal = accounts.Principal(
        kind="officer",
        account_id=officer.id,
        display_name=officer.name,
        region_code="420700",
        session_id=1,
        csrf_token="x",
    )

    with pytest.raises(Forbidden) as refused:
        asyncio.run(
            export_worker.queue_xlsx_file(
                engine, officer=principal, filters=QueueFilters(), today=clock.today()
            )
        )
    assert refused.value.code == "officer.inactive"
    assert list(own_tempdir.iterdir()) == []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; nobody may reap it in a container


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_the_helper_process_exits_when_the_serving_process_is_killed():
    script = (
        "import os\n"
        "from sirefund.web import export_worker\n"
        "print(export_worker._helper().submit(os.getpid).result(), flush=True)\n"
        "os._exit(0)  # no exit handlers, as when the server is killed\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    helper = int(out.stdout.split()[-1])
    deadline = time.monotonic() + 30
    while _running(helper) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(helper)
