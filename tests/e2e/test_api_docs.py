"""/docs in real Chromium: the interactive documentation renders the OpenAPI 3.1 document that
FastAPI writes (Swagger UI 4 showed only "Unable to render this definition"), from this
server alone, and lists the operations of api.md."""

from __future__ import annotations

import pytest
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def test_docs_page_renders_the_operations_in_chromium(open_page, applicant_site):
    page = open_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(applicant_site["base"] + "/docs")
    page.locator(".opblock").first.wait_for()
    text = page.locator("#swagger-ui").inner_text()
    assert "Unable to render" not in text
    assert "/api/v1/register/person" in text
    assert "/api/v1/pension/refunds" in text
    assert page.locator(".opblock").count() >= 30
    base = applicant_site["base"]
    assert [url for url in requests if not url.startswith(base)] == []
    screenshot(page, "api-docs")
