"""The sample city over real HTTP (uvicorn on loopback): GDAL's OGC API - Features driver,
bbox answers checked against an independent shapely computation, paging through next links."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from cim.store import open_store

OGR = shutil.which("ogrinfo")
needs_gdal = pytest.mark.skipif(
    OGR is None, reason="GDAL's ogrinfo is not installed (apt-get install gdal-bin; `make test` does it where it can)"
)
COLLECTIONS = ["buildings", "pipes", "pipe-nodes", "underground-structures"]


@pytest.fixture(scope="module")
def sample(sample_city_path):
    store = open_store(sample_city_path)
    yield store
    store.close()


@needs_gdal
@pytest.mark.gdal
def test_ogrinfo_lists_the_four_collections(sample_server):
    out = subprocess.run(
        ["ogrinfo", "-ro", "-q", f"OAPIF:{sample_server.url}"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    for cid in COLLECTIONS:
        assert cid in out, out


@needs_gdal
@pytest.mark.gdal
def test_ogr_reads_every_building(sample_server, sample, tmp_path):
    dest = tmp_path / "buildings.geojson"
    subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", str(dest), f"OAPIF:{sample_server.url}", "buildings", "-oo", "PAGE_SIZE=1000"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    got = json.loads(dest.read_text())["features"]
    ids = [f["properties"].get("id") or f.get("id") for f in got]
    expected = [b.id for b in sample.iter_features("buildings")]
    assert sorted(ids) == sorted(expected)
    assert len(ids) == len(set(ids)) == len(expected)
    # heights survive the trip
    heights = {f["properties"].get("id") or f.get("id"): f["properties"]["height"] for f in got}
    for b in sample.iter_features("buildings"):
        assert heights[b.id] == pytest.approx(b.height, abs=1e-9)


@needs_gdal
@pytest.mark.gdal
def test_ogr_reads_3d_pipes(sample_server, sample):
    out = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{sample_server.url}", "pipes"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "Line String" in out or "LineString" in out, out
    assert f"Feature Count: {sample.counts()['pipes']}" in out, out


def _lonlat_shapes(store, cid):
    """Every feature's 2-D geometry in CRS84, computed here with pyproj + shapely only."""
    fwd = Transformer.from_crs(store.city().crs_epsg, 4326, always_xy=True)
    ids, geoms = [], []
    for f in store.iter_features(cid):
        if getattr(f, "footprint", None):
            g = shapely.Polygon(f.footprint[0], f.footprint[1:])
        elif getattr(f, "centreline", None):
            g = shapely.LineString([p[:2] for p in f.centreline])
        else:
            g = shapely.Point(f.position[:2])
        ids.append(f.id)
        geoms.append(shapely.transform(g, lambda xy: np.column_stack(fwd.transform(xy[:, 0], xy[:, 1]))))
    return np.array(ids), np.array(geoms, dtype=object)


@pytest.mark.parametrize("cid", COLLECTIONS)
def test_bbox_matches_independent_shapely(sample_server, sample, cid):
    ids, geoms = _lonlat_shapes(sample, cid)
    lon0, lat0, lon1, lat1 = shapely.total_bounds(geoms)
    rng = np.random.default_rng(7)
    with httpx.Client(base_url=sample_server.url, timeout=60) as http:
        for _ in range(6):
            w, h = rng.uniform(0.05, 0.4) * (lon1 - lon0), rng.uniform(0.05, 0.4) * (lat1 - lat0)
            x, y = rng.uniform(lon0, lon1 - w), rng.uniform(lat0, lat1 - h)
            box = (x, y, x + w, y + h)
            expected = set(ids[shapely.intersects(geoms, shapely.box(*box))])
            bbox = ",".join(repr(float(v)) for v in box)
            r = http.get(f"/collections/{cid}/items", params={"bbox": bbox, "limit": 10000})
            body = r.json()
            got = [f["id"] for f in body["features"]]
            assert set(got) == expected and len(got) == len(expected)
            assert body["numberMatched"] == len(expected)


def test_paging_over_http_visits_each_once(sample_server, sample):
    seen = []
    url = f"{sample_server.url}/collections/buildings/items?limit=500"
    with httpx.Client(timeout=60) as http:
        while url:
            body = http.get(url).json()
            seen += [f["id"] for f in body["features"]]
            url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert seen == [b.id for b in sample.iter_features("buildings")]
