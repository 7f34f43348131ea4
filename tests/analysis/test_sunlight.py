"""Sunlight (日照): analytic walls against an independent solar track, proposals, verdicts, bad input, writers.

The reference track is computed here from pvlib's SPA on a 10-second grid of UTC instants, mapped to true solar
time by SPA's own equation of time and interpolated at the middle of each step: independent of the iteration
in :func:`cim.solar.sun.sun_track`.  The targets stand on the central meridian of EPSG:4550 (easting 500000),
where grid north is true north.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim.city import LocalCity
from cim.errors import InvalidParameter
from cim.model import Building, BuildingUse, City, Surface, SurfaceType
from cim.solar.facade import OFFSET
from cim.solar.sun import solar_term_date, sun_track
from cim.store import open_store

from ..api.conftest import assert_problem

X0, Y0 = 500000.0, 4630000.0  # south-west corner of the target (central meridian: no grid convergence)
SILL = 0.9
CRS = "EPSG:4550"  # northing, easting


def box(x0, y0, x1, y1):
    return [[(x0, y0), (x1, y0), (x1, y1), (x0, y1)]]


def lod2_box(x0, y0, x1, y1, z0, z1) -> list[Surface]:
    """Walls, roof and floor of a box as LOD2 surfaces (outward orientation)."""
    c = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    out = [
        Surface(type=SurfaceType.roof, rings=[[(x, y, z1) for x, y in c]]),
        Surface(type=SurfaceType.ground, rings=[[(x, y, z0) for x, y in reversed(c)]]),
    ]
    for (ax, ay), (bx, by) in zip(c, c[1:] + c[:1], strict=True):
        out.append(Surface(type=SurfaceType.wall, rings=[[(ax, ay, z0), (bx, by, z0), (bx, by, z1), (ax, ay, z1)]]))
    return out


def target(fid="T", **kw) -> Building:
    return Building(
        id=fid, footprint=box(X0, Y0, X0 + 20, Y0 + 10), ground_elevation=0.0, height=9.0, floors_above=3, **kw
    )


def make_city(tmp_path, buildings, name="沈阳日照测试 (Shenyang sun test)", population=9_000_000):
    path = tmp_path / "sun.sqlite"
    s = open_store(path, create=True)
    s.init(City(name=name, crs_epsg=4550, urban_population=population))
    s.write(buildings)
    s.close()
    return path


def reference(lon, lat, date, start=480.0, end=960.0, step=1.0):
    """(TST minutes, azimuth, altitude) at step midpoints, from SPA on a 10 s UTC grid (independent of cim)."""
    from pvlib import solarposition

    t0 = pd.Timestamp(date.isoformat(), tz="UTC") - pd.Timedelta(hours=12)
    utc = t0 + pd.to_timedelta(np.arange(0, 48 * 360) * 10.0, unit="s")
    pos = solarposition.spa_python(utc, lat, lon, delta_t=None)
    minutes_utc = (utc - pd.Timestamp(date.isoformat(), tz="UTC")).total_seconds().to_numpy() / 60.0
    tst = minutes_utc + 4.0 * lon + pos["equation_of_time"].to_numpy()
    mid = start + (np.arange(int(round((end - start) / step))) + 0.5) * step
    return mid, np.interp(mid, tst, pos["azimuth"].to_numpy()), np.interp(mid, tst, pos["elevation"].to_numpy())


def lonlat():
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4550", "EPSG:4326", always_xy=True)
    return tr.transform(X0 + 10.0, Y0 + 5.0)


def south_points(b, floor=0):
    """Points on the target's south wall (y = Y0); EPSG:4550 is northing, easting: p.x is the northing."""
    return [p for p in b.points if abs(p.x - Y0) < 1e-3 and p.floor == floor]


def east_points(b, floor=0):
    return [p for p in b.points if abs(p.y - (X0 + 20)) < 1e-3 and p.floor == floor]


def run(path, **req):
    with LocalCity(path) as city:
        return city.analyse("sunlight", crs=CRS, **req)


