"""关怀版 (issue 10, part 8): a header link switches large text and high contrast on and off
without JavaScript, the choice is remembered in a cookie and drawn by the server, and the
switch only ever sends the visitor back to a page of ours."""

from __future__ import annotations

import re

import pytest


def _html_class(page: str) -> str:
    match = re.search(r"<html[^>]*>", page)
    assert match
    found = re.search(r'class="([^"]*)"', match.group(0))
    return found.group(1) if found else ""


@pytest.mark.parametrize("page", ["/etax/", "/m/", "/officer/login", "/etax/login"])
def test_every_site_header_offers_the_care_switch_back_to_the_same_page(client, page):
    html = client.get(page).text
    assert "care" not in _html_class(html).split()
    link = re.search(r'<a class="care-switch[^"]*" href="([^"]+)">关怀版</a>', html)
    assert link, "no 关怀版 link in the header"
    target = link.group(1).replace("&amp;", "&")
    r = client.get(target, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == page
    assert r.cookies.get("sirefund_care") == "1"


def test_care_mode_is_remembered_and_drawn_on_the_server_until_switched_off(client):
    client.get("/care-mode?on=1&next=/m/", follow_redirects=False)
    for page in ("/m/", "/etax/", "/m/login", "/etax/no-such-page"):
        html = client.get(page).text
        assert "care" in _html_class(html).split(), page
        assert "退出关怀版" in html
    r = client.get("/care-mode?on=0&next=/etax/", follow_redirects=False)
    assert r.headers["location"] == "/etax/"
    client.cookies.delete("sirefund_care")  # the answer above expires it
    assert "care" not in _html_class(client.get("/etax/").text).split()


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "",
    ],
)
def test_the_care_switch_never_sends_anyone_to_another_site(client, target):
    r = client.get("/care-mode", params={"on": "1", "next": target}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/etax/"
