"""cim.open and cim.connect: one interface, the same answers from a local store and from the service.

The remote city talks to a real uvicorn on loopback (``sample_server``) serving the same sample city that the
local one opens.  Remote coordinates went through GeoJSON (millimetres), so numbers compare within 2 mm;
everything else compares exactly.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import shapely

import cim
from cim.analysis import ComplianceReport, Excavation, ScreeningResult, UndergroundUse
from cim.errors import FeatureNotFound, InvalidParameter, UnknownCollection

TOL = 2e-3  # metres: GeoJSON coordinates are written to the millimetre

# README's regions (CRS84): 200 m x 200 m in the CBD; a 5 m deep trench across 北一路
BLOCK = {
    "type": "Polygon",
    "coordinates": [
        [
            [123.413292, 41.789861],
            [123.415698, 41.789852],
            [123.415709, 41.791653],
            [123.413303, 41.791661],
            [123.413292, 41.789861],
        ]
    ],
}
TRENCH = {
    "type": "Polygon",
    "coordinates": [
        [
            [123.409436, 41.788866],
            [123.409917, 41.788864],
            [123.409918, 41.78908],
            [123.409437, 41.789082],
            [123.409436, 41.788866],
        ]
    ],
}
CBD = (123.405, 41.785, 123.42, 41.795)
PROPOSALS = [
    {
        "id": "A",
        "footprint": {
            "type": "Polygon",
            "coordinates": [
                [
                    [123.4105, 41.7905],
                    [123.4109, 41.7905],
                    [123.4109, 41.7908],
                    [123.4105, 41.7908],
                    [123.4105, 41.7905],
                ]
            ],
        },
        "floors": 34,
        "use": "residential",
    },
    {"id": "B", "footprint": shapely.box(123.4115, 41.7905, 123.4121, 41.7910), "height": 260, "use": "commercial"},
]


def same(a: Any, b: Any, path: str = "") -> None:
    """Deep equality of JSON-like values, numbers within TOL."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {set(a) ^ set(b)}"
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), f"{path}: lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool) and isinstance(b, int | float):
        assert math.isclose(a, b, abs_tol=TOL), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def dump(models: Any) -> Any:
    if isinstance(models, list):
        return [dump(m) for m in models]
    return models.model_dump(mode="json", exclude={"surfaces", "lods"})


@pytest.fixture(scope="module")
def local(sample_city_path):
    with cim.open(sample_city_path) as city:
        yield city


@pytest.fixture(scope="module")
def remote(sample_server):
    with cim.connect(sample_server.url) as city:
        yield city


@pytest.fixture(params=["local", "remote"])
def either(request):
    return request.getfixturevalue(request.param)


# -- the interface ------------------------------------------------------------------------------------------
def test_open_and_connect_give_cities(local, remote, sample_server):
    assert isinstance(local, cim.LocalCity) and isinstance(local, cim.CityModel)
    assert isinstance(remote, cim.RemoteCity) and isinstance(remote, cim.CityModel)
    assert isinstance(cim.open(sample_server.url), cim.RemoteCity)  # cim.open takes a service URL too


def test_local_city_keeps_the_store_api(local):
    """Code written when cim.open returned a Store keeps working."""
    page = local.query("buildings", region=cim.Region.box(534000, 4628200, 534200, 4628400), limit=20)
    assert page.matched > 0 and len(page.features) <= 20
    assert local.get("buildings", "B-TWR-P501").height == 501
    assert local.terrain().sample([[534100.0, 4628300.0]]).shape == (1,)
    assert local.city().crs_epsg == 4550
    assert isinstance(local.store, cim.Store) and local.version() == local.store.version()
    assert isinstance(cim.open_store(local.source), cim.Store)


def test_info(local, remote):
    a, b = local.info(), remote.info()
    assert a == b
    assert a.crs_epsg == 4550 and a.counts["buildings"] == 3347 and a.extent[0] < a.extent[3]