def test_solar_terms_and_track_noon():
    assert solar_term_date(2026, 300.0) == dt.date(2026, 1, 20)  # 大寒 2026-01-20
    assert solar_term_date(2024, 270.0) == dt.date(2024, 12, 21)  # 冬至 2024-12-21 (17:20 Beijing time)
    lon, lat = lonlat()
    tr = sun_track(lon, lat, dt.date(2026, 1, 20), (719.5, 720.5), 1.0, epsg=4550)
    assert tr.azimuth[0] == pytest.approx(180.0, abs=0.01)  # the sun crosses the meridian at 12:00 true solar time
    assert abs(tr.north_bearing) < 1e-3  # 10 m from the central meridian: grid north is true north (8e-5°)


def test_unobstructed_point_gets_the_whole_window(tmp_path):
    path = make_city(tmp_path, [target()])
    res = run(path, targets={"buildings": ["T"]})
    (b,) = res.buildings
    south = south_points(b)
    assert len(south) == 20  # 20 m wall, 1 m spacing
    assert all(p.minutes == 480.0 and p.longest_minutes == 480.0 for p in south)
    mid, az, alt = reference(*lonlat(), dt.date(2026, 1, 20))
    east = east_points(b)
    assert len(east) == 10
    # the east wall faces the sun while it is east of the wall's plane: azimuth < 180
    assert {p.minutes for p in east} == {float(np.sum((az < 180.0) & (alt > 0)))}
    assert b.verdict == "pass" and b.required_minutes == 120.0 and b.standard.endswith("ge500k")
    assert res.day == "2026-01-20" and res.window == ["08:00", "16:00"] and res.climate_zone == "I"  # 沈阳: zone I


@pytest.mark.parametrize(("D", "H"), [(20.0, 8.0), (35.0, 12.0), (12.0, 3.0)])
def test_long_wall_to_the_south_matches_the_altitude_rule(tmp_path, D, H):
    wall = Building(
        id="W", footprint=box(X0 - 3000, Y0 - D - 2, X0 + 3000, Y0 - D), ground_elevation=0.0, height=SILL + H
    )
    path = make_city(tmp_path, [target(), wall])
    res = run(path, targets={"buildings": ["T"]}, climate_zone="I")
    (b,) = res.buildings
    mid, az, alt = reference(*lonlat(), dt.date(2026, 1, 20))
    a = np.radians(az - 180.0)
    d = (D - OFFSET) / np.cos(a)  # along the ray to the wall's face (columns stand OFFSET out from their wall)
    expected = float(np.sum((np.abs(a) < np.pi / 2) & (alt > np.degrees(np.arctan(H / d)))))
    assert 0 < expected < 480
    got = {p.minutes for p in south_points(b)}
    assert len(got) == 1  # a long wall shades every point of the façade alike
    assert abs(got.pop() - expected) <= res.step_min
    # the floor above sees over the wall for longer
    up = south_points(b, floor=1)
    assert not up  # floors="lowest" by default
    res2 = run(path, targets={"buildings": ["T"]}, points={"floors": "all"})
    s1 = south_points(res2.buildings[0], floor=1)
    assert s1 and all(p.z == pytest.approx(SILL + 3.0) for p in s1)
    expected1 = float(np.sum((np.abs(a) < np.pi / 2) & (alt > np.degrees(np.arctan((H - 3.0) / d)))))
    assert all(abs(p.minutes - expected1) <= 1.0 for p in s1)


