"""The sample city on SQLite and on PostGIS gives the same answers, in the library and over HTTP."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim.collections import COLLECTIONS
from cim.store import Region, open_store
from cim.store.copy import copy_store


@pytest.fixture(scope="module")
def pair(sample_city_path, pg_cluster):
    lite = open_store(sample_city_path)
    url = f"{pg_cluster.url}?schema=parity"
    pg = open_store(url, create=True)
    copy_store(lite, pg, overwrite=True)
    yield lite, pg, url
    lite.close()
    pg.close()


def test_counts_bounds_terrain(pair):
    lite, pg, _ = pair
    assert lite.counts() == pg.counts()
    assert lite.city() == pg.city()
    for cid in COLLECTIONS:
        np.testing.assert_allclose(lite.bounds(cid), pg.bounds(cid), atol=1e-6)
    np.testing.assert_array_equal(lite.terrain().z, pg.terrain().z)
    a, b = lite.building_points(), pg.building_points()
    assert (a is None and b is None) or np.array_equal(a, b)


@pytest.mark.parametrize("cid", list(COLLECTIONS))
def test_same_regions_same_features(pair, cid):
    lite, pg, _ = pair
    b = lite.bounds(cid)
    rng = np.random.default_rng(11)
    for _ in range(8):
        w, h = rng.uniform(50, 600, 2)
        x, y = rng.uniform(b[0], b[3] - w), rng.uniform(b[1], b[4] - h)
        zmin = None if rng.random() < 0.5 else float(rng.uniform(b[2], b[5]))
        region = Region.box(x, y, x + w, y + h, zmin=zmin)
        p1, p2 = lite.query(cid, region=region, limit=50, offset=3), pg.query(cid, region=region, limit=50, offset=3)
        assert p1.matched == p2.matched
        assert p1.features == p2.features


def test_same_pages_over_http(pair, sample_city_path):
    _, _, url = pair
    bodies = []
    for store in (str(sample_city_path), url):
        with TestClient(create_app(Settings(store=store))) as c:
            got = []
            for path in (
                "/collections/buildings/items?limit=200&offset=1000",
                "/collections/pipes/items?bbox=123.40,41.78,123.42,41.79&limit=500",
                "/collections/underground-structures/items?limit=1000",
            ):
                body = c.get(path).json()
                body.pop("timeStamp")
                got.append(body)
            bodies.append(got)
    assert bodies[0] == bodies[1]
