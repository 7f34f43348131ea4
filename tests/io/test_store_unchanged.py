"""A failed import leaves the store byte-for-byte as it was: a checksum over every feature document,
the terrain and the building points, before and after, for malformed files of every format."""

from __future__ import annotations

import hashlib

import pytest

from cim.collections import COLLECTIONS
from cim.errors import CIMError
from cim.io import import_files
from cim.model import City
from cim.store import open_store

from ..conftest import shared_data


def checksum(store) -> str:
    h = hashlib.sha256()
    for cid in COLLECTIONS:
        for f in store.iter_features(cid):
            h.update(f.model_dump_json().encode())
    t = store.terrain()
    h.update(b"" if t is None else t.to_bytes())
    p = store.building_points()
    h.update(b"" if p is None else p.tobytes())
    h.update(str(store.version()).encode())
    return h.hexdigest()


def _cut(data: bytes) -> bytes:
    return data[: len(data) * 2 // 3]


# (file under ../shared/data, name to write, how to break it)
BROKEN = [
    (("buildings", "delft.json"), "delft_cut.json", _cut),
    (
        ("buildings", "multi_lod.json"),
        "multi_badindex.json",
        lambda d: d.replace(b'"boundaries":[[[[0', b'"boundaries":[[[[99999999', 1),
    ),
    (("buildings", "Berlin_Moabit_1Bldg_v2.gml"), "berlin_cut.gml", _cut),
    (
        ("buildings", "52397519_bldg_6697_op.gml"),
        "plateau_srs.gml",
        lambda d: d.replace(b"EPSG/0/6697", b"EPSG/0/999999"),
    ),
    (
        ("pipes", "Net1.inp"),
        "net1_badnode.inp",
        lambda d: d.replace(b" 10              \t10              \t11", b" 10              \t10              \t99", 1),
    ),
    (("pipes", "Net1.inp"), "net1_nan.inp", lambda d: d.replace(b"710", b"nan", 1)),
    (("pipes", "bellinge_small.inp"), "bellinge_units.inp", lambda d: d.replace(b"LPS", b"XYZ", 1)),
    (("pipes", "bellinge_small_edges.geojson"), "edges_cut.geojson", _cut),
    (("terrain", "autzen_trim.las"), "autzen_cut.las", _cut),
    (("terrain", "ahn3_cropped_2.laz"), "ahn3_cut.laz", _cut),
]


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A store in EPSG:28992 holding Delft's buildings and AHN3 terrain and building points."""
    path = tmp_path_factory.mktemp("unchanged") / "c.sqlite"
    s = open_store(path, create=True)
    s.init(City(name="Delft", crs_epsg=28992, vertical_datum="EPSG:5709"))
    import_files(
        s, [shared_data("buildings", "delft.json"), shared_data("terrain", "ahn3_cropped_2.laz")], crs="EPSG:7415"
    )
    yield s
    s.close()


@pytest.mark.shared_data
@pytest.mark.parametrize("source, name, breaker", BROKEN, ids=[b[1] for b in BROKEN])
def test_failed_import_leaves_store_unchanged(filled, tmp_path, source, name, breaker):
    data = shared_data(*source).read_bytes()
    broken = breaker(data)
    assert broken != data, "the breaker changed nothing"
    path = tmp_path / name
    path.write_bytes(broken)
    before = checksum(filled)
    good = tmp_path / "good.geojson"  # a valid file listed first must not land either
    good.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "id": "extra", '
        '"properties": {"height": 5, "ground_z": 0}, "geometry": {"type": "Polygon", "coordinates": '
        "[[[4.37, 52.0], [4.3701, 52.0], [4.3701, 52.0001], [4.37, 52.0]]]}}]}"
    )
    with pytest.raises(CIMError) as exc:
        import_files(
            filled, [good, path], crs="EPSG:32632" if name.startswith(("net1", "bellinge", "edges")) else "EPSG:7415"
        )
    assert exc.value.where.get("file") == name, exc.value.where
    assert checksum(filled) == before
