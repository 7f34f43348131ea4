"""Living circles, complete communities, shelters and green buildings on grid street networks.

On a full grid of streets every walking distance has a closed form (Manhattan distance between the snap points,
plus the detour to the nearest cross street when both lie on different streets of the same direction), so every
distance and coverage figure below is checked exactly against it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim.analysis.walk import Access, StreetGraph
from cim.city import LocalCity
from cim.errors import InvalidParameter
from cim.layers import Community, Facility, Street
from cim.model import Building, City
from cim.store import open_store

from ..api.conftest import assert_problem

X0, Y0 = 500000.0, 4630000.0  # city CRS EPSG:4550 (easting, northing), metres
S = 100.0  # grid spacing
N = 6  # lines per direction: 0..500 m


def grid_streets(n: int = N, s: float = S, skip=()) -> list[Street]:
    """Streets along x = k s and y = k s, each with a vertex at every crossing (k = 0..n-1)."""
    out = []
    t = [k * s for k in range(n)]
    for k in range(n):
        if ("h", k) not in skip:
            out.append(Street(id=f"h{k}", centreline=[(X0 + x, Y0 + k * s) for x in t], street_class="residential"))
        if ("v", k) not in skip:
            out.append(Street(id=f"v{k}", centreline=[(X0 + k * s, Y0 + y) for y in t], street_class="secondary"))
    return out


def box(cx: float, cy: float, half: float = 4.0) -> list[list[tuple[float, float]]]:
    return [[(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half), (cx - half, cy + half)]]


def rect(x0: float, y0: float, x1: float, y1: float) -> list[list[tuple[float, float]]]:
    return [[(X0 + x0, Y0 + y0), (X0 + x1, Y0 + y0), (X0 + x1, Y0 + y1), (X0 + x0, Y0 + y1)]]


def house(i: int, cx: float, cy: float, floors: int = 2, **kw) -> Building:
    return Building(
        id=f"b{i}", footprint=box(X0 + cx, Y0 + cy), ground_elevation=0, height=3.0 * floors, floors_above=floors, **kw
    )


def snap_on_grid(p: np.ndarray, s: float = S, n: int = N) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed form snap on a full grid (local metres): foot point, its direction (0: on a horizontal street,
    1: vertical, 2: a node) and the leg."""
    gx, gy = np.clip(np.round(p[:, 0] / s), 0, n - 1) * s, np.clip(np.round(p[:, 1] / s), 0, n - 1) * s
    dx, dy = np.abs(p[:, 0] - gx), np.abs(p[:, 1] - gy)
    horiz = dy < dx  # nearer a horizontal street
    foot = np.where(horiz[:, None], np.column_stack([p[:, 0], gy]), np.column_stack([gx, p[:, 1]]))
    leg = np.where(horiz, dy, dx)
    return foot, np.where(horiz, 0, 1), leg


def grid_distance(a: np.ndarray, da: np.ndarray, b: np.ndarray, db: np.ndarray, s: float = S) -> np.ndarray:
    """Walking distance on a full grid between snap points a (m, 2) and b (2,) on streets of direction da, db."""
    man = np.abs(a[:, 0] - b[0]) + np.abs(a[:, 1] - b[1])
    out = man.copy()
    for axis, d in ((1, 0), (0, 1)):  # both on horizontal streets (axis y differs) / both vertical
        c = 1 - axis  # the coordinate along the street
        same_dir = (da == d) & (db == d) & (a[:, axis] != b[axis])
        lo, hi = np.minimum(a[:, c], b[c]), np.maximum(a[:, c], b[c])
        # a cross street between them (inclusive) gives Manhattan; else the detour to the nearest one
        down = np.floor(lo / s + 1e-12) * s
        up = np.ceil(hi / s - 1e-12) * s
        has = np.ceil(lo / s - 1e-12) * s <= hi
        detour = np.minimum(lo - down, up - hi) * 2
        out = np.where(same_dir & ~has, man + detour, out)
    return out


