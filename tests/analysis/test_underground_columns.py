"""Underground use from the store's columns equals the old path through feature models, on the sample city.

The analysis builds its solids from ``store.columns`` (no models); the old path decoded every candidate into its
pydantic model and built the solids with ``Solids.from_features``.  Both must give the same arrays, in the same
order, and so the same answer to the last digit, on SQLite and on PostGIS.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import shapely

from cim.analysis.solids import UNDERGROUND, Solids, ground_sampler, underground_solids
from cim.analysis.underground import DEFAULT_BANDS, occupancy, underground_use
from cim.store import Region, open_store


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def sample_store(request, sample_city_path):
    src = open_store(sample_city_path)
    if request.param == "sqlite":
        yield src
        src.close()
        return
    cluster = request.getfixturevalue("pg_cluster")
    dst = open_store(f"{cluster.url}?schema=ug_{uuid.uuid4().hex[:10]}", create=True)
    dst.init(src.city())
    dst.write([f for cid in UNDERGROUND for f in src.iter_features(cid)], terrain=src.terrain())
    src.close()
    yield dst
    dst.close()


def _windows(store, whole: bool = False) -> list[shapely.Geometry]:
    """200 m windows at random over the pipes, rotated ones across underground structures, and (``whole``) the
    whole district."""
    rng = np.random.default_rng(5)
    x0, y0, _, x1, y1, _ = store.bounds("pipes")
    out = [
        shapely.box(x, y, x + 200, y + 200)
        for x, y in zip(rng.uniform(x0, x1 - 200, 4), rng.uniform(y0, y1 - 200, 4), strict=True)
    ]
    for s in store.columns("underground-structures", ["kind"]).geoms[:40:8]:
        c = shapely.centroid(s)
        out.append(shapely.affinity.rotate(shapely.box(c.x - 90, c.y - 60, c.x + 90, c.y + 60), 27, origin=c))
    if whole:
        out.append(shapely.box(x0 - 10, y0 - 10, x1 + 10, y1 + 10))
    return out


def _old_solids(store, region: Region) -> Solids:
    return Solids.from_features([f for cid in UNDERGROUND for f in store.iter_features(cid, region=region)])


def test_columns_give_the_same_solids(sample_store):
    n = 0
    for poly in _windows(sample_store, whole=True):
        region = Region(poly, 20.0, 60.0)
        new, old = underground_solids(sample_store, region), _old_solids(sample_store, region)
        assert vars(new.owners) == vars(old.owners)
        for part in ("swept", "chambers"):
            for key, v in vars(getattr(old, part)).items():
                np.testing.assert_array_equal(getattr(getattr(new, part), key), v, err_msg=f"{part}.{key}")
        assert len(new.prisms) == len(old.prisms)
        assert shapely.equals_exact(new.prisms.polygons, old.prisms.polygons, tolerance=0).all()
        for key in ("bottom", "top", "owner"):
            np.testing.assert_array_equal(getattr(new.prisms, key), getattr(old.prisms, key))
        n += len(old.owners)
        kinds = set(new.owners.kinds)
    assert n > 500 and {"pipe", "manhole", "basement", "tunnel", "station"} <= kinds  # every kind of solid


def test_underground_use_equals_the_old_path(sample_store):
    ground = ground_sampler(sample_store.terrain())
    for poly in _windows(sample_store):
        res = underground_use(sample_store, poly)
        gmin, gmax = ground.bounds(*poly.bounds)  # the z filter underground_use derives from the DEM
        region = Region(poly, gmin - DEFAULT_BANDS[-1][1] - 1.0, gmax + 1.0)
        old = occupancy(_old_solids(sample_store, region), poly, DEFAULT_BANDS, ground=ground)
        assert res.bands == old
        z = (gmin - 12.0, gmin - 2.0)
        res = underground_use(sample_store, poly, z_min=z[0], z_max=z[1])
        old = occupancy(
            _old_solids(sample_store, Region(poly, *z)), poly, [(z[1], z[0])], reference="elevation", ground=ground
        )
        assert res.bands == old
    assert any(b.occupied_volume > 0 for b in res.bands)


def test_rectangle_clipping_equals_geos(monkeypatch):
    """Segments clipped to an axis-aligned rectangle by Liang-Barsky: the same parts as GEOS's intersection,
    including segments along the edges, through a corner, vertical ones and ones that only touch."""
    from cim.analysis import solids

    rng = np.random.default_rng(3)
    a, b = rng.uniform(0, 130, (3000, 3)), rng.uniform(0, 130, (3000, 3))
    a[:40, 0] = b[:40, 0] = 10.0  # along the west edge
    a[40:80, 1] = b[40:80, 1] = 70.0  # along the north edge
    b[80:120, :2] = a[80:120, :2]  # vertical
    a[120:130, :2], b[120:130, :2] = (10, 20), (10, 20)  # vertical on the corner
    a[130:140, :2], b[130:140, :2] = (0, 20), (10, 20)  # touching the corner: no length inside
    a[0, :2], b[0, :2], a[40, :2], b[40, :2], a[80, :2] = (10, 30), (10, 60), (0, 70), (100, 70), (50, 50)
    b[80, :2] = a[80, :2]
    box = shapely.box(10, 20, 110, 70)
    assert solids._as_box(box) == (10, 20, 110, 70)
    assert solids._as_box(shapely.affinity.rotate(box, 5)) is None
    fast = solids.clip_segments(a, b, box)
    monkeypatch.setattr(solids, "_as_box", lambda polygon: None)
    slow = solids.clip_segments(a, b, box)
    i, j = np.argsort(fast[2], kind="stable"), np.argsort(slow[2], kind="stable")
    np.testing.assert_array_equal(fast[2][i], slow[2][j])
    assert 0 < len(i) < len(a) and {0, 40, 80, 120}.issubset(fast[2].tolist()) and 130 not in fast[2].tolist()
    np.testing.assert_allclose(fast[0][i], slow[0][j], rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast[1][i], slow[1][j], rtol=0, atol=1e-9)


def test_ground_bounds_hold_every_sample():
    """The ground sampler's bounds over a box hold every elevation it returns there (no-data cells included)."""
    from cim.terrain import Terrain

    rng = np.random.default_rng(4)
    z = rng.normal(50, 5, (40, 60)).astype(np.float32)
    z[10:14, 20:25] = np.nan
    ground = ground_sampler(Terrain(1000.0, 2000.0, 10.0, z))
    for _ in range(50):
        x0, y0 = rng.uniform(900, 1650), rng.uniform(1900, 2400)
        w, h = rng.uniform(1, 200, 2)
        lo, hi = ground.bounds(x0, y0, x0 + w, y0 + h)
        g = ground(np.column_stack([rng.uniform(x0, x0 + w, 2000), rng.uniform(y0, y0 + h, 2000)]))
        assert lo <= g.min() and g.max() <= hi
        assert hi - lo < 60  # a bound over the box, not over the whole DEM