def test_wall_turned_north_south_shades_as_geometry_says(tmp_path):
    D, H = 15.0, 10.0
    xw = X0 + 20 + D  # west face of a long north-south wall east of the target
    wall = Building(id="W", footprint=box(xw, Y0 - 3000, xw + 2, Y0 + 3000), ground_elevation=0.0, height=SILL + H)
    path = make_city(tmp_path, [target(), wall])
    (b,) = run(path, targets={"buildings": ["T"]}).buildings
    mid, az, alt = reference(*lonlat(), dt.date(2026, 1, 20))
    a = np.radians(az - 90.0)  # from the east wall's normal
    d = (D - OFFSET) / np.cos(a)
    expected_east = float(np.sum((np.abs(a) < np.pi / 2) & (alt > np.degrees(np.arctan(H / d)))))
    got = {p.minutes for p in east_points(b)}
    assert len(got) == 1 and abs(got.pop() - expected_east) <= 1.0 and 0 < expected_east < 240
    # a south-facing point at easting x: the morning sun (azimuth < 180) crosses the wall's face at (xw - x)/sin(az)
    for p in south_points(b)[::5]:
        x = p.y  # easting
        az_r = np.radians(az)
        toward_wall = np.sin(az_r) > 0
        dist = np.where(toward_wall, (xw - x) / np.where(toward_wall, np.sin(az_r), 1.0), np.inf)
        shaded = toward_wall & (np.tan(np.radians(alt)) * dist < H)
        expected = float(np.sum((np.cos(np.radians(az - 180)) > 0) & ~shaded))
        assert abs(p.minutes - expected) <= 1.0
    assert b.verdict == "pass"


def test_lod2_wall_is_ray_cast_to_the_same_answer(tmp_path):
    D, H = 20.0, 8.0
    prism = Building(
        id="W", footprint=box(X0 - 300, Y0 - D - 2, X0 + 300, Y0 - D), ground_elevation=0.0, height=SILL + H
    )
    lod2 = prism.model_copy(update={"surfaces": lod2_box(X0 - 300, Y0 - D - 2, X0 + 300, Y0 - D, 0.0, SILL + H)})
    a_path = make_city(tmp_path / "a" if (tmp_path / "a").mkdir() is None else tmp_path, [target(), prism])
    b_path = make_city(tmp_path / "b" if (tmp_path / "b").mkdir() is None else tmp_path, [target(), lod2])
    ra, rb = run(a_path, targets={"buildings": ["T"]}), run(b_path, targets={"buildings": ["T"]})
    assert ra.engine == "prisms" and rb.engine in ("prisms+embree", "prisms+trimesh")
    ma = [p.minutes for p in south_points(ra.buildings[0])]
    mb = [p.minutes for p in south_points(rb.buildings[0])]
    assert max(abs(x - y) for x, y in zip(ma, mb, strict=True)) <= 1.0
    assert min(ma) < 480.0


def test_proposal_blocks_and_fails_then_a_lower_one_passes(tmp_path):
    path = make_city(tmp_path, [target(), target("T2", use=BuildingUse.commercial).model_copy(
        update={"footprint": box(X0 + 200, Y0, X0 + 220, Y0 + 10)})])  # fmt: skip
    tower = {  # 30 x 20 m, 15 m south of the target, 60 m tall: shades it most of the day
        "id": "tower",
        "footprint": {"type": "Polygon", "coordinates": [[[Y0 - 35, X0 - 5], [Y0 - 35, X0 + 25], [Y0 - 15, X0 + 25],
                                                          [Y0 - 15, X0 - 5], [Y0 - 35, X0 - 5]]]},
        "floors": 20,
    }  # fmt: skip
    low = {**tower, "id": "low", "floors": None, "height": 4.0}
    res = run(path, proposals=[tower])
    assert [b.id for b in res.buildings] == ["T"]  # default targets: residential within 200 m
    (b,) = res.buildings
    assert b.verdict == "fail" and b.blocked_by == ["tower"]
    assert b.worst_minutes < 120.0 <= b.worst_minutes_without_proposals
    assert all("tower" in p.blocked_by for p in south_points(b))
    res = run(path, proposals=[low], targets={"within_m": 300})
    assert {b.id: b.verdict for b in res.buildings} == {"T": "pass"}
    t = res.buildings[0]
    assert t.worst_minutes >= 120.0 and t.worst_minutes <= t.worst_minutes_without_proposals
    # an explicit non-residential target is computed but not assessed
    res = run(path, proposals=[tower], targets={"buildings": ["T", "T2"]})
    assert res.buildings[1].verdict == "not-assessed" and res.buildings[1].points