def make_city(tmp_path: Path, features: list) -> Path:
    path = tmp_path / "grid.sqlite"
    s = open_store(path, create=True)
    s.init(City(name="grid", crs_epsg=4550))
    s.write(features)
    s.close()
    return path


# -- the engine -------------------------------------------------------------------------------------------------
def test_grid_distances_exact_for_random_points():
    rng = np.random.default_rng(7)
    graph = StreetGraph.from_lines([s.coords() - (X0, Y0) for s in grid_streets()])
    assert len(graph.xy) == N * N and len(graph.u) == 2 * N * (N - 1)
    fac = rng.uniform(0, (N - 1) * S, (7, 2))
    homes = rng.uniform(0, (N - 1) * S, (400, 2))
    acc = Access(graph, fac)
    near = acc.nearest({"all": np.arange(7), **{f"f{k}": [k] for k in range(7)}}, homes)
    hf, hd, hl = snap_on_grid(homes)
    ff, fd, fl = snap_on_grid(fac)
    want = np.stack([grid_distance(hf, hd, ff[k], fd[k]) + hl + fl[k] for k in range(7)], axis=1)
    for k in range(7):
        np.testing.assert_allclose(near[f"f{k}"].distance, want[:, k], rtol=0, atol=1e-6)
    np.testing.assert_allclose(near["all"].distance, want.min(axis=1), rtol=0, atol=1e-6)
    best = near["all"].facility
    np.testing.assert_allclose(want[np.arange(400), best], want.min(axis=1), atol=1e-6)
    # without the off-street legs: the network part only
    bare = Access(graph, fac, access=False).nearest({"f0": [0]}, homes)["f0"].distance
    np.testing.assert_allclose(bare, grid_distance(hf, hd, ff[0], fd[0]), atol=1e-6)


def test_same_piece_and_parallel_streets():
    # a facility and a home on one piece: the distance runs along the piece, not around the block
    graph = StreetGraph.from_lines([np.array([[0.0, 0], [100, 0]]), np.array([[0.0, 0], [0, 50], [100, 50], [100, 0]])])
    acc = Access(graph, np.array([[30.0, 0], [70.0, 0]]), access=False)
    d = acc.nearest({"a": [0], "b": [1]}, np.array([[50.0, 0], [10.0, 0], [90.0, 0]]))
    np.testing.assert_allclose(d["a"].distance, [20, 20, 60])
    np.testing.assert_allclose(d["b"].distance, [20, 60, 20])


def test_river_with_one_bridge():
    """Two banks, streets on each, one bridge at x = 400: the facility across is reached over the bridge."""
    south = [np.array([[x, 0.0] for x in range(0, 501, 100)], dtype=float)]
    north = [np.array([[x, 200.0] for x in range(0, 501, 100)], dtype=float)]
    bridge = [np.array([[400.0, 0], [400, 200]])]
    graph = StreetGraph.from_lines(south + north + bridge)
    home = np.array([[100.0, 10.0]])  # 10 m north of the south street
    kg = np.array([[100.0, 190.0]])  # 10 m south of the north street: 180 m away in a straight line
    d = Access(graph, kg).nearest({"kindergarten": [0]}, home)["kindergarten"].distance
    assert d[0] == pytest.approx(10 + 300 + 200 + 300 + 10, abs=1e-9)  # leg, to the bridge, over, back, leg
    # no bridge: unreachable
    d2 = Access(StreetGraph.from_lines(south + north), kg).nearest({"k": [0]}, home)["k"].distance
    assert np.isinf(d2[0])


