"""The CesiumJS viewer in a real browser: headless Debian chromium (software WebGL) on a real uvicorn.

Loads /viewer with every outside request blocked, waits until every tile has loaded, picks a known
building at the centre of the screen and checks the screenshots are not blank.  Screenshots are kept in
build/viewer/ to look at.  Skips where chromium, Playwright or CesiumJS cannot be had; fails under CI.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import httpx
import pytest

from api.routers.viewer import cesium_available

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "viewer"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NOISE = ("GPU stall due to ReadPixels",)
TOWER = "B-TWR-P501"  # the sample city's tallest tower (501 m, LOD2)


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what}: CI must have it (`make test` installs it)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        _missing("chromium is not installed (apt-get install chromium; scripts/system-deps.sh)")
    if not cesium_available():
        _missing("CesiumJS is not installed (npm ci in viewer/)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--enable-unsafe-swiftshader", "--no-sandbox", "--ignore-gpu-blocklist"],
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def viewer(browser, sample_server):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    outside: list[str] = []
    errors: list[str] = []

    def guard(route):
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.failed = []  # type: ignore[attr-defined]
    page.on("response", lambda r: page.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.set_default_timeout(90_000)
    page.errors, page.outside = errors, outside  # type: ignore[attr-defined]
    page.goto(sample_server.url + "/viewer")
    wait_for_tiles(page)
    yield page
    page.close()


STATE_JS = """() => window.cim ? Object.fromEntries(Object.entries(window.cim.tilesets).map(([k, t]) => [k, {
    loaded: t.tilesLoaded, rootReady: t.root.contentReady, selected: t.statistics.selected,
    pending: t.statistics.numberOfPendingRequests, processing: t.statistics.numberOfTilesProcessing}]))
    : 'window.cim not set'"""


def wait_for_tiles(page) -> None:
    """Every shown tileset loaded (tilesLoaded, root content ready, something selected), then two frames."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function("window.cim && window.cim.allLoaded()", timeout=120_000)
        n = page.evaluate("window.cim.frames()")
        page.wait_for_function(f"window.cim.frames() >= {n + 2} && window.cim.allLoaded()", timeout=60_000)
    except PlaywrightTimeout:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "timeout.png"))
        raise AssertionError(
            f"tiles did not load: {page.evaluate(STATE_JS)}; failed requests "
            f"{getattr(page, 'failed', [])}; console errors {getattr(page, 'errors', [])}"
        ) from None


def tick(page, box: str, on: bool) -> None:
    """Set a checkbox by clicking it in the page (Playwright's check() waits for animation frames, which
    are slow on software WebGL)."""
    page.evaluate(
        "([id, on]) => { const e = document.getElementById(id); if (e.checked !== on) e.click(); }", [box, on]
    )


def pixel_stats(page, png: bytes) -> dict:
    """Mean and variance of the screenshot's luminance, decoded by the browser itself."""
    return page.evaluate(
        """async (b64) => {
        const img = new Image(); img.src = 'data:image/png;base64,' + b64; await img.decode();
        const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let n = 0, s = 0, s2 = 0; const colours = new Set();
        for (let i = 0; i < d.length; i += 16) {
            const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
            n++; s += y; s2 += y * y; if (colours.size < 5000) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        }
        return {mean: s / n, variance: s2 / n - (s / n) ** 2, colours: colours.size};
    }""",
        base64.b64encode(png).decode(),
    )


def shot(page, name: str) -> dict:
    SHOTS.mkdir(parents=True, exist_ok=True)
    png = page.screenshot(path=str(SHOTS / name))
    return pixel_stats(page, png)


def test_city_loads_offline_without_errors(viewer):
    stats = shot(viewer, "city.png")
    assert stats["variance"] > 100 and stats["colours"] > 50, stats
    assert viewer.outside == [], "the page tried to reach outside hosts"
    assert [e for e in viewer.errors if not any(n in e for n in NOISE)] == []
    counts = viewer.evaluate(
        "Object.fromEntries(Object.entries(window.cim.tilesets).map(([k, t]) => [k, t.statistics.selected]))"
    )
    assert set(counts) == {"buildings", "pipes", "underground-structures", "terrain"}
    assert counts["buildings"] > 0 and counts["terrain"] > 0


