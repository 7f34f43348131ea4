"""The planner's workspace in a real browser (headless chromium on a real uvicorn, every outside request blocked):
a form for every process, a shared link that runs underground use, a proposal placed through the URL, a CQL2
search and the language switch.  Each answer on the page is checked against the HTTP API's own."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

from .test_viewer_browser import NOISE, SHOTS, TOWER, browser  # noqa: F401  (the module's browser fixture)


@pytest.fixture
def open_page(browser, sample_server):  # noqa: F811
    pages = []

    def go(query: dict[str, str] | None = None):
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.outside, page.errors = [], []

        def guard(route):
            if route.request.url.startswith("http://127.0.0.1:"):
                route.continue_()
            else:
                page.outside.append(route.request.url)
                route.abort()

        page.route("**/*", guard)
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(f"page error: {e}"))
        page.set_default_timeout(120_000)
        page.goto(sample_server.url + "/viewer" + ("?" + urlencode(query) if query else ""))
        page.wait_for_function("document.body.dataset.workspace === 'ready'")
        pages.append(page)
        return page

    yield go
    for p in pages:
        assert p.outside == [], "the page tried to reach outside hosts"
        assert [e for e in p.errors if not any(n in e for n in NOISE)] == []
        p.close()


def _tower_square(server, half: float = 0.0012) -> dict:
    f = httpx.get(f"{server.url}/collections/buildings/items/{TOWER}", timeout=60).json()
    ring = f["geometry"]["coordinates"][0][:-1]
    lon = sum(c[0] for c in ring) / len(ring)
    lat = sum(c[1] for c in ring) / len(ring)
    sq = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half]]
    return {"type": "Polygon", "coordinates": [[*sq, sq[0]]]}


def test_every_process_has_a_form(open_page, sample_server):
    page = open_page()
    processes = httpx.get(f"{sample_server.url}/processes", timeout=60).json()["processes"]
    assert processes
    options = page.eval_on_selector_all("#ws-tool option", "os => os.map(o => o.value).filter(Boolean)")
    assert options == [p["id"] for p in processes]
    for p in processes:
        inputs = httpx.get(f"{sample_server.url}/processes/{p['id']}", timeout=60).json()["inputs"]
        page.evaluate("id => window.workspace.chooseTool(id)", p["id"])
        names = page.eval_on_selector_all("#ws-form [name]", "es => es.map(e => e.name)")
        assert names == list(inputs), p["id"]


def test_a_shared_link_runs_underground_use(open_page, sample_server):
    region = _tower_square(sample_server)
    want = httpx.post(f"{sample_server.url}/analysis/underground-use", json={"region": region}, timeout=120).json()
    page = open_page({"tool": "underground-use", "region": json.dumps(region), "run": "1", "lang": "en"})
    page.wait_for_selector('table[data-table="bands"]')
    got = page.eval_on_selector_all(
        'table[data-table="bands"] td[data-col="occupied_volume"]', "tds => tds.map(td => td.textContent)"
    )
    assert [float(v) for v in got] == pytest.approx([b["occupied_volume"] for b in want["bands"]], abs=5e-4)
    assert any(b["occupied_volume"] > 0 for b in want["bands"])  # the region holds something
    assert page.locator("#ws-status").text_content() == "Done"
    bars = page.locator('svg.chart[data-chart="bands"] rect').count()  # the bands as a chart
    assert bars == len(want["bands"])
    assert page.locator('svg.chart[data-chart="bands"]').get_attribute("data-series") == "ratio"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "workspace-underground.png"))


def test_a_proposal_placed_through_the_url_gets_its_verdict_and_clause(open_page, sample_server):
    region = _tower_square(sample_server, half=0.0002)
    proposal = {"id": "P-URL-1", "footprint": region, "height": 260.0, "use": "residential"}
    want = httpx.post(f"{sample_server.url}/analysis/high-rise", json={"proposals": [proposal]}, timeout=120).json()
    verdict = want["results"][0]["verdict"]
    clauses = [r["clause"] for r in want["results"][0]["reasons"] if r.get("clause")]
    page = open_page({"tool": "high-rise", "proposal": json.dumps(proposal), "run": "1", "lang": "zh"})
    page.wait_for_selector('table[data-table="results"]')
    cell = page.locator('table[data-table="results"] td[data-col="verdict"]').first.text_content()
    assert f"({verdict})" in cell
    assert cell.split(" (")[0] != verdict  # the Chinese wording of the verdict, beside the code
    reasons = page.locator('table[data-table="results"] td[data-col="reasons"]').first.text_content()
    assert clauses and all(c in reasons for c in clauses)
    page.screenshot(path=str(SHOTS / "workspace-high-rise.png"))


def test_search_lists_the_threshold_towers(open_page, sample_server):
    want = httpx.get(
        f"{sample_server.url}/collections/buildings/items", params={"filter": "height > 200", "limit": 500}, timeout=60
    ).json()
    page = open_page({"collection": "buildings", "filter": "height > 200"})
    page.wait_for_selector("#ws-found ul.found")
    ids = page.eval_on_selector_all("#ws-found li button", "bs => bs.map(b => b.dataset.id)")
    assert ids == [f["id"] for f in want["features"]] and TOWER in ids
    assert page.evaluate("document.getElementById('ws-filter').value") == "height > 200"
    page.screenshot(path=str(SHOTS / "workspace-search.png"))


def test_language_switch_and_shareable_link(open_page):
    page = open_page({"lang": "en"})
    assert page.locator("#workspace h1").text_content() == "Workspace"
    page.click("#ws-lang")
    assert page.locator("#workspace h1").text_content() == "工作台"
    assert page.locator("#ws-find").text_content() == "查找"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.evaluate("window.workspace.chooseTool('excavation')")
    page.fill("#in-depth", "6")
    link = page.evaluate("window.workspace.link()")
    assert "tool=excavation" in link and "depth=6" in link and "lang=zh" in link
    page.screenshot(path=str(SHOTS / "workspace-zh.png"))


def test_ponding_draws_its_ponds_on_the_globe(open_page, sample_server):
    storm = {"rainfall_mm": 80}
    want = httpx.post(f"{sample_server.url}/analysis/ponding", json={"storm": storm}, timeout=300).json()
    assert want["ponds"], "the sample city ponds under 80 mm"
    page = open_page({"tool": "ponding", "storm": json.dumps(storm), "run": "1", "lang": "en"})
    page.wait_for_selector('table[data-table="ponds"]')
    assert page.locator('table[data-table="ponds"] tbody tr').count() == len(want["ponds"])
    assert page.evaluate("window.workspace.state.drawn") == len(want["ponds"])
    page.wait_for_function("window.cim && window.workspace.state.dataSource", timeout=120_000)
    entities = page.evaluate("window.workspace.state.dataSource.entities.values.length")
    assert entities >= len(want["ponds"])  # one entity per pond polygon (more for multipolygons)
    page.screenshot(path=str(SHOTS / "workspace-ponding.png"))


def test_sunlight_heat_map_of_the_last_analysis(open_page, sample_server):
    """The sample city's SL-FAIL check run from the workspace (footprint in CRS84): every sill point of the answer
    drawn on the globe in the colour of its sunlit minutes, with a legend of hours."""
    from pyproj import Transformer

    from sample_city.sunlight import TARGET, proposals

    prop = proposals()["SL-FAIL"]
    tr = Transformer.from_crs("EPSG:4550", "OGC:CRS84", always_xy=True)
    ring = [list(tr.transform(e, n)) for n, e in prop["footprint"]["coordinates"][0]]
    prop = {**prop, "footprint": {"type": "Polygon", "coordinates": [ring]}}
    body = {"proposals": [prop], "targets": {"buildings": [TARGET]}, "points": {"floors": "all", "spacing_m": 4.0}}
    want = httpx.post(f"{sample_server.url}/analysis/sunlight", json=body, timeout=300).json()
    points = [p for b in want["buildings"] for p in b["points"]]
    assert want["buildings"][0]["verdict"] == "fail" and len(points) > 20
    query = {k: json.dumps(v) for k, v in body.items()}
    page = open_page({"tool": "sunlight", **query, "run": "1", "lang": "en"})
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    page.wait_for_selector('table[data-table="buildings"]')
    assert failed == []
    page.wait_for_function("window.cim && window.cim.state.sunlight")
    assert page.evaluate("window.cim.state.sunlight.points") == len(points)
    colours = page.evaluate("window.cim.sunPointColours()")
    expect = page.evaluate("ms => ms.map((m) => window.cim.sunColour(m, 480))", [p["minutes"] for p in points])
    assert colours == expect and len(set(colours)) > 3  # shaded and sunlit sills in different colours
    assert page.evaluate("window.cim.sunColour(0, 480)") != page.evaluate("window.cim.sunColour(480, 480)")
    legend = page.locator("#sun-legend")
    assert legend.is_visible() and "Sunlit hours" in legend.text_content() and "8 h" in legend.text_content()
    page.evaluate(
        "([lon, lat]) => window.cim.flyTo(lon, lat, 60, 260, -0.35, 0)",
        [points[0]["x"], points[0]["y"]],
    )
    page.wait_for_timeout(1500)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "workspace-sunlight.png"))