def test_existing_shortfall_and_rule_selection(tmp_path):
    wall = Building(id="W", footprint=box(X0 - 3000, Y0 - 8, X0 + 3000, Y0 - 6), ground_elevation=0.0, height=20.0)
    path = make_city(tmp_path, [target(), wall], population=300_000)
    far = {
        "id": "far",
        "footprint": {"type": "Polygon", "coordinates": [[[Y0 + 100, X0], [Y0 + 100, X0 + 10], [Y0 + 110, X0 + 10],
                                                          [Y0 + 110, X0], [Y0 + 100, X0]]]},
        "height": 30.0,
    }  # fmt: skip
    res = run(path, proposals=[far], targets={"buildings": ["T"]}, climate_zone="II")
    (b,) = res.buildings
    assert b.required_minutes == 180.0  # < 50万: 大寒日 3 h
    assert b.verdict == "existing-shortfall" and b.worst_minutes == b.worst_minutes_without_proposals < 180.0
    res = run(path, targets={"buildings": ["T"]}, climate_zone="V", day="dahan")
    assert res.buildings[0].verdict == "not-assessed"  # zone V's standard is for 冬至日
    res = run(path, targets={"buildings": ["T"]}, climate_zone="V")  # the standard's day by default
    assert res.day == "2026-12-22" and res.window == ["09:00", "15:00"] and res.buildings[0].required_minutes == 60.0


def test_bad_input_names_the_field(tmp_path):
    path = make_city(tmp_path, [target()])
    bow = {"type": "Polygon", "coordinates": [[[Y0 - 30, X0], [Y0 - 20, X0 + 10], [Y0 - 30, X0 + 10],
                                               [Y0 - 20, X0], [Y0 - 30, X0]]]}  # fmt: skip
    cases = [
        ({"day": "2026-13-40", "targets": {"buildings": ["T"]}}, "day"),
        ({"day": "tomorrow", "targets": {"buildings": ["T"]}}, "day"),
        ({"targets": {"buildings": ["T", "nope"]}}, "targets.buildings.1"),
        ({"proposals": [{"id": "p", "footprint": bow, "height": 30}]}, "proposals.0.footprint"),
        ({"proposals": [{"id": "p", "footprint": bow}]}, "proposals.0"),
        ({"targets": {"buildings": ["T"]}, "window": ["16:00", "08:00"]}, "window"),
        ({"targets": {"buildings": ["T"]}, "step_min": 7}, "step_min"),
        ({}, "targets"),
    ]
    with LocalCity(path) as city:
        for body, field in cases:
            with pytest.raises(InvalidParameter) as exc:
                city.analyse("sunlight", crs=CRS, **body)
            assert exc.value.parameter == field, (body, exc.value.parameter)
    app = create_app(Settings(store=str(path)))
    with TestClient(app) as client:
        for body, field in cases[:4]:
            assert_problem(client.post("/analysis/sunlight", json={"crs": CRS, **body}), 400, field)


def test_http_json_csv_geojson(tmp_path):
    path = make_city(tmp_path, [target()])
    app = create_app(Settings(store=str(path)))
    body = {"crs": CRS, "targets": {"buildings": ["T"]}, "step_min": 2}
    with TestClient(app) as client:
        r = client.post("/analysis/sunlight", json=body)
        assert r.status_code == 200, r.text
        pts = r.json()["buildings"][0]["points"]
        assert len(pts) == 40  # south 20, east 10, west 10
        csv = client.post("/analysis/sunlight?f=csv", json=body)
        assert csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.splitlines()
        assert lines[0].startswith("building,verdict,x,y,z,floor,minutes") and len(lines) == 41
        gj = client.post("/analysis/sunlight?f=geojson", json=body).json()
        assert len(gj["features"]) == 40
        f0 = gj["features"][0]
        assert f0["geometry"]["coordinates"][:2] == [pts[0]["x"], pts[0]["y"]]
        # CRS84 answers in lon/lat
        r84 = client.post("/analysis/sunlight", json={**body, "crs": None}).json()
        p = r84["buildings"][0]["points"][0]
        assert 122.9 < p["x"] < 123.1 and 41.7 < p["y"] < 41.9