# -- features --------------------------------------------------------------------------------------------------
QUERIES = [
    dict(collection="buildings", bbox=CBD, filter="height > 60", sortby="-height"),
    dict(collection="buildings", filter="use = 'public' AND year_built < 2000", sortby="year_built,-height", limit=7),
    dict(collection="pipes", bbox=(123.409, 41.7885, 123.4105, 41.7895), sortby="utility"),
    dict(collection="pipes", bbox=(4628700, 534300, 4628900, 534500), bbox_crs="EPSG:4550"),  # x, y first
    dict(collection="pipe-nodes", filter="kind = 'valve'", limit=25, offset=10),
    dict(collection="underground-structures", bbox=(123.40, 41.78, 0, 123.43, 41.80, 60)),
]


@pytest.mark.parametrize("q", QUERIES, ids=lambda q: f"{q['collection']}-{len(q)}")
def test_features_match(local, remote, q):
    q = dict(q)
    cid = q.pop("collection")
    if q.get("bbox_crs") == "EPSG:4550":  # city coordinates are given easting, northing
        q["bbox"] = (q["bbox"][1], q["bbox"][0], q["bbox"][3], q["bbox"][2])
    a, b = local.features(cid, **q), remote.features(cid, **q)
    assert a.ids() == b.ids()
    assert a.matched == b.matched and len(a) > 0
    same(dump(list(a)), dump(list(b)))


def test_every_building_pages_through_next_links(local, sample_server):
    with cim.RemoteCity(sample_server.url, page_size=1000) as small_pages:
        b = small_pages.features("buildings", sortby="-height")
    a = local.features("buildings", sortby="-height")
    assert len(b) == b.matched == len(a) == 3347
    assert a.ids() == b.ids()


def test_limit_cuts_across_pages(sample_server, local):
    with cim.RemoteCity(sample_server.url, page_size=40) as small_pages:
        b = small_pages.features("pipes", limit=95, offset=3)
    a = local.features("pipes", limit=95, offset=3)
    assert len(b) == 95 and a.ids() == b.ids() and a.matched == b.matched == 2802


def test_get(local, remote):
    for cid, fid in (("buildings", "B-TWR-P501"), ("pipes", "P-GAS-00235"), ("underground-structures", "U-UTL-1")):
        same(dump(local.get(cid, fid)), dump(remote.get(cid, fid)))
    assert local.get("buildings", "B-TWR-P501").surfaces  # LOD2 surfaces: local only (GeoJSON has none)


def test_errors_are_the_same(local, remote):
    for city in (local, remote):
        with pytest.raises(FeatureNotFound):
            city.get("buildings", "nope")
        with pytest.raises(UnknownCollection):
            city.features("roads")
        with pytest.raises(InvalidParameter) as e:
            city.features("buildings", filter="height >")
        assert e.value.parameter == "filter"
        with pytest.raises(InvalidParameter) as e:
            city.excavation(TRENCH)  # neither depth nor bottom_z
        assert e.value.parameter == "depth"


# -- analyses -------------------------------------------------------------------------------------------------
def test_underground_use(local, remote):
    a, b = local.underground_use(BLOCK), remote.underground_use(BLOCK)
    assert isinstance(a, UndergroundUse) and a.bands[0].occupied_volume > 0
    same(a.model_dump(mode="json"), b.model_dump(mode="json"))
    a, b = local.underground_use(BLOCK, bands=[[0, 5], [5, 12]]), remote.underground_use(BLOCK, bands=[[0, 5], [5, 12]])
    same(a.model_dump(mode="json"), b.model_dump(mode="json"))


def test_excavation(local, remote):
    a, b = local.excavation(TRENCH, depth=5, buffer=0.5), remote.excavation(TRENCH, depth=5, buffer=0.5)
    assert isinstance(a, Excavation) and a.counts["critical"] > 0
    same(a.model_dump(mode="json"), b.model_dump(mode="json"))
    x, y = a.hits[0].location  # city CRS, easting first
    assert 533000 < x < 536000 and 4627000 < y < 4630000