def test_pick_a_building_and_read_its_properties(viewer, sample_server):
    f = httpx.get(f"{sample_server.url}/collections/buildings/items/{TOWER}").json()
    ring = f["geometry"]["coordinates"][0][:-1]
    lon = sum(c[0] for c in ring) / len(ring)
    lat = sum(c[1] for c in ring) / len(ring)
    roof = f["properties"]["roof_elevation"]  # heights are written as ellipsoidal heights (tiles/frame.py)
    viewer.evaluate(f"window.cim.flyTo({lon}, {lat}, {roof}, 250, -1.3)")
    wait_for_tiles(viewer)
    picked = viewer.evaluate("window.cim.pickCentre()")
    assert picked["feature"] is True, picked  # instanceof Cesium.Cesium3DTileFeature
    assert picked["id"] == TOWER and picked["collection"] == "buildings"
    assert picked["properties"]["height"] == f["properties"]["height"]
    viewer.wait_for_function(f"document.getElementById('info').textContent.includes('{TOWER}')")
    stats = shot(viewer, "picked.png")
    assert stats["variance"] > 100, stats
    assert viewer.outside == []
    assert [e for e in viewer.errors if not any(n in e for n in NOISE)] == []


def test_underground_mode_shows_the_pipes(viewer, sample_server):
    f = httpx.get(f"{sample_server.url}/collections/buildings/items/{TOWER}").json()
    ring = f["geometry"]["coordinates"][0][:-1]
    lon = sum(c[0] for c in ring) / len(ring)
    lat = sum(c[1] for c in ring) / len(ring)
    tick(viewer, "underground", True)
    assert viewer.evaluate("window.cim.viewer.scene.globe.translucency.enabled") is True
    assert viewer.evaluate("window.cim.viewer.scene.globe.depthTestAgainstTerrain") is False
    viewer.evaluate(f"window.cim.flyTo({lon}, {lat}, 40, 150, -0.5)")
    wait_for_tiles(viewer)
    stats = shot(viewer, "underground.png")
    assert stats["variance"] > 100, stats
    assert viewer.evaluate("window.cim.tilesets.pipes.statistics.selected") > 0
    assert [e for e in viewer.errors if not any(n in e for n in NOISE)] == []


def test_colour_by_screening_when_the_service_screens(viewer, sample_server):
    screens = "/analysis/high-rise" in httpx.get(f"{sample_server.url}/api", timeout=60).json()["paths"]
    option = viewer.locator("#screening-option")
    if not screens:
        assert option.is_hidden()
        return
    option.wait_for(state="visible", timeout=120_000)
    verdict = httpx.get(f"{sample_server.url}/analysis/high-rise", params={"limit": 10_000}, timeout=120).json()
    want = next(f["properties"]["verdict"] for f in verdict["features"] if f["id"] == TOWER)
    tick(viewer, "underground", False)
    viewer.evaluate("window.cim.clearSelection()")
    tick(viewer, "screening", True)
    colour = viewer.evaluate(f"window.cim.featureColour('buildings', '{TOWER}')")
    assert colour == viewer.evaluate(f"window.cim.verdictColours['{want}']"), (want, colour)
    tick(viewer, "screening", False)
    assert viewer.evaluate(f"window.cim.featureColour('buildings', '{TOWER}')") == "rgb(255,255,255)"
    tick(viewer, "screening", True)
    shot(viewer, "screening.png")
    assert [e for e in viewer.errors if not any(n in e for n in NOISE)] == []