# -- the sample city's proposals (sample_city/sunlight.py, documented in sample_city/README.md) -----------------
def test_sample_city_proposal_that_fails_and_one_that_passes(sample_city_path):
    from sample_city.sunlight import TARGET, request

    with LocalCity(sample_city_path) as city:
        fail = city.analyse("sunlight", request("SL-FAIL"))
        ok = city.analyse("sunlight", request("SL-PASS"))
    assert fail.climate_zone == "I" and fail.day == "2026-01-20" and fail.engine.startswith("prisms+")
    (bf,) = fail.buildings
    (bp,) = ok.buildings
    assert bf.id == bp.id == TARGET
    # without a proposal the slab's lowest sills all get >= 2 h on 大寒日
    assert bf.worst_minutes_without_proposals == bp.worst_minutes_without_proposals >= 120.0
    assert bf.verdict == "fail" and bf.worst_minutes < 120.0 and bf.blocked_by == ["SL-FAIL"]
    assert bp.verdict == "pass" and bp.worst_minutes >= 120.0
    # the proposals shade the same points, the low one for less time
    mf = np.array([p.minutes for p in bf.points])
    mp = np.array([p.minutes for p in bp.points])
    assert (mf <= mp).all() and (mf < mp).any()
    # only the worst point, for large requests: the same point, verdict and building-level answers
    with LocalCity(sample_city_path) as city:
        small = city.analyse("sunlight", request("SL-FAIL", points={"report": "worst"}))
    (bw,) = small.buildings
    assert len(bw.points) == 1 and bw.worst_point == 0 and bw.points[0] == bf.points[bf.worst_point]
    assert (bw.verdict, bw.worst_minutes, bw.blocked_by) == (bf.verdict, bf.worst_minutes, bf.blocked_by)


def test_wall_line_kernel_equals_the_dense_kernel():
    """The per-(step, edge) wall kernel gives the dense per-(column, step, edge) answer on random prisms."""
    from cim.solar.facade import facade_columns
    from cim.solar.shadow import Prisms, shadow_tops, shadow_tops_by_wall

    rng = np.random.default_rng(7)
    lon, lat = lonlat()
    tr = sun_track(lon, lat, dt.date(2026, 1, 20), (480.0, 960.0), 4.0, epsg=4550)
    boxes, roofs = [], []
    for _ in range(60):
        x, y = rng.uniform(-150, 150, 2)
        w, h = rng.uniform(5, 40, 2)
        if abs(x) < 40 + w and abs(y) < 30 + h:
            continue  # keep clear of the target
        boxes.append(box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h))
        roofs.append(rng.uniform(3, 80))
    fp = [[(X0, Y0), (X0 + 30, Y0), (X0 + 30, Y0 + 12), (X0 + 12, Y0 + 12), (X0 + 12, Y0 + 25), (X0, Y0 + 25)]]
    prisms = Prisms.build([*boxes, fp], [*roofs, 20.0], [str(k) for k in range(len(boxes) + 1)])
    cols = facade_columns([fp], tr.horizontal, tr.altitude > 0, spacing=0.7)
    zlow = np.full(len(cols), 0.9)
    fast = shadow_tops_by_wall(cols.origin, cols.wall, cols.facing, zlow, tr.horizontal, tr.tan_altitude, prisms)
    dense = shadow_tops(cols.origin, 0.9, tr.horizontal, tr.tan_altitude, prisms)
    m = cols.facing & np.isfinite(dense)
    assert m.sum() > 1000 and (np.isfinite(fast) == np.isfinite(dense))[cols.facing].all()
    assert np.abs(fast[m] - dense[m]).max() < 1e-3  # the dense kernel runs in float32