def test_rectangle_footprints_cut_in_numpy_equal_geos():
    """Footprint cells in a rectangular region: rectangles clipped and cut in numpy give the cells GEOS gives
    (areas and centroids per footprint); a rotated footprint and an L-shape take the GEOS path."""
    from cim.analysis.solids import are_boxes, grid_pieces
    from cim.analysis.underground import _prism_cells

    rng = np.random.default_rng(6)
    xy, wh = rng.uniform(-50, 250, (60, 2)), rng.uniform(3, 45, (60, 2))
    polys = list(shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + wh[:, 0], xy[:, 1] + wh[:, 1]))
    polys += [
        shapely.affinity.rotate(polys[0], 20),
        shapely.Polygon([(0, 0), (30, 0), (30, 10), (10, 10), (10, 30), (0, 30)]),
    ]
    polys = np.array(polys, dtype=object)
    assert are_boxes(polys).tolist() == [True] * 60 + [False, False]
    region = shapely.box(0, 0, 200, 150)
    area, centre, owner = _prism_cells(polys, region, 10.0)
    hit = np.flatnonzero(shapely.intersects(region, polys))
    pieces, which = grid_pieces(shapely.intersection(polys[hit], region), 10.0)
    ref_area, ref_owner = shapely.area(pieces), hit[which]
    ref_centre = shapely.get_coordinates(shapely.centroid(pieces))
    assert len(area) == len(ref_area) > 100
    for k in range(len(polys)):
        a, b = np.sort(area[owner == k]), np.sort(ref_area[ref_owner == k])
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
        c, d = np.round(centre[owner == k], 6), np.round(ref_centre[ref_owner == k], 6)
        c, d = c[np.lexsort(c.T)], d[np.lexsort(d.T)]
        np.testing.assert_allclose(c, d, rtol=0, atol=1e-6)
