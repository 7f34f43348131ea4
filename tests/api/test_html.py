"""HTML pages for browsers (OGC API - Features HTML conformance class); JSON for every other client."""

from __future__ import annotations

import re

import pytest

from .conftest import client  # noqa: F401  (the module's app on the tiny city)

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
PAGES = [
    "/",
    "/conformance",
    "/collections",
    "/collections/buildings",
    "/collections/buildings/items?limit=7",
    "/collections/pipes/items?limit=3",
    "/processes",
    "/jobs",
]


@pytest.mark.parametrize("path", PAGES)
def test_browsers_get_html(client, path):  # noqa: F811
    r = client.get(path, headers=BROWSER)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.startswith("<!doctype html>")
    assert "This page as JSON" in r.text


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/geo+json"])
def test_other_clients_get_json_unchanged(client, path, accept):  # noqa: F811
    headers = {} if accept is None else {"Accept": accept}
    r = client.get(path, headers=headers)
    assert "json" in r.headers["content-type"]
    body = r.json()
    asked = client.get(path + ("&" if "?" in path else "?") + "f=json", headers=BROWSER).json()
    if isinstance(body, dict):  # the same answer, but for self links that repeat the query
        body.pop("links", None), asked.pop("links", None)
    assert asked == body


def test_items_page_lists_the_features_with_a_map_and_paging(client):  # noqa: F811
    data = client.get("/collections/buildings/items?limit=7&offset=7").json()
    page = client.get("/collections/buildings/items?limit=7&offset=7&f=html").text
    ids = [f["id"] for f in data["features"]]
    assert len(ids) == 7
    for fid in ids:
        assert f'href="/collections/buildings/items/{fid}?f=html&amp;lang=en"' in page
    assert page.count("<polygon ") == 7  # one footprint per feature in the sketch map
    assert 'rel="next"' in page and 'rel="prev"' in page
    nxt = re.search(r'href="([^"]+)" rel="next"', page).group(1).replace("&amp;", "&")
    assert "offset=14" in nxt and "f=html" in nxt
    assert f"{data['numberMatched']} matched, 7 returned" in page


def test_item_page_shows_every_property(client):  # noqa: F811
    feature = client.get("/collections/buildings/items?limit=1").json()["features"][0]
    page = client.get(f"/collections/buildings/items/{feature['id']}", headers=BROWSER).text
    for key in feature["properties"]:
        assert f'<th scope="row">{key}</th>' in page


def test_chinese_by_browser_preference_or_lang(client):  # noqa: F811
    zh = client.get("/collections", headers={**BROWSER, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).text
    assert '<html lang="zh-CN">' in zh and "数据集" in zh and "浏览要素" in zh
    en = client.get("/collections?f=html&lang=en", headers={"Accept-Language": "zh-CN"}).text
    assert '<html lang="en">' in en and "Browse the features" in en
    assert "分析服务" in client.get("/processes?f=html&lang=zh").text


def test_errors_are_html_pages_for_browsers_and_problems_for_clients(client):  # noqa: F811
    r = client.get("/collections/nope", headers=BROWSER)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "nope" in r.text
    assert client.get("/collections/nope").headers["content-type"].startswith("application/problem+json")


def test_html_conformance_class_is_declared(client):  # noqa: F811
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html" in client.get("/conformance").json()["conformsTo"]
    )