# -- the fast path against plain ray casting ---------------------------------------------------------------------
def _random_scene(rng):
    """LOD1 boxes, two LOD2 boxes and a hilly DEM around the target (ground 0 under the buildings)."""
    from cim.terrain import Terrain

    blds = [
        Building(id="T", footprint=box(X0, Y0, X0 + 20, Y0 + 10), ground_elevation=0.0, height=18.0, floors_above=6)
    ]
    for k in range(40):
        x, y = rng.uniform(-120, 120, 2)
        w, h = rng.uniform(4, 30, 2)
        if x < 30 and x + w > -10 and y < 20 and y + h > -10:
            continue  # keep clear of the target
        top = float(rng.uniform(3, 60))
        kw = {"surfaces": lod2_box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h, 0.0, top)} if k < 2 else {}
        blds.append(Building(id=f"O{k}", footprint=box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h), ground_elevation=0.0,
                             height=top, use=BuildingUse.commercial, **kw))  # fmt: skip
    xs = X0 - 400 + 5.0 * np.arange(161)
    ys = Y0 - 400 + 5.0 * np.arange(161)
    gx, gy = np.meshgrid(xs - X0, ys - Y0)
    r = np.hypot(gx, gy)
    z = np.where(r < 150, -1.0, 0.12 * (r - 150) * (1 + 0.5 * np.sin(gx / 37.0) * np.cos(gy / 23.0))) - 1.0
    return blds, Terrain(X0 - 400, Y0 - 400, 5.0, z.astype(np.float32))


def _brute_force(path, res, proposal, step):
    """Sunlit minutes (without, with the proposal) of every point of ``res`` by casting every (point, step) ray
    against one mesh of all buildings and the terrain (and of the proposal), then the same run rule."""
    import trimesh

    from cim.analysis.sunlight import runs
    from cim.mesh import building_meshes, extrusions
    from cim.solar.shadow import intersector, rays_blocked

    with LocalCity(path) as city:
        blds = list(city.store.iter_features("buildings"))
        tm = city.terrain_mesh(max_cells=10**7)
    m = building_meshes(blds)
    local = np.array([X0, Y0, 0.0])
    scene = trimesh.Trimesh(np.concatenate([m.vertices, tm.vertices]) - local,
                            np.concatenate([m.faces, tm.faces + len(m.vertices)]), process=False)  # fmt: skip
    ring = np.array(proposal["footprint"]["coordinates"][0][:-1])[:, ::-1]  # northing, easting -> x, y
    pm = extrusions([[ring]], np.array([0.0]), np.array([proposal["height"]]), np.array([[0, 0, 0, 255]]), ["p"])
    prop = trimesh.Trimesh(pm.vertices - local, pm.faces, process=False)
    lon, lat = lonlat()
    tr = sun_track(lon, lat, dt.date.fromisoformat(res.day), (480.0, 960.0), step, epsg=4550, elevation=0.0)
    pts = [p for b in res.buildings for p in b.points]
    xy = np.array([[p.y, p.x] for p in pts])  # EPSG:4550: northing, easting
    normal = np.where(np.abs(xy[:, 1:2] - Y0) < 1e-6, [[0.0, -1.0]], 0.0)  # south wall, else east or west
    normal[np.abs(xy[:, 0] - X0) < 1e-6] = [-1.0, 0.0]
    normal[np.abs(xy[:, 0] - X0 - 20) < 1e-6] = [1.0, 0.0]
    normal[np.abs(xy[:, 1] - Y0 - 10) < 1e-6] = [0.0, 1.0]
    facing = (normal @ tr.horizontal.T > 1e-12) & (tr.altitude > 0)[None, :]
    r, t = np.nonzero(facing)
    o = np.column_stack([xy[r] + OFFSET * normal[r], [pts[i].z for i in r]]) - local
    sun_wo = np.zeros(facing.shape, bool)
    sun_wo[r, t] = ~rays_blocked(intersector(scene), o, tr.direction[t])
    sun_w = sun_wo.copy()
    sun_w[r, t] &= ~rays_blocked(intersector(prop), o, tr.direction[t])
    min_steps = int(np.ceil(res.min_continuous_min / step - 1e-9))
    return runs(sun_wo, min_steps)[0] * step, runs(sun_w, min_steps)[0] * step


