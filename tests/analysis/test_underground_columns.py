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

from cim.analysis.solids import UNDERGROUND, Solids, ground_range, ground_sampler, underground_solids
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
        gmin, gmax = ground_range(ground, poly)
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