def test_excavation_region_in_city_crs(local, remote):
    box = (534250.0, 4628650.0, 534290.0, 4628680.0)  # easting, northing
    a = local.excavation(box, crs="EPSG:4550", depth=4)
    b = remote.excavation(box, crs="http://www.opengis.net/def/crs/EPSG/0/4550", depth=4)
    same(a.model_dump(mode="json"), b.model_dump(mode="json"))


def test_pipe_compliance(local, remote):
    a, b = local.pipe_compliance(), remote.pipe_compliance()
    assert isinstance(a, ComplianceReport) and len(a.violations) >= 8
    same(a.model_dump(mode="json"), b.model_dump(mode="json"))
    a, b = local.pipe_compliance(CBD), remote.pipe_compliance(CBD)
    same(a.model_dump(mode="json"), b.model_dump(mode="json"))


def test_screen_high_rise(local, remote):
    a, b = local.screen_high_rise(), remote.screen_high_rise()
    assert len(a) == 3347 and isinstance(a[0], ScreeningResult)
    assert dump(a) == dump(b)
    # store buildings are existing: over a new-construction limit they get exceeds-new-build-limit (issue 15)
    q = dict(bbox=CBD, verdict=["not-allowed", "restricted", "exceeds-new-build-limit"], min_height=50)
    a, b = local.screen_high_rise(**q), remote.screen_high_rise(**q)
    assert a and {r.verdict.value for r in a} == {"exceeds-new-build-limit"}
    assert dump(a) == dump(b)
    a, b = (
        local.screen_high_rise(profile="anshan", min_height=100),
        remote.screen_high_rise(profile="anshan", min_height=100),
    )
    assert dump(a) == dump(b)


def test_screen_proposals(local, remote):
    a, b = local.screen_proposals(PROPOSALS), remote.screen_proposals(PROPOSALS)
    assert [r.verdict.value for r in a] == ["not-allowed", "restricted"]
    assert dump(a) == dump(b)
    with pytest.raises(InvalidParameter) as e:
        remote.screen_proposals([{"id": "C", "footprint": PROPOSALS[0]["footprint"], "use": "residential"}])
    assert e.value.parameter == "proposals.0.height"
    with pytest.raises(InvalidParameter) as e:
        local.screen_proposals([{"id": "C", "footprint": PROPOSALS[0]["footprint"], "use": "residential"}])
    assert e.value.parameter == "proposals.0.height"


# -- tables -------------------------------------------------------------------------------------------------------
def test_frames(either):
    pd = pytest.importorskip("pandas")
    towers = either.features("buildings", filter="height > 100", sortby="-height")
    df = towers.to_frame()
    assert isinstance(df, pd.DataFrame) and list(df.index) == towers.ids()
    assert {"height", "use", "geometry"} <= set(df.columns) and df["height"].is_monotonic_decreasing
    assert df.geometry.iloc[0].area > 0
    pipes = cim.frame(either.features("pipes", limit=5))
    assert pipes.geometry.iloc[0].has_z
    assert len(cim.frame(either.underground_use(BLOCK))) == 4
    hits = cim.frame(either.excavation(TRENCH, depth=5, buffer=0.5))
    assert {"severity", "distance", "x", "y"} <= set(hits.columns)
    v = cim.frame(either.pipe_compliance())
    assert {"rule", "measured", "required", "features"} <= set(v.columns) and len(v) >= 8
    s = cim.frame(either.screen_high_rise(min_height=100))
    assert {"verdict", "height", "height_class", "height_lidar", "rules"} <= set(s.columns)


def test_frames_are_the_same(local, remote):
    pytest.importorskip("pandas")
    a = cim.frame(local.features("buildings", bbox=CBD, limit=50), geometry=False)
    b = cim.frame(remote.features("buildings", bbox=CBD, limit=50), geometry=False)
    assert a.equals(b)