@pytest.mark.parametrize("compiled", [True, False])
def test_fast_path_equals_plain_ray_casting_on_a_random_scene(tmp_path, compiled, monkeypatch):
    """Prism shadow tops, the LOD2 and terrain bounds with rays only below them, and the compiled loops (or their
    numpy forms) give, point by point, the minutes of casting every (point, step) ray with Embree/trimesh."""
    from cim.solar import shadow

    if not compiled:
        monkeypatch.setattr(shadow, "_KERNELS", False)
    elif shadow.kernels() is None:
        pytest.skip("numba not installed")
    rng = np.random.default_rng(21)
    blds, dem = _random_scene(rng)
    path = tmp_path / "rnd.sqlite"
    s = open_store(path, create=True)
    s.init(City(name="沈阳日照测试 (Shenyang sun test)", crs_epsg=4550, urban_population=9_000_000))
    s.write(blds, terrain=dem)
    s.close()
    ring = [[Y0 - 40, X0 + 5], [Y0 - 40, X0 + 25], [Y0 - 30, X0 + 25], [Y0 - 30, X0 + 5], [Y0 - 40, X0 + 5]]
    prop = {"id": "P", "footprint": {"type": "Polygon", "coordinates": [ring]}, "height": 30.0, "ground_elevation": 0.0}
    step = 2.0
    res = run(path, targets={"buildings": ["T"]}, proposals=[prop], step_min=step, points={"floors": "all"})
    assert res.engine.startswith("prisms+")  # LOD2 and terrain rays were cast
    wo, w = _brute_force(path, res, prop, step)
    pts = [p for b in res.buildings for p in b.points]
    ours_wo = np.array([p.minutes_without_proposals for p in pts])
    ours_w = np.array([p.minutes for p in pts])
    assert len(pts) == 40 * 6 and (wo > 0).any() and (wo < 480).any() and (w < wo).any()  # a scene that shades
    np.testing.assert_array_equal(ours_wo, wo)
    np.testing.assert_array_equal(ours_w, w)


def test_terrain_bound_is_above_every_terrain_hit(monkeypatch):
    """The terrain's shadow-top bound (compiled and numpy) is above the height of every ray Embree finds hitting a
    random DEM mesh, and not far above the highest ray that hits (it stays useful as a cull)."""
    import trimesh

    from cim.mesh import terrain_mesh
    from cim.solar import shadow
    from cim.terrain import Terrain

    rng = np.random.default_rng(3)
    z = (rng.uniform(0, 12, (60, 60)) + np.linspace(0, 20, 60)[None, :]).astype(np.float32)
    dem = Terrain(0.0, 0.0, 5.0, z)
    m = terrain_mesh(dem, step=2)
    grid = shadow.TerrainGrid.from_vertices(m.vertices)
    C, T = 400, 24
    origin = rng.uniform(40, 260, (C, 2))
    az = rng.uniform(0, 2 * np.pi, T)
    hz = np.column_stack([np.cos(az), np.sin(az)])
    tan = np.tan(np.radians(rng.uniform(3, 40, T)))
    zc = rng.uniform(5, 35, C)
    bounds = []
    for kern in (None, False):  # compiled (when numba is there), then numpy
        monkeypatch.setattr(shadow, "_KERNELS", kern)
        U = np.full((C, T), -np.inf)
        shadow.terrain_tops(U, origin, zc, np.ones((C, T), bool), hz, tan, grid)
        bounds.append(U)
    monkeypatch.undo()
    np.testing.assert_allclose(bounds[0], bounds[1])
    ray = shadow.intersector(trimesh.Trimesh(m.vertices, m.faces, process=False))
    c, t = np.nonzero(np.ones((C, T), bool))
    d = np.column_stack([hz[t], tan[t]]) / np.sqrt(1 + tan[t] ** 2)[:, None]
    hit = shadow.rays_blocked(ray, np.column_stack([origin[c], zc[c]]), d)
    assert 0.1 < hit.mean() < 0.9
    assert (zc[c][hit] < bounds[0][c, t][hit]).all()