def test_water_pipe_isolation_is_highlighted(viewer, sample_server):
    crit = httpx.get(f"{sample_server.url}/analysis/water-criticality", params={"top": 1}, timeout=120).json()
    pipe = crit["ranked"][0]["pipes"][0]
    f = httpx.get(f"{sample_server.url}/collections/pipes/items/{pipe}").json()
    lon, lat, z = f["geometry"]["coordinates"][len(f["geometry"]["coordinates"]) // 2]
    viewer.evaluate("window.cim.clearSelection()")
    viewer.evaluate("window.cim.tilesets['underground-structures'].show = false")  # none at the district's edge
    viewer.evaluate(f"window.cim.flyTo({lon}, {lat}, {z}, 400, -1.2)")
    wait_for_tiles(viewer)
    r = viewer.evaluate(f"window.cim.isolate('{pipe}')")
    assert r["segment_pipes"] == crit["ranked"][0]["pipes"] and r["valves_to_close"] == crit["ranked"][0]["valves"]
    colours = viewer.evaluate("window.cim.isolationColours")
    got = [viewer.evaluate(f"window.cim.featureColour('buildings', '{b}')") for b in r["buildings_affected"][:40]]
    assert colours["building"] in got, got  # the loaded ones among the buildings cut off are highlighted
    assert viewer.evaluate(f"window.cim.featureColour('pipes', '{pipe}')") in (colours["pipe"], None)
    viewer.wait_for_function("document.getElementById('info').textContent.includes('Burst isolation')")
    shot(viewer, "isolation.png")
    viewer.evaluate("window.cim.clearSelection()")
    viewer.evaluate("window.cim.tilesets['underground-structures'].show = true")
    assert viewer.evaluate("window.cim.state.isolation") is None
    assert [e for e in viewer.errors if not any(n in e for n in NOISE)] == []


def test_sensors_of_a_feature_and_alarm_colours(viewer, sample_server):
    """Selecting the utility tunnel lists its four gas detectors with their latest readings and 24-hour
    sparklines (the service's own answers); the active alarms of /alarms are loaded, and a feature with an
    active alarm is drawn in its severity's colour."""
    viewer.evaluate("window.cim.clearSelection()")
    out = viewer.evaluate("window.cim.selectById('underground-structures', 'U-UTL-1')")
    assert out is not None and out["collection"] == "underground-structures"
    item = httpx.get(f"{sample_server.url}/collections/underground-structures/items/U-UTL-1").json()
    assert out["sensors"] == item["sensors"] and len(item["sensors"]) == 4
    names = viewer.evaluate("[...document.querySelectorAll('#info .sensor')].map((e) => e.textContent)")
    latest = item["sensors"][1]["datastreams"][0]["latest"]
    assert len(names) == 4 and "U-UTL-1 gas compartment CH4-2" in names[1] and str(latest["result"]) in names[1]
    points = viewer.evaluate("[...document.querySelectorAll('#info svg.spark')].map((e) => +e.dataset.points)")
    assert points == [24 * 12] * 4  # the 5-minute readings of the last 24 h
    # active alarms: exactly those of GET /alarms?active=true (the sample's leak, on a district)
    viewer.evaluate("window.cim.state.alarmsLoaded")
    active = httpx.get(f"{sample_server.url}/alarms", params={"active": "true"}).json()["features"]
    loaded = viewer.evaluate("Object.fromEntries(window.cim.state.alarms)")
    assert loaded == {f["properties"]["feature"]: f["properties"]["severity"] for f in active}
    assert loaded == {"water-districts/DMA-SE": "warning"}
    viewer.evaluate("window.cim.clearSelection()")
    viewer.evaluate(
        "window.cim.state.alarms.set('underground-structures/U-UTL-1', 'critical'); "
        "window.cim.repaint('underground-structures')"
    )
    assert viewer.evaluate("window.cim.featureColour('underground-structures', 'U-UTL-1')") == "rgb(224,32,43)"
    viewer.evaluate(
        "window.cim.state.alarms.delete('underground-structures/U-UTL-1'); window.cim.repaint('underground-structures')"
    )
    assert viewer.evaluate("window.cim.featureColour('underground-structures', 'U-UTL-1')") == "rgb(255,255,255)"


def test_colour_homes_by_walking_distance(viewer, sample_server):
    """Choosing a facility kind colours every loaded home by its walking distance (POST /analysis/living-circles)."""
    viewer.locator("#access-option").wait_for(state="visible", timeout=120_000)
    res = httpx.post(
        f"{sample_server.url}/analysis/living-circles",
        json={"circles": [{"id": "v", "distance_m": 1000, "kinds": ["kindergarten"]}]},
        timeout=300,
    ).json()
    homes = {b["id"]: b["distances_m"]["kindergarten"] for b in res["buildings"]}
    tick(viewer, "screening", False)  # the screening colours (an earlier test leaves them on)
    viewer.evaluate("window.cim.clearSelection()")
    viewer.evaluate(
        "() => { const s = document.getElementById('access-kind'); s.value = 'kindergarten';"
        " s.dispatchEvent(new Event('change')); }"
    )
    viewer.wait_for_function("window.cim.state.accessKind === 'kindergarten'", timeout=300_000)
    drawn = viewer.evaluate(
        "(ids) => Object.fromEntries(ids.map((id) => [id, window.cim.featureColour('buildings', id)]))", list(homes)
    )
    loaded = {k: v for k, v in drawn.items() if v is not None}
    assert len(loaded) >= 10
    want = viewer.evaluate("(ds) => ds.map((d) => window.cim.accessColour(d))", [homes[k] for k in loaded])
    assert list(loaded.values()) == want
    far = viewer.evaluate("window.cim.accessColour(1500)")
    assert any(homes[k] > 1000 for k in loaded) and far in loaded.values()  # C54 is more than 1,000 m away
    viewer.evaluate("window.cim.flyTo(123.412, 41.787, 45, 1800, -0.9)")  # the district from the south
    wait_for_tiles(viewer)
    stats = shot(viewer, "access-kindergarten.png")
    assert stats["variance"] > 10 and stats["colours"] > 50
    viewer.evaluate(
        "() => { const s = document.getElementById('access-kind'); s.value = '';"
        " s.dispatchEvent(new Event('change')); }"
    )
    viewer.wait_for_function("window.cim.state.accessKind === ''")
    some = next(iter(loaded))
    assert viewer.evaluate(f"window.cim.featureColour('buildings', '{some}')") == "rgb(255,255,255)"
    assert [e for e in viewer.errors if not any(n in e for n in NOISE)] == []


def _frames(page, k: int = 3) -> None:
    n = page.evaluate("window.cim.frames()")
    page.wait_for_function(f"window.cim.frames() >= {n + k}", timeout=60_000)


def test_shadows_at_a_chosen_day_and_time(viewer, sample_server):
    """Cesium's own shadow map, lit by Cesium's sun at 大寒日 10:00 city time (Beijing time, UTC+8): the clock,
    the sun's direction in the last frame against pvlib's SPA at the same instant, and a darker picture."""
    import pandas as pd
    from pvlib import solarposition

    f = httpx.get(f"{sample_server.url}/collections/buildings/items/{TOWER}").json()
    ring = f["geometry"]["coordinates"][0][:-1]
    lon = sum(c[0] for c in ring) / len(ring)
    lat = sum(c[1] for c in ring) / len(ring)
    viewer.evaluate("window.cim.clearSelection()")
    viewer.evaluate(f"window.cim.flyTo({lon}, {lat}, 60, 1400, -0.5, 0.4)")
    assert viewer.evaluate("window.cim.setSun('2026-01-20', '10:00', false)") == "2026-01-20T02:00:00Z"
    wait_for_tiles(viewer)
    _frames(viewer)
    off = shot(viewer, "shadows-off.png")
    tick(viewer, "shadows", True)  # the panel's checkbox: on at the panel's date and time
    assert viewer.evaluate("window.cim.viewer.shadows && window.cim.viewer.shadowMap.enabled") is True
    assert viewer.evaluate("Cesium.JulianDate.toIso8601(window.cim.viewer.clock.currentTime, 0)") == (
        "2026-01-20T02:00:00Z"
    )
    _frames(viewer)
    on = shot(viewer, "shadows-on.png")
    assert on["mean"] < off["mean"] - 1.0, (on, off)  # the towers' shadows on the ground and on each other
    ref = {}
    for hhmm, utc in (("10:00", "2026-01-20T02:00:00Z"), ("15:00", "2026-01-20T07:00:00Z")):
        viewer.evaluate(f"window.cim.setSun('2026-01-20', '{hhmm}', true)")
        _frames(viewer)
        sun = viewer.evaluate(f"window.cim.sunAt({lon}, {lat})")
        spa = solarposition.spa_python(pd.DatetimeIndex([utc]), lat, lon)
        assert sun["altitude"] == pytest.approx(float(spa["elevation"].iloc[0]), abs=0.5), hhmm
        assert sun["azimuth"] == pytest.approx(float(spa["azimuth"].iloc[0]), abs=0.5), hhmm
        ref[hhmm] = sun
    assert ref["10:00"]["azimuth"] < 180 < ref["15:00"]["azimuth"]
    shot(viewer, "shadows-15h.png")
    tick(viewer, "shadows", False)
    assert viewer.evaluate("window.cim.viewer.shadows") is False
    assert [e for e in viewer.errors if not any(n in e for n in NOISE)] == [], viewer.failed
