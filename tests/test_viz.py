"""cim.viz: 3-D views of a local and a remote city, rendered off screen, and what they show."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

pv = pytest.importorskip("pyvista")

import cim  # noqa: E402
import cim.viz  # noqa: E402
from cim.mesh import building_meshes  # noqa: E402
from cim.model import Building  # noqa: E402

from .test_city import TRENCH  # noqa: E402

CBD = (123.4115, 41.789, 123.4145, 41.7912)


@pytest.fixture(scope="module")
def local(sample_city_path):
    with cim.open(sample_city_path) as city:
        yield city


@pytest.fixture(scope="module")
def remote(sample_server):
    with cim.connect(sample_server.url) as city:
        yield city


def not_blank(img: np.ndarray) -> None:
    assert img.std() > 20
    assert len(np.unique(img.reshape(-1, 3)[::5], axis=0)) > 50
    assert (np.abs(img.astype(int) - img[0, 0]).sum(axis=2) > 30).mean() > 0.05


def test_to_polydata_shifts_to_the_origin():
    b = Building(
        id="b",
        footprint=[[(534000, 4628000), (534010, 4628000), (534010, 4628010), (534000, 4628010)]],
        ground_elevation=40,
        height=9,
    )
    poly = cim.viz.to_polydata(building_meshes([b]), np.array([534000.0, 4628000.0, 0.0]))
    assert poly.points.dtype == np.float32 and poly.n_cells == 12
    assert np.allclose(poly.bounds, (0, 10, 0, 10, 40, 49))
    assert poly.point_data["rgba"].shape == (poly.n_points, 4)


@pytest.mark.parametrize("kind", ["local", "remote"])
def test_screenshot_of_the_cbd(kind, request, tmp_path):
    city = request.getfixturevalue(kind)
    p = cim.viz.plot(city, bbox=CBD, color_by="height", off_screen=True, window_size=(640, 400))
    assert set(p.cim_features) == {"buildings"} and len(p.cim_features["buildings"]) > 10
    assert np.all(np.abs(p.cim_origin[:2] - [534300, 4628400]) < 1500)  # a local origin near the view
    bounds = p.bounds  # local metres, not millions
    assert max(abs(v) for v in bounds[:4]) < 2000
    img = p.screenshot(str(tmp_path / "cbd.png"), return_img=True)
    p.close()
    assert img.shape == (400, 640, 3)
    not_blank(img)


def test_local_and_remote_views_agree(local, remote):
    """The same scene from both: remote LOD2 buildings come as GLB, so the images nearly match."""
    imgs = []
    for city in (local, remote):
        p = cim.viz.plot(city, bbox=CBD, layers=["buildings"], off_screen=True, window_size=(480, 320), legend=False)
        imgs.append(p.screenshot(return_img=True).astype(int))
        p.close()
    differ = (np.abs(imgs[0] - imgs[1]).sum(axis=2) > 60).mean()
    assert differ < 0.02, f"{differ:.1%} of pixels differ"


def test_remote_terrain_comes_from_3d_tiles(local, remote):
    box = local.bbox_polygon(CBD).bounds
    a, b = local.terrain_mesh(box), remote.terrain_mesh(box)
    assert a is not None and b is not None and len(b.faces)
    z_local = local.terrain().sample(b.vertices[b.faces].mean(axis=1)[:200, :2])
    z_remote = b.vertices[b.faces].mean(axis=1)[:200, 2]
    ok = np.isfinite(z_local)
    assert ok.any() and np.abs(z_local[ok] - z_remote[ok]).max() < 2.5  # a coarse level of the DEM


def test_excavation_view(local, tmp_path):
    pit = local.excavation(TRENCH, depth=5, buffer=0.5)
    img = cim.viz.screenshot(local, tmp_path / "pit.png", highlight=pit, region=TRENCH, window_size=(640, 400))
    not_blank(img)
    red = ((img[..., 0] > 150) & (img[..., 1] < 120) & (img[..., 2] < 120)).mean()
    assert red > 0.005  # the pit and the critical hits


def test_screening_and_compliance_views(local, tmp_path):
    results = local.screen_high_rise(bbox=CBD)
    img = cim.viz.screenshot(local, tmp_path / "s.png", bbox=CBD, highlight=results, window_size=(480, 320))
    not_blank(img)
    report = local.pipe_compliance(CBD)
    p = cim.viz.plot(local, bbox=CBD, highlight=report, off_screen=True, window_size=(480, 320))
    assert "pipes" in p.cim_features and "buildings" not in p.cim_features
    not_blank(p.screenshot(return_img=True))
    p.close()


def test_bad_layer(local):
    with pytest.raises(ValueError, match="unknown layers"):
        cim.viz.plot(local, layers=["roads"], off_screen=True)


def test_sunlight_points_and_view(local, tmp_path):
    """A sunlight result as PolyData (one point per sill point, scalars = its minutes, at its place) and the view
    of it, rendered off screen with the points coloured by hours."""
    from sample_city.sunlight import CRS, request

    res = local.analyse("sunlight", request("SL-FAIL", points={"floors": "all"}))
    pts = [p for b in res.buildings for p in b.points]
    poly = cim.viz.sunlight_points(res, local.crs_epsg, crs=CRS)
    assert poly.n_points == len(pts) > 100
    np.testing.assert_array_equal(poly.point_data["minutes"], [p.minutes for p in pts])
    np.testing.assert_allclose(poly.point_data["hours"], np.array([p.minutes for p in pts]) / 60.0)
    np.testing.assert_array_equal(poly.point_data["floor"], [p.floor for p in pts])
    # at the right place: EPSG:4550 is (northing, easting); the points lie on the target's walls, at their z
    o = np.array([534000.0, 4628000.0, 0.0])
    xyz = np.asarray(cim.viz.sunlight_points(res, local.crs_epsg, crs=CRS, origin=o).points, float) + o
    wall = shapely.Polygon(local.store.get("buildings", res.buildings[0].id).footprint[0]).exterior
    assert max(wall.distance(shapely.Point(*q)) for q in xyz[:, :2]) < 0.05
    assert np.abs(xyz[:, 2] - [p.z for p in pts]).max() < 1e-3
    p = cim.viz.plot_sunlight(local, res, crs=CRS, off_screen=True, window_size=(480, 320))
    assert p.cim_sunlight.n_points == len(pts)
    img = p.screenshot(str(tmp_path / "sun.png"), return_img=True)
    p.close()
    not_blank(img)
