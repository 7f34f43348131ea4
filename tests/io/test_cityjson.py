"""CityJSON reader: the real files of ../shared/data/buildings (Delft LOD1 without semantics, Zurich LOD2
carried by building parts, multi-LOD 3D BAG without a CRS), a CityJSONSeq and a tunnel derived from them, and
broken files derived from the real ones (each refused naming the file and the object or line, leaving the
store untouched)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely

from cim.io import ImportContext, ImportError_, import_files, read
from cim.io.registry import detect
from cim.model import Building, City, StructureKind, SurfaceType, UndergroundStructure
from cim.store import open_store

from ..conftest import shared_data

NL = City(name="Delft", crs_epsg=28992, vertical_datum="EPSG:5709")  # RD New + NAP
CH = City(name="Zurich", crs_epsg=2056, vertical_datum="EPSG:5728")  # LV95 + LN02


def data(name: str) -> Path:
    return shared_data("buildings", name)


def load(path: Path, city: City, crs: str | None = None):
    return read(path, ImportContext(city=city, crs=crs))


def raw_doc(name: str) -> dict:
    return json.loads(data(name).read_text())


def raw_vertices(doc: dict) -> np.ndarray:
    t = doc["transform"]
    return np.asarray(doc["vertices"], float) * t["scale"] + t["translate"]


def flat_indices(boundaries) -> np.ndarray:
    return np.fromiter(_walk(boundaries), dtype=int)


def _walk(x):
    if isinstance(x, list):
        for y in x:
            yield from _walk(y)
    else:
        yield x


def footprint_shape(b) -> shapely.Polygon:
    return shapely.Polygon(b.footprint[0], b.footprint[1:])


def new_store(tmp_path: Path, city: City):
    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(city)
    return store


# -- Delft: CityJSON 2.0, LOD1 solids, no semantics -------------------------------------------------------


@pytest.mark.shared_data
def test_delft_lod1_solids():
    path = data("delft.json")
    result = load(path, NL)
    assert result.format == "cityjson" and result.source_crs == "https://www.opengis.net/def/crs/EPSG/0/7415"
    buildings = result.features
    assert len(buildings) == 160 and all(isinstance(b, Building) for b in buildings)
    skipped = [w for w in result.warnings if w.startswith("skipped")]
    assert skipped == [
        "skipped 410 city objects of types not imported: Road 143, PlantCover 126, LandUse 81, "
        "GenericCityObject 54, Bridge 3, WaterBody 3"
    ]
    assert not any("heights are in" in w for w in result.warnings)  # NAP is the city's datum
    doc = raw_doc("delft.json")
    verts = raw_vertices(doc)
    worst = 0.0
    for b in buildings:
        assert [(g.lod, g.kind) for g in b.lods] == [("1", "Solid")]
        assert b.cim_level == 3 and b.height_source == "geometry" and b.parts is None
        assert b.attributes == doc["CityObjects"][b.id]["attributes"]
        # no semantics: every surface classified by its normal (these solids have no bottom face)
        assert {s.type for s in b.surfaces} <= {SurfaceType.roof, SurfaceType.wall}
        # ground and roof: the extreme z of the object's own vertices (RD New + NAP is the city's CRS: no change)
        z = verts[flat_indices(doc["CityObjects"][b.id]["geometry"][0]["boundaries"])][:, 2]
        assert b.ground_elevation == pytest.approx(z.min(), abs=1e-4)
        assert b.roof_elevation == pytest.approx(z.max(), abs=1e-4)
        assert b.height == pytest.approx(z.max() - z.min(), abs=1e-4) and b.height > 0
        # independent footprint check: the union of the solid's top faces (a prism's roof) drawn with shapely
        geom = doc["CityObjects"][b.id]["geometry"][0]["boundaries"]
        faces = [verts[s[0]] for shell in geom for s in shell]
        tops = [shapely.Polygon(f[:, :2]) for f in faces if np.allclose(f[:, 2], z.max())]
        tops = [t for t in tops if t.area > 0]
        ref = shapely.union_all(tops)
        worst = max(worst, abs(ref.area - footprint_shape(b).area) / ref.area)
        assert shapely.hausdorff_distance(ref.boundary, footprint_shape(b).boundary) < 0.01
    assert worst < 1e-3
    lo = np.array(doc["metadata"]["geographicalExtent"][:3])
    hi = np.array(doc["metadata"]["geographicalExtent"][3:])
    xy = np.concatenate([b.exterior() for b in buildings])
    assert (xy >= lo[:2] - 1e-3).all() and (xy <= hi[:2] + 1e-3).all()


@pytest.mark.shared_data
def test_delft_into_a_store(tmp_path):
    store = new_store(tmp_path, NL)
    report = import_files(store, [data("delft.json")])
    assert report.counts == {"buildings": 160}
    assert report.files[0]["format"] == "cityjson" and report.files[0]["features"] == {"Building": 160}
    assert store.counts()["buildings"] == 160
    b = load(data("delft.json"), NL).features[7]
    back = store.get("buildings", b.id)
    assert back.footprint == b.footprint and back.height == b.height and len(back.surfaces) == len(b.surfaces)
    store.close()


@pytest.mark.shared_data
def test_delft_reprojected_to_another_city_crs():
    """Amersfoort RD -> ETRS89 / UTM 31N: every footprint moves as pyproj moves the raw vertices."""
    from pyproj import Transformer

    utm = City(crs_epsg=25831, vertical_datum="EPSG:5709")
    b_rd = load(data("delft.json"), NL).features[0]
    b_utm = load(data("delft.json"), utm).features[0]
    x, y = Transformer.from_crs(28992, 25831, always_xy=True).transform(*b_rd.exterior().T)
    ref = shapely.Polygon(np.column_stack([x, y]))
    assert shapely.hausdorff_distance(ref, footprint_shape(b_utm)) < 0.005
    assert b_utm.height == b_rd.height


# -- Zurich: CityJSON 1.1, LOD2 MultiSurfaces with semantics on the BuildingParts ------------------------


@pytest.mark.shared_data
def test_zurich_parts_merged_into_buildings():
    result = load(data("zurich_subset_lod2.json"), CH)
    assert result.warnings == []
    buildings = result.features
    assert len(buildings) == 49
    doc = raw_doc("zurich_subset_lod2.json")
    objs = doc["CityObjects"]
    assert sum(len(b.parts or []) for b in buildings) == 161
    assert sorted(p for b in buildings for p in b.parts) == sorted(
        k for k, o in objs.items() if o["type"] == "BuildingPart"
    )
    # surfaces: every polygon of every part, with its semantic type (1,340 wall and 644 roof polygons; the 54
    # GroundSurface objects cover 55 polygons, one of them being referenced twice)
    types = Counter(s.type for b in buildings for s in b.surfaces)
    assert types == {SurfaceType.wall: 1340, SurfaceType.roof: 644, SurfaceType.ground: 55}
    entries = Counter(
        e["type"] for o in objs.values() for g in o.get("geometry", []) for e in g["semantics"]["surfaces"]
    )
    assert entries == {"WallSurface": 1340, "RoofSurface": 644, "GroundSurface": 54}
    verts = raw_vertices(doc)
    for b in buildings:
        assert b.cim_level == 4 and b.height_source == "geometry"
        assert {s.part for s in b.surfaces} == set(b.parts)
        assert all(g.lod == "2" and g.kind == "MultiSurface" and g.part in b.parts for g in b.lods)
        assert objs[b.id]["type"] == "Building" and set(objs[b.id]["children"]) == set(b.parts)
        idx = np.concatenate([flat_indices(g["boundaries"]) for p in b.parts for g in objs[p]["geometry"]])
        z = verts[idx][:, 2]
        assert b.ground_elevation == pytest.approx(z.min(), abs=1e-4)
        assert b.roof_elevation == pytest.approx(z.max(), abs=1e-4)
        # the footprint is the ground surfaces (roofs overhang them: not the roofs' projection), within 1 cm;
        # parts without a ground surface add the projection of their roofs
        with_ground = {s.part for s in b.surfaces if s.type == SurfaceType.ground}
        ref = shapely.union_all(
            [
                shapely.Polygon(np.asarray(s.rings[0])[:, :2]).buffer(0)
                for s in b.surfaces
                if s.type == SurfaceType.ground or (s.part not in with_ground and s.type == SurfaceType.roof)
            ]
        )
        fp = footprint_shape(b)
        assert fp.buffer(0.01).covers(ref) and ref.buffer(0.01).covers(fp.buffer(-0.01))
        assert b.attributes.get("part_attributes") and set(b.attributes["part_attributes"]) <= set(b.parts)


@pytest.mark.shared_data
def test_zurich_as_cityjsonseq(tmp_path):
    """The same city written as CityJSONSeq (one header line, one CityJSONFeature per building, vertices local
    to each feature) reads back as the same buildings."""
    doc = raw_doc("zurich_subset_lod2.json")
    path = tmp_path / "zurich.city.jsonl"
    path.write_text("\n".join(to_seq(doc)) + "\n")
    assert detect(path).name == "cityjson"
    seq = load(path, CH).features
    ref = load(data("zurich_subset_lod2.json"), CH).features
    assert [b.id for b in seq] == [b.id for b in ref]
    for a, b in zip(seq, ref, strict=True):
        assert a.footprint == b.footprint and a.parts == b.parts and a.height == b.height
        assert [s.rings for s in a.surfaces] == [s.rings for s in b.surfaces]


def to_seq(doc: dict) -> list[str]:
    header = {k: v for k, v in doc.items() if k not in ("CityObjects", "vertices")}
    header["CityObjects"], header["vertices"] = {}, []
    lines = [json.dumps(header)]
    objs = doc["CityObjects"]
    for oid, o in objs.items():
        if o["type"] != "Building":
            continue
        members = {oid: o, **{c: objs[c] for c in o.get("children", [])}}
        used = sorted({i for m in members.values() for g in m.get("geometry", []) for i in _walk(g["boundaries"])})
        remap = {old: new for new, old in enumerate(used)}
        out = {}
        for k, m in members.items():
            m = json.loads(json.dumps(m))
            for g in m.get("geometry", []):
                g["boundaries"] = _remap(g["boundaries"], remap)
            out[k] = m
        lines.append(
            json.dumps(
                {
                    "type": "CityJSONFeature",
                    "id": oid,
                    "CityObjects": out,
                    "vertices": [doc["vertices"][i] for i in used],
                }
            )
        )
    return lines


def _remap(x, remap):
    return [_remap(y, remap) for y in x] if isinstance(x, list) else remap[x]


@pytest.mark.shared_data
def test_cityjsonseq_bad_line_is_named(tmp_path):
    lines = to_seq(raw_doc("zurich_subset_lod2.json"))
    lines[5] = lines[5][: len(lines[5]) // 2]
    path = tmp_path / "zurich.city.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportError_) as exc:
        load(path, CH)
    assert exc.value.where["file"] == "zurich.city.jsonl" and exc.value.where["line"] == 6


# -- multi_lod: three LODs per building, no CRS in the file ----------------------------------------------


@pytest.mark.shared_data
def test_multi_lod_keeps_every_lod():
    result = load(data("multi_lod.json"), NL, crs="EPSG:7415")
    assert result.source_crs == "EPSG:7415"
    assert len(result.features) == 10
    doc = raw_doc("multi_lod.json")
    verts = raw_vertices(doc)
    for b in result.features:
        assert [g.lod for g in b.lods] == ["1.2", "1.3", "2.2"] and {g.kind for g in b.lods} == {"Solid"}
        assert b.cim_level == 4
        # display surfaces are the LOD 2.2 solid's, with its semantics
        top = b.lods[2].surfaces
        assert b.surfaces == top and {s.type for s in top} >= {SurfaceType.roof, SurfaceType.wall, SurfaceType.ground}
        raw22 = doc["CityObjects"][b.id]["geometry"][2]
        assert len(top) == sum(len(shell) for shell in raw22["boundaries"])
        # ground at the lowest vertex, which is the h_maaiveld attribute (kept as given) within 1 mm
        z = verts[flat_indices([g["boundaries"] for g in doc["CityObjects"][b.id]["geometry"]])][:, 2]
        assert b.ground_elevation == pytest.approx(z.min(), abs=1e-4)
        assert b.attributes["h_maaiveld"] == doc["CityObjects"][b.id]["attributes"]["h_maaiveld"]
        assert b.year_built == doc["CityObjects"][b.id]["attributes"]["oorspronkelijk_bouwjaar"]
        # footprint = the LOD 2.2 ground surfaces
        ground = shapely.union_all(
            [shapely.Polygon(np.asarray(s.rings[0])[:, :2]) for s in top if s.type == SurfaceType.ground]
        )
        assert abs(ground.area - footprint_shape(b).area) < 1e-3 * ground.area


@pytest.mark.shared_data
def test_multi_lod_without_crs_asks_for_one(tmp_path):
    with pytest.raises(ImportError_) as exc:
        load(data("multi_lod.json"), NL)
    assert exc.value.where["file"] == "multi_lod.json" and "--crs" in exc.value.message
    store = new_store(tmp_path, NL)
    with pytest.raises(ImportError_):
        import_files(store, [data("multi_lod.json")])
    assert store.counts()["buildings"] == 0
    assert import_files(store, [data("multi_lod.json")], crs="EPSG:7415").counts == {"buildings": 10}
    store.close()


@pytest.mark.shared_data
@pytest.mark.parametrize("kind", ["MultiSolid", "CompositeSolid", "MultiSurface", "CompositeSurface"])
def test_every_geometry_type(kind, tmp_path):
    """The LOD 2.2 solids of multi_lod rewritten as each other geometry type give the same buildings."""
    doc = raw_doc("multi_lod.json")
    for o in doc["CityObjects"].values():
        g = o["geometry"][2]
        if kind in ("MultiSolid", "CompositeSolid"):
            g["boundaries"], g["semantics"]["values"] = [g["boundaries"]], [g["semantics"]["values"]]
        else:
            g["boundaries"], g["semantics"]["values"] = g["boundaries"][0], g["semantics"]["values"][0]
        g["type"] = kind
    path = tmp_path / f"{kind}.city.json"
    path.write_text(json.dumps(doc))
    got = load(path, NL, crs="EPSG:7415").features
    ref = load(data("multi_lod.json"), NL, crs="EPSG:7415").features
    for a, b in zip(got, ref, strict=True):
        assert a.lods[2].kind == kind
        assert a.footprint == b.footprint and a.height == b.height
        assert [(s.type, s.rings) for s in a.surfaces] == [(s.type, s.rings) for s in b.surfaces]


@pytest.mark.shared_data
def test_without_semantics_surfaces_are_classified_by_normal(tmp_path):
    doc = raw_doc("multi_lod.json")
    for o in doc["CityObjects"].values():
        del o["geometry"][2]["semantics"]
    path = tmp_path / "nosem.city.json"
    path.write_text(json.dumps(doc))
    got = load(path, NL, crs="EPSG:7415").features
    ref = load(data("multi_lod.json"), NL, crs="EPSG:7415").features
    agree = total = 0
    for a, b in zip(got, ref, strict=True):
        assert a.footprint == b.footprint
        for sa, sb in zip(a.surfaces, b.surfaces, strict=True):
            total += 1
            agree += sa.type == sb.type
            if sb.type == SurfaceType.ground:
                assert sa.type == SurfaceType.ground
    assert agree / total > 0.95


@pytest.mark.shared_data
def test_tunnel_becomes_an_underground_structure(tmp_path):
    doc = raw_doc("multi_lod.json")
    tid = next(iter(doc["CityObjects"]))
    doc["CityObjects"][tid]["type"] = "Tunnel"
    doc["metadata"] = {"referenceSystem": "urn:ogc:def:crs:EPSG::7415"}
    path = tmp_path / "tunnel.city.json"
    path.write_text(json.dumps(doc))
    feats = {f.id: f for f in load(path, NL).features}
    t = feats[tid]
    assert isinstance(t, UndergroundStructure) and t.kind == StructureKind.tunnel
    z = raw_vertices(doc)[flat_indices([g["boundaries"] for g in doc["CityObjects"][tid]["geometry"]])][:, 2]
    assert t.bottom_elevation == pytest.approx(z.min(), abs=1e-4) and t.top_elevation == pytest.approx(
        z.max(), abs=1e-4
    )
    assert len(feats) == 10 and sum(isinstance(f, Building) for f in feats.values()) == 9


# -- broken files derived from the real ones --------------------------------------------------------------


def _first_building(doc: dict) -> str:
    return next(k for k, o in doc["CityObjects"].items() if o["type"] == "Building" and o.get("geometry"))


def _truncated(tmp_path):
    text = data("zurich_subset_lod2.json").read_text()
    (tmp_path / "bad.json").write_text(text[: len(text) // 2])
    return {"line": text[: len(text) // 2].count("\n") + 1}


def _index_out_of_range(tmp_path):
    doc = raw_doc("delft.json")
    oid = _first_building(doc)
    doc["CityObjects"][oid]["geometry"][0]["boundaries"][0][0][0][1] = len(doc["vertices"]) + 5
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    return {"feature": oid}


def _infinite_coordinate(tmp_path):
    doc = raw_doc("delft.json")
    oid = _first_building(doc)
    v = doc["CityObjects"][oid]["geometry"][0]["boundaries"][0][0][0][0]
    doc["vertices"][v][2] = "__INF__"
    (tmp_path / "bad.json").write_text(json.dumps(doc).replace('"__INF__"', "1e999"))  # json reads inf
    return {"feature": oid}


def _vertices_not_an_array(tmp_path):
    doc = raw_doc("multi_lod.json")
    doc["vertices"] = {"0": doc["vertices"][0]}
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    return {}


def _vertices_not_numbers(tmp_path):
    doc = raw_doc("multi_lod.json")
    doc["vertices"][3] = ["a", 1, 2]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    return {}


def _missing_cityobjects(tmp_path):
    doc = raw_doc("delft.json")
    del doc["CityObjects"]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    return {}


def _malformed_boundaries(tmp_path):
    doc = raw_doc("delft.json")
    oid = _first_building(doc)
    doc["CityObjects"][oid]["geometry"][0]["boundaries"][0][1] = "oops"
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    return {"feature": oid}


def _no_valid_surface(tmp_path):
    doc = raw_doc("delft.json")
    oid = _first_building(doc)
    shells = doc["CityObjects"][oid]["geometry"][0]["boundaries"]
    v = shells[0][0][0][0]
    doc["CityObjects"][oid]["geometry"][0]["boundaries"] = [[[[v, v, v]] for _ in shell] for shell in shells]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    return {"feature": oid}


def _flat_building(tmp_path):
    doc = raw_doc("delft.json")
    oid = _first_building(doc)
    for i in set(_walk(doc["CityObjects"][oid]["geometry"][0]["boundaries"])):
        doc["vertices"][i][2] = 0
    del doc["CityObjects"][oid]["attributes"]["measuredHeight"]  # else a flat object takes its height from it
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    return {"feature": oid}


def _empty(tmp_path):
    (tmp_path / "bad.json").write_bytes(b"")
    return {}


BROKEN = [
    _truncated,
    _index_out_of_range,
    _infinite_coordinate,
    _vertices_not_an_array,
    _vertices_not_numbers,
    _missing_cityobjects,
    _malformed_boundaries,
    _no_valid_surface,
    _flat_building,
    _empty,
]


@pytest.mark.shared_data
@pytest.mark.parametrize("make", BROKEN, ids=lambda f: f.__name__.strip("_"))
def test_broken_files_are_refused_and_leave_the_store_unchanged(make, tmp_path):
    expect = make(tmp_path)
    path = tmp_path / "bad.json"
    with pytest.raises(ImportError_) as exc:
        read(path, ImportContext(city=NL, crs="EPSG:7415"), fmt="cityjson")
    where = exc.value.where
    assert where["file"] == "bad.json"
    for key, value in expect.items():
        assert where[key] == value, (where, exc.value.message)
    store = new_store(tmp_path, NL)
    import_files(store, [data("multi_lod.json")], crs="EPSG:7415")
    before = (store.counts(), store.version())
    with pytest.raises(ImportError_) as exc2:
        import_files(store, [data("multi_lod.json"), path], crs="EPSG:7415", fmt="cityjson")
    assert exc2.value.where["file"] == "bad.json"
    assert (store.counts(), store.version()) == before
    store.close()


@pytest.mark.shared_data
def test_sniffing():
    for name in ("delft.json", "zurich_subset_lod2.json", "multi_lod.json"):
        assert detect(data(name)).name == "cityjson"