# -- the analyses -----------------------------------------------------------------------------------------------
@pytest.fixture
def grid_city(tmp_path) -> Path:
    """A 500 m grid; two communities (west x < 250, east x >= 250); homes 10 m north of the h streets."""
    homes = [house(i, 50 + 100 * (i % 5), 10 + 100 * (i // 5), floors=2 + (i % 3)) for i in range(25)]
    shop = Building(id="shop", footprint=box(X0 + 50, Y0 + 30), ground_elevation=0, height=4, use="commercial")
    west = Community(id="west", footprint=rect(-5, -5, 245, 505), population=1000)
    east = Community(id="east", footprint=rect(245, -5, 505, 505), population=3000)
    fac = [
        Facility(id="kg1", kind="kindergarten", position=(X0, Y0), floor_area=2400, site_area=3600),
        Facility(id="kg2", kind="kindergarten", position=(X0 + 500, Y0 + 500), floor_area=2000, site_area=4000),
        Facility(id="nur", kind="nursery", position=(X0 + 100, Y0 + 100), floor_area=250),
        Facility(id="css", kind="community-service-station", position=(X0 + 100, Y0 + 200), floor_area=800),
        Facility(id="eld", kind="day-care", position=(X0 + 200, Y0 + 100), floor_area=400),
        Facility(id="hs", kind="health-station", position=(X0 + 200, Y0 + 200), floor_area=150),
        Facility(id="sm", kind="supermarket", footprint=box(X0 + 150, Y0 + 140, 10), floor_area=600),
        Facility(
            id="sh1", kind="shelter", position=(X0 + 100, Y0 + 300), shelter_class="emergency", effective_area=1500
        ),  # fmt: skip
        Facility(
            id="sh2", kind="shelter", position=(X0 + 500, Y0 + 0), shelter_class="emergency", effective_area=3000
        ),  # fmt: skip
    ]
    return make_city(tmp_path, [*grid_streets(), *homes, shop, west, east, *fac])


def expected(kind_points: list[tuple[float, float]], homes_local: np.ndarray) -> np.ndarray:
    hf, hd, hl = snap_on_grid(homes_local)
    best = np.full(len(homes_local), np.inf)
    for p in kind_points:
        ff, fd, fl = snap_on_grid(np.array([p]))
        best = np.minimum(best, grid_distance(hf, hd, ff[0], fd[0]) + hl + fl[0])
    return best


def test_living_circles_on_the_grid(grid_city):
    with LocalCity(grid_city) as city:
        res = city.analyse("living-circles", {})
    homes = np.array([[50 + 100 * (i % 5), 10 + 100 * (i // 5)] for i in range(25)], dtype=float)
    by_id = {b.id: b for b in res.buildings}
    assert set(by_id) == {f"b{i}" for i in range(25)}  # the shop is not residential
    want_kg = expected([(0, 0), (500, 500)], homes)
    got_kg = np.array([by_id[f"b{i}"].distances_m["kindergarten"] for i in range(25)])
    np.testing.assert_allclose(got_kg, want_kg, atol=1e-6)
    assert by_id["b0"].distances_m["kindergarten"] == pytest.approx(10 + 50)  # leg 10 m, 50 m west
    assert by_id["b0"].distances_m["middle-school"] is None  # none in the city
    # supermarket: a site polygon, reached from its centroid (150, 140) at its snap point
    got_sm = np.array([by_id[f"b{i}"].distances_m["supermarket"] for i in range(25)])
    np.testing.assert_allclose(got_sm, expected([(150, 140)], homes), atol=1e-6)
    # coverage: 5-minute kindergarten within 300 m; population spread by floor area in each community
    cov = {(c.circle, c.kind): c for c in res.coverage}
    k5 = cov[("5-minute", "kindergarten")]
    within = want_kg <= 300
    assert k5.buildings == within.sum() and k5.buildings_share == pytest.approx(within.mean(), abs=1e-12)
    floors = np.array([2 + (i % 3) for i in range(25)], dtype=float)
    west = homes[:, 0] < 250
    pop = np.where(west, 1000 * floors / floors[west].sum(), 3000 * floors / floors[~west].sum())
    assert k5.population_share == pytest.approx(pop[within].sum() / 4000, abs=1e-12)
    assert by_id["b0"].population == pytest.approx(pop[0], abs=1e-3)
    assert cov[("15-minute", "middle-school")].buildings == 0


def test_complete_community_checklist(grid_city):
    with LocalCity(grid_city) as city:
        res = city.analyse("living-circles", {})
    comm = {c.id: c for c in res.communities}
    west = comm["west"]
    status = {r.kind: r.status for r in west.items}
    assert status["nursery"] == "present" and status["supermarket"] == "present"
    assert status["elderly-service"] == "present"  # a day-care centre of 400 m² >= 350 m²
    assert status["health-station"] == "present" and status["community-service-station"] == "present"
    assert status["kindergarten"] == "present" and west.complete and not west.missing
    east = comm["east"]
    assert east.too_small == ["kindergarten"]  # kg2: 2,000 m² of floor < 2,200 m²
    assert set(east.missing) == {
        "community-service-station",
        "nursery",
        "elderly-service",
        "health-station",
        "supermarket",
    }
    assert not east.complete and east.population == 3000


def test_too_small_and_complete(tmp_path):
    c = Community(id="c", footprint=box(X0 + 250, Y0 + 250, 240), population=100)
    fac = [
        Facility(id="kg", kind="kindergarten", position=(X0 + 100, Y0 + 100), floor_area=2200, site_area=3499),
        Facility(id="n", kind="nursery", position=(X0 + 110, Y0 + 100), floor_area=200),
        Facility(id="s", kind="community-service-station", position=(X0 + 120, Y0 + 100), floor_area=800),
        Facility(id="e", kind="elderly-service", position=(X0 + 130, Y0 + 100), floor_area=350),
        Facility(id="h", kind="health-station", position=(X0 + 140, Y0 + 100)),
        Facility(id="m", kind="supermarket", position=(X0 + 150, Y0 + 100), floor_area=299.9),
    ]
    path = make_city(tmp_path, [*grid_streets(), c, *fac])
    with LocalCity(path) as city:
        res = city.analyse("living-circles", {})
        (check,) = res.communities
        assert check.too_small == ["kindergarten", "supermarket"] and check.missing == []
        st = {r.kind: r for r in check.items}
        assert st["health-station"].status == "size-unknown" and st["nursery"].status == "present"
        assert st["kindergarten"].standard_site_area_m2 == 3500 and st["kindergarten"].facilities == ["kg"]
        city.store.write(
            [
                Facility(id="kg", kind="kindergarten", position=(X0 + 100, Y0 + 100), floor_area=2200, site_area=3500),
                Facility(id="m", kind="supermarket", position=(X0 + 150, Y0 + 100), floor_area=300),
                Facility(id="h", kind="health-station", position=(X0 + 140, Y0 + 100), floor_area=120),
            ],
            replace=True,
        )
        (check,) = city.analyse("living-circles", {}).communities
        assert check.complete and not check.missing and not check.too_small


def test_circles_override_and_region(grid_city):
    with LocalCity(grid_city) as city:
        res = city.analyse(
            "living-circles",
            circles=[{"id": "near", "distance_m": 60, "kinds": ["kindergarten"]}],
            access=False,
            region={
                "type": "Polygon",
                "coordinates": [[[Y0, X0], [Y0, X0 + 120], [Y0 + 120, X0 + 120], [Y0 + 120, X0], [Y0, X0]]],
            },
            crs="EPSG:4550",
        )
        ids = {b.id: b.distances_m["kindergarten"] for b in res.buildings}
        assert ids == {"b0": 50.0, "b5": 150.0}  # (50, 10) and (50, 110), no legs; b1 at x = 150 is outside
        (cov,) = res.coverage
        assert cov.buildings == 1 and cov.buildings_share == 0.5
        with pytest.raises(InvalidParameter) as exc:
            city.analyse("living-circles", circles=[{"id": "x", "distance_m": 60, "kinds": ["spaceport"]}])
        assert exc.value.parameter.startswith("circles")


def test_shelters(grid_city):
    with LocalCity(grid_city) as city:
        res = city.analyse("shelters", {})
    homes = np.array([[50 + 100 * (i % 5), 10 + 100 * (i // 5)] for i in range(25)], dtype=float)
    d1, d2 = expected([(100, 300)], homes), expected([(500, 0)], homes)
    floors = np.array([2 + (i % 3) for i in range(25)], dtype=float)
    west = homes[:, 0] < 250
    pop = np.where(west, 1000 * floors / floors[west].sum(), 3000 * floors / floors[~west].sum())
    own1 = (d1 <= 500) & ((d1 <= d2) | (d2 > 500))
    own2 = (d2 <= 500) & ~own1
    out = ~(own1 | own2)
    rows = {r.id: r for r in res.shelters}
    assert rows["sh1"].capacity == pytest.approx(1000.0) and rows["sh2"].capacity == pytest.approx(2000.0)
    assert rows["sh1"].population == pytest.approx(pop[own1].sum(), abs=1e-9)
    assert rows["sh2"].population == pytest.approx(pop[own2].sum(), abs=1e-9)
    assert rows["sh1"].buildings == own1.sum() and rows["sh2"].buildings == own2.sum()
    over = max(pop[own1].sum() - 1000, 0) + max(pop[own2].sum() - 2000, 0)
    assert res.unserved_population == pytest.approx(pop[out].sum() + over, abs=1e-9)
    assert sorted(res.unreached_buildings) == sorted(f"b{i}" for i in np.flatnonzero(out))
    assert res.area_per_person_m2 == pytest.approx(4500 / 4000)
    assert rows["sh1"].meets_min_area is False and rows["sh2"].meets_min_area is True
    assert sum(u.out_of_reach + u.over_capacity for u in res.unserved) == pytest.approx(res.unserved_population)


def test_green_buildings(tmp_path):
    blds = [
        house(0, 50, 10, year_built=2022, green_star=1, attributes={"district": "铁西"}),
        house(1, 150, 10, year_built=2023, green_star=0, attributes={"district": "铁西"}),
        house(2, 250, 10, year_built=2021, attributes={"district": "铁西"}),
        house(3, 350, 10, year_built=2024, green_star=3, attributes={"district": "和平"}),
        house(4, 450, 10, year_built=2020, green_star=2, attributes={"district": "和平"}),
        house(5, 50, 410, year_built=2025, green_star=2),
    ]
    path = make_city(tmp_path, [*blds, Community(id="north", footprint=box(X0 + 100, Y0 + 400, 100))])
    with LocalCity(path) as city:
        res = city.analyse("green-buildings", since=2021)
    rows = {r.district: r for r in res.districts}
    assert rows["铁西"].buildings == 3 and rows["铁西"].star_rated == 1
    assert rows["铁西"].share == pytest.approx(1 / 3) and rows["铁西"].meets_target is False
    assert rows["和平"].buildings == 1 and rows["和平"].share == 1.0 and rows["和平"].meets_target
    assert rows["north"].buildings == 1  # no district attribute: its community
    assert res.total.buildings == 5 and res.total.star_rated == 3 and res.total.share == pytest.approx(0.6)
    assert res.target_share == 0.4


def test_http_routes_csv_and_bad_input(grid_city, tmp_path):
    app = create_app(Settings(store=str(grid_city)))
    with TestClient(app) as client:
        r = client.post("/analysis/living-circles", json={})
        assert r.status_code == 200, r.text
        assert len(r.json()["buildings"]) == 25
        csv = client.post("/analysis/living-circles?f=csv", json={"access": False})
        assert csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.splitlines()
        assert lines[0].startswith("id,community,population,kindergarten_m") and len(lines) == 26
        row = dict(zip(lines[0].split(","), [ln for ln in lines if ln.startswith("b0,")][0].split(","), strict=True))
        assert float(row["kindergarten_m"]) == 50.0 and row["middle-school_m"] == ""
        assert client.get("/analysis/green-buildings?since=2021").status_code == 200
        assert client.get("/analysis/green-buildings?since=2021&f=csv").text.startswith("district,")
        assert client.post("/analysis/shelters", json={}).json()["area_per_person_standard_m2"] == 1.5
        assert_problem(client.post("/analysis/living-circles", json={"circles": []}), 400, "circles")
        bad = {"circles": [{"id": "x", "distance_m": -5, "kinds": ["park"]}]}
        assert_problem(client.post("/analysis/living-circles", json=bad), 400)
        assert_problem(client.get("/analysis/green-buildings?since=abc"), 400)
        assert_problem(client.post("/analysis/shelters", json={"default_class": "bunker"}), 400, "default_class")
    # a city without streets: 400 naming the streets
    empty = make_city(tmp_path / "e", [house(0, 0, 0)]) if (tmp_path / "e").mkdir() is None else None
    with TestClient(create_app(Settings(store=str(empty)))) as client:
        assert_problem(client.post("/analysis/living-circles", json={}), 400, "streets")


# -- the indicator board ----------------------------------------------------------------------------------------
def test_indicator_board(grid_city):
    from cim import indicators

    def toy(board):  # another analysis adds its indicator in one line
        return [indicators.row(id="toy", group="toy", title="Toy", value=0.2, unit="share", target=0.1,
                               target_kind="at-most")]  # fmt: skip

    indicators.register(toy)
    try:
        with LocalCity(grid_city) as city:
            rows = {r.id: r for r in indicators.board(city)}
            lc = city.analyse("living-circles", {})
            sh = city.analyse("shelters", {})
    finally:
        indicators.unregister(toy)
    assert rows["toy"].meets is False
    for c in lc.coverage:
        r = rows[f"coverage.{c.circle}.{c.kind}"]
        assert r.value == c.buildings_share and r.meets == (c.buildings_share == 1.0)
    assert rows["complete-community.share"].value == 0.5  # west complete, east not
    assert rows["complete-community.share"].breakdown["lacking kindergarten"] == 1
    assert rows["shelters.area-per-person"].value == pytest.approx(4500 / 4000) == sh.area_per_person_m2
    assert rows["shelters.area-per-person"].meets is False and rows["shelters.area-per-person"].target == 1.5
    assert rows["green-buildings.share"].value is None and "year_built" in rows["green-buildings.share"].note
    uhr = rows["ultra-high-rise.flagged"]
    assert uhr.value == 0 and uhr.meets and uhr.breakdown == {"low-multi-storey / ok": 26.0}
    bands = [r for r in rows.values() if r.group == "underground-use"]
    assert len(bands) == 1 and bands[0].value is None and "terrain" in bands[0].note  # no terrain: no depths


def test_indicators_http(grid_city):
    with TestClient(create_app(Settings(store=str(grid_city)))) as client:
        js = client.get("/indicators")
        assert js.status_code == 200, js.text
        ids = [r["id"] for r in js.json()]
        assert "shelters.area-per-person" in ids and "coverage.15-minute.middle-school" in ids
        csv = client.get("/indicators?f=csv")
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines()[0].startswith("id,group,title,value,unit,target")
        assert len(csv.text.splitlines()) == len(ids) + 1
        html = client.get("/indicators?f=html")
        assert html.headers["content-type"].startswith("text/html")
        assert html.text.count("<svg") >= 3 and "http" not in html.text.split("<body>")[1].replace("http://www.w3", "")
        assert_problem(client.get("/indicators?f=xml"), 400)


def test_board_without_layers_says_why(tmp_path):
    from cim import indicators

    path = make_city(tmp_path, [house(0, 50, 10, year_built=2022, green_star=2)])
    with LocalCity(path) as city:
        rows = {r.group: r for r in indicators.board(city)}
    assert rows["living-circle-coverage"].value is None and "streets" in rows["living-circle-coverage"].note
    assert rows["green-buildings"].value == 1.0 and rows["green-buildings"].meets
