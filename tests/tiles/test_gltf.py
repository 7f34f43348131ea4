"""GLB encoding: layout, alignment, feature ids and property tables; one feature's georeferenced GLB."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from pyproj import Transformer

from tiles.feature import feature_glb
from tiles.gltf import Column, FeatureTable, encode_glb, read_accessor, read_glb, read_property_table

from .. import common
from .conftest import glb_vertices, validate_glbs

ECEF_TO_LLH = Transformer.from_crs(4978, 4979, always_xy=True)
LONLAT_TO_CITY = Transformer.from_crs(4326, 4550, always_xy=True)


def _table() -> FeatureTable:
    ids = np.array(["a", "街道-1"], dtype=object)
    height = np.array([12.5, None], dtype=object)
    year = np.array([None, 1999], dtype=object)
    return FeatureTable(
        "thing", [Column("id", "STRING", ids), Column("height", "FLOAT64", height), Column("year", "INT32", year)]
    )


def _quad_glb(**kw) -> bytes:
    pos = np.array([[0, 0, 0], [1, 0, 0], [1, 0, -1], [0, 0, -1], [2, 0, 0], [3, 0, 0], [3, 0, -1]], float)
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6]])
    normals = np.tile([0.0, 1.0, 0.0], (7, 1))
    colors = np.full((7, 4), 200, np.uint8)
    return encode_glb(
        pos, faces, normals=normals, colors=colors, feature=np.array([0, 0, 0, 0, 1, 1, 1]), table=_table(), **kw
    )


def test_glb_layout_is_aligned_for_64_bit_properties():
    data = _quad_glb(translation=[10.0, 2.0, -3.0])
    magic, version, total = struct.unpack_from("<4sII", data)
    assert (magic, version, total) == (b"glTF", 2, len(data))
    jlen = struct.unpack_from("<I", data, 12)[0]
    assert (20 + jlen) % 8 == 0 and (28 + jlen) % 8 == 0  # the BIN data starts 8-byte aligned in the file
    doc, binary = read_glb(data)
    assert len(binary) % 8 == 0 and doc["buffers"][0]["byteLength"] == len(binary)
    assert all(v["byteOffset"] % 8 == 0 for v in doc["bufferViews"])
    prim = doc["meshes"][0]["primitives"][0]
    assert prim["extensions"]["EXT_mesh_features"]["featureIds"] == [
        {"featureCount": 2, "attribute": 0, "propertyTable": 0}
    ]
    assert set(doc["extensionsUsed"]) == {"EXT_mesh_features", "EXT_structural_metadata"}
    assert "extensionsRequired" not in doc
    pos = read_accessor(doc, binary, prim["attributes"]["POSITION"])
    assert doc["accessors"][prim["attributes"]["POSITION"]]["max"] == [3, 0, 0]
    assert pos.dtype == np.float32 and doc["nodes"][0]["translation"] == [10.0, 2.0, -3.0]
    assert read_accessor(doc, binary, prim["indices"]).dtype == np.uint16


def test_property_table_round_trip_with_no_data():
    doc, binary = read_glb(_quad_glb())
    assert read_property_table(doc, binary) == {"id": ["a", "街道-1"], "height": [12.5, None], "year": [None, 1999]}
    props = doc["extensions"]["EXT_structural_metadata"]["schema"]["classes"]["thing"]["properties"]
    assert props["height"] == {"type": "SCALAR", "componentType": "FLOAT64", "noData": -9999.0}
    assert props["id"] == {"type": "STRING"}


def test_the_validator_accepts_the_writer(tmp_path):
    p = tmp_path / "quad.glb"
    p.write_bytes(_quad_glb())
    big = tmp_path / "big.glb"  # uint32 indices
    n = 70_000
    pos = np.column_stack([np.arange(n) % 100, np.zeros(n), -(np.arange(n) // 100)]).astype(float)
    faces = np.column_stack([np.arange(n - 2), np.arange(1, n - 1), np.arange(2, n)])
    big.write_bytes(encode_glb(pos, faces))
    report = validate_glbs([p, big])
    assert all(r["numErrors"] == 0 and r["numWarnings"] == 0 for r in report.values()), report


@pytest.mark.parametrize(
    "feature", common.all_features()[::7] + common.structures() + common.pipes()[-1:], ids=lambda f: f.id
)
def test_one_feature_glb_is_valid_and_georeferenced(feature, tmp_path):
    data = feature_glb(feature, 4550, common.terrain())
    assert data is not None
    pos, fid, table, doc = glb_vertices(data)
    assert table["id"] == [feature.id] and set(fid.tolist()) == {0}
    geo = doc["asset"]["extras"]["georeference"]
    enu = np.column_stack([pos[:, 0], -pos[:, 2], pos[:, 1]])
    m = np.asarray(geo["enu_to_ecef"]).reshape(4, 4).T
    ecef = enu @ m[:3, :3].T + m[:3, 3]
    lon, lat, h = ECEF_TO_LLH.transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
    x, y = LONLAT_TO_CITY.transform(lon, lat)
    from cim.mesh import feature_meshes

    want = feature_meshes([feature]).vertices
    assert np.abs(np.column_stack([x, y, h]) - want).max() < 0.01
    assert pos[:, 1].min() == pytest.approx(0, abs=0.03)  # the origin at the lowest point (up to the curvature)
    (tmp_path / "f.glb").write_bytes(data)
    report = validate_glbs([tmp_path / "f.glb"])
    assert list(report.values())[0]["numErrors"] == 0
