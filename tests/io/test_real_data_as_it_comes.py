"""Issue 15: real data as it comes.  Placement checks (area of use, axis order, units, wrong headers), terrain
mosaics, buildings without heights, --skip-invalid, vertical datums, and the smaller ones.

Files in tests/data/ (see tests/data/SOURCES.md) are derived from real public files; the LAS/LAZ cases are
derived at test time from ../shared/data (laspy), so no point-cloud data is committed.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pyproj import CRS, Transformer

from cim.errors import DuplicateFeature
from cim.io import ImportError_, import_files
from cim.model import Building, BuildingUse, City, PipeNode
from cim.store import open_store

from ..conftest import shared_data

DATA = Path(__file__).resolve().parents[1] / "data"
GK_GML = DATA / "berlin_gk4_easting_first.gml"
NET1_MM = DATA / "net1_bng_millimetres.inp"
FOOTPRINTS = DATA / "yokosuka_footprints.geojson"

BERLIN = City(name="Berlin", crs_epsg=25833, vertical_datum="EPSG:7837")
JAPAN = City(name="Yokosuka", crs_epsg=6677, vertical_datum="EPSG:6695")
DELFT = City(name="Delft", crs_epsg=28992, vertical_datum="EPSG:5709")


def new_store(tmp_path: Path, city: City, name: str = "c.sqlite"):
    s = open_store(tmp_path / name, create=True)
    s.init(city)
    return s


def state(store) -> tuple:
    return store.counts(), store.version()


# -- axis order: an easting-first Gauss-Krüger CityGML -----------------------------------------------------------


def test_easting_first_gauss_kruger_citygml_lands_where_it_belongs(tmp_path):
    """EPSG:31468's official order is (northing, easting); the file writes easting first.  It must land on the
    Moabit building: the ground surface of Berlin_Moabit_1Bldg_v2.gml (UTM 33N) spans 388662.2799, 5818795.0007
    -> 388694.3406, 5818814.4885 (its first gml:posList)."""
    s = new_store(tmp_path, BERLIN)
    report = import_files(s, [GK_GML])
    assert report.files[0]["info"]["axis_order"] == "en"
    assert any("easting first" in w for w in report.files[0]["warnings"])
    (b,) = list(s.iter_features("buildings"))
    xy = np.asarray(b.footprint[0])
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    # DHDN -> ETRS89 and back: the same Helmert in both directions, so millimetres
    assert lo == pytest.approx([388662.2799, 5818795.0007], abs=0.005)
    assert hi == pytest.approx([388694.3406, 5818814.4885], abs=0.005)
    # --axis-order en says the same; ne (the official order) puts it in the sea off Greece: refused
    s2 = new_store(tmp_path, BERLIN, "b.sqlite")
    assert import_files(s2, [GK_GML], axis_order="en").counts == {"buildings": 1}
    s3 = new_store(tmp_path, BERLIN, "c3.sqlite")
    before = state(s3)
    with pytest.raises(ImportError_) as exc:
        import_files(s3, [GK_GML], axis_order="ne")
    msg = str(exc.value)
    assert "berlin_gk4_easting_first.gml" in msg and "31468" in msg and "lon" in msg and "axes are swapped" in msg
    assert state(s3) == before


# -- units: an EPANET file in millimetres ---------------------------------------------------------------------------


def test_epanet_in_millimetres_is_refused_and_the_store_unchanged(tmp_path):
    s = new_store(tmp_path, City(name="London", crs_epsg=27700, vertical_datum="EPSG:5701"))
    before = state(s)
    with pytest.raises(ImportError_) as exc:
        import_files(s, [NET1_MM], crs="EPSG:27700")
    e = exc.value
    assert e.where["file"] == "net1_bng_millimetres.inp" and "27700" in e.where["crs"]
    assert "millimetres" in e.message and "would land" in e.message
    assert state(s) == before
    # the same numbers in metres import, node 10 at Net1's (20, 70) placed as 530000 + 10 x, 180000 + 10 y
    metres = tmp_path / "net1_m.inp"
    text = NET1_MM.read_bytes().decode()
    lines = []
    for ln in text.split("\r\n"):
        f = ln.split()
        if len(f) == 3 and f[1].isdigit() and len(f[1]) == 9:
            ln = f" {f[0]}\t{int(f[1]) / 1000:.3f}\t{int(f[2]) / 1000:.3f}"
        lines.append(ln)
    metres.write_text("\r\n".join(lines))
    import_files(s, [metres], crs="EPSG:27700")
    n10 = next(n for n in s.iter_features("pipe-nodes") if isinstance(n, PipeNode) and n.id == "10")
    assert n10.position[:2] == pytest.approx((530200.0, 180700.0), abs=1e-6)


def test_data_far_from_the_city_crs_needs_force_and_says_the_distortion(tmp_path):
    """Yokosuka (139.7 E) in the default city CRS EPSG:4550 (CM 123 E): 1.7 % longer... by pyproj's factors."""
    s = new_store(tmp_path, City(crs_epsg=4550))
    before = state(s)
    with pytest.raises(ImportError_, match="--force") as exc:
        import_files(s, [FOOTPRINTS], default_height=6.0)
    from pyproj import Proj

    f = Proj(CRS.from_epsg(4550)).get_factors(139.739, 35.26)
    length = float(np.sqrt(f.meridional_scale * f.parallel_scale))
    assert f"{length:.3f}" in exc.value.message and f"{f.areal_scale:.3f}" in exc.value.message
    assert state(s) == before
    report = import_files(s, [FOOTPRINTS], default_height=6.0, force=True)
    assert report.counts == {"buildings": 12}
    assert any(f"scales lengths by {length:.3f}" in w for w in report.files[0]["warnings"])


# -- buildings without heights, --skip-invalid -----------------------------------------------------------------------


def test_footprints_without_heights_import_with_default_height_and_floors(tmp_path):
    doc = json.loads(FOOTPRINTS.read_text())
    levels = {f["id"]: f["properties"].get("building:levels") for f in doc["features"]}
    assert sum(v is not None for v in levels.values()) == 10 and len(levels) == 12
    s = new_store(tmp_path, JAPAN)
    before = state(s)
    with pytest.raises(ImportError_, match="--default-height"):
        import_files(s, [FOOTPRINTS])
    # a null height (county files: `HEIGHT: null`) is no height: the floors are used
    nulled = tmp_path / "nulled.geojson"
    for f in doc["features"]:
        f["properties"]["HEIGHT"] = None
    nulled.write_text(json.dumps(doc))
    import_files(new_store(tmp_path, JAPAN, "n.sqlite"), [nulled], default_height=6.0)
    assert state(s) == before
    import_files(s, [FOOTPRINTS], default_height=6.0, storey_height=3.5)
    got = {b.id: b for b in s.iter_features("buildings")}
    assert set(got) == set(levels)
    for fid, b in got.items():
        assert isinstance(b, Building) and b.use is BuildingUse.unknown
        if levels[fid] is None:
            assert (b.height, b.height_source) == (6.0, "default")
        else:
            assert b.height == pytest.approx(3.5 * levels[fid]) and b.height_source == "floors"


def test_skip_invalid_imports_the_rest_and_lists_the_skipped(tmp_path):
    doc = json.loads(FOOTPRINTS.read_text())
    bad = doc["features"][3]["id"]
    doc["features"][3]["properties"]["use"] = "castle"
    path = tmp_path / "fp.geojson"
    path.write_text(json.dumps(doc))
    s = new_store(tmp_path, JAPAN)
    with pytest.raises(ImportError_, match="--skip-invalid") as exc:
        import_files(s, [path], default_height=6.0)
    assert exc.value.where["feature"] == bad
    report = import_files(s, [path], default_height=6.0, skip_invalid=True)
    assert report.counts == {"buildings": 11}
    assert report.skipped == [{"file": "fp.geojson", "feature": bad, "reason": report.skipped[0]["reason"]}]
    assert "castle" in report.skipped[0]["reason"] and report.files[0]["skipped"][0]["feature"] == bad
    assert bad not in {b.id for b in s.iter_features("buildings")}


def test_skip_invalid_in_the_cli_table_and_json(tmp_path):
    from typer.testing import CliRunner

    from cim.cli import app

    doc = json.loads(FOOTPRINTS.read_text())
    bad = doc["features"][0]["id"]
    doc["features"][0]["properties"]["use"] = "castle"
    path = tmp_path / "fp.geojson"
    path.write_text(json.dumps(doc))
    store = tmp_path / "c.sqlite"
    new_store(tmp_path, JAPAN).close()
    runner = CliRunner()
    r = runner.invoke(
        app, ["import", str(path), "--store", str(store), "--default-height", "6", "--skip-invalid", "--json"]
    )
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["counts"] == {"buildings": 11} and body["skipped"][0]["feature"] == bad
    r = runner.invoke(
        app,
        ["import", str(path), "--store", str(store), "--default-height", "6", "--skip-invalid", "--replace"],
        env={"COLUMNS": "200"},
    )
    assert r.exit_code == 0, r.output
    assert "Skipped (1, --skip-invalid)" in r.stdout and bad in r.stdout


def test_a_height_of_minus_81_km_is_refused(tmp_path):
    doc = json.loads(FOOTPRINTS.read_text())
    doc["features"][2]["properties"]["ground_z"] = -81000.0
    path = tmp_path / "deep.geojson"
    path.write_text(json.dumps(doc))
    s = new_store(tmp_path, JAPAN)
    before = state(s)
    with pytest.raises(ImportError_, match="-81,000.0 m") as exc:
        import_files(s, [path], default_height=6.0)
    assert exc.value.where["file"] == "deep.geojson" and "unit" in exc.value.message
    assert state(s) == before


def test_duplicate_id_mentions_replace(tmp_path):
    s = new_store(tmp_path, JAPAN)
    import_files(s, [FOOTPRINTS], default_height=6.0)
    with pytest.raises(DuplicateFeature, match="--replace"):
        import_files(s, [FOOTPRINTS], default_height=6.0)


@pytest.mark.shared_data
def test_implausible_measured_height_falls_back_to_the_geometry(tmp_path):
    text = shared_data("buildings", "52397519_bldg_6697_op.gml").read_text(encoding="utf-8")
    i = text.index("<bldg:measuredHeight")
    j = text.index(">", i) + 1
    k = text.index("<", j)
    path = tmp_path / "plateau.gml"
    path.write_text(text[:j] + "9999" + text[k:], encoding="utf-8")
    owner_start = text.rfind("<bldg:Building gml:id=", 0, i)
    owner = text[owner_start:].split('"', 2)[1]
    s = new_store(tmp_path, JAPAN)
    report = import_files(s, [path])
    assert report.counts == {"buildings": 13}
    w = [w for w in report.files[0]["warnings"] if "measuredHeight" in w]
    assert w and owner in w[0] and "9999" in w[0]
    b = next(b for b in s.iter_features("buildings") if b.id == owner)
    assert b.height_source == "geometry" and 0 < b.height < 100


@pytest.mark.shared_data
def test_citygml_footprint_only_building_needs_default_height_or_is_skipped(tmp_path):
    """The first PLATEAU building stripped to its LOD0 footprint (no height, storeys or 3-D geometry)."""
    import re

    text = shared_data("buildings", "52397519_bldg_6697_op.gml").read_text(encoding="utf-8")
    i = text.index("<bldg:Building gml:id=")
    j = text.index("</bldg:Building>", i)
    fid = text[i:].split('"', 2)[1]
    body = text[i:j]
    for tag in ("measuredHeight", "storeysAboveGround", "lod1Solid", "lod2Solid", "boundedBy"):
        body = re.sub(rf"<bldg:{tag}\b.*?</bldg:{tag}>", "", body, flags=re.S)
    path = tmp_path / "flat.gml"
    path.write_text(text[:i] + body + text[j:], encoding="utf-8")
    s = new_store(tmp_path, JAPAN)
    with pytest.raises(ImportError_, match="--default-height") as exc:
        import_files(s, [path])
    assert exc.value.where["feature"] == fid and "--skip-invalid" in exc.value.message
    report = import_files(s, [path], skip_invalid=True)
    assert report.counts == {"buildings": 12} and [k["feature"] for k in report.skipped] == [fid]
    s2 = new_store(tmp_path, JAPAN, "d.sqlite")
    import_files(s2, [path], default_height=7.5)
    b = next(b for b in s2.iter_features("buildings") if b.id == fid)
    assert (b.height, b.height_source) == (7.5, "default")


# -- terrain as a mosaic ----------------------------------------------------------------------------------------------


def _write_las(path: Path, src, mask=None, *, wkt: str | None = None) -> Path:
    """A LAS/LAZ with the points of laspy data ``src`` where ``mask`` holds (all by default)."""
    import laspy
    from laspy.vlrs.known import WktCoordinateSystemVlr

    pts = src.points if mask is None else src.points[mask]
    if wkt is None:
        h = laspy.LasHeader(point_format=src.header.point_format.id, version=src.header.version)
    else:
        h = laspy.LasHeader(point_format=6, version="1.4")
        h.vlrs.append(WktCoordinateSystemVlr(wkt))
        h.global_encoding.wkt = True
    h.offsets, h.scales = src.header.offsets, src.header.scales
    out = laspy.LasData(h)
    out.X, out.Y, out.Z = pts.X, pts.Y, pts.Z
    out.classification = pts.classification
    out.write(str(path))
    return path


@pytest.fixture(scope="module")
def ahn3():
    import laspy

    return laspy.read(str(shared_data("terrain", "ahn3_cropped_2.laz")))


@pytest.fixture(scope="module")
def halves(ahn3, tmp_path_factory):
    """ahn3_cropped_2.laz and its two halves, split at x = 85036 m (a whole number of DEM cells)."""
    d = tmp_path_factory.mktemp("halves")
    west = np.asarray(ahn3.x) < 85036.0
    whole = _write_las(d / "whole.laz", ahn3)
    return whole, _write_las(d / "west.laz", ahn3, west), _write_las(d / "east.laz", ahn3, ~west)


@pytest.mark.shared_data
def test_two_halves_give_the_dem_of_the_whole(ahn3, halves, tmp_path):
    whole, west, east = halves
    a, b, c = (new_store(tmp_path, DELFT, f"{k}.sqlite") for k in "abc")
    import_files(a, [whole], crs="EPSG:7415")
    import_files(b, [west, east], crs="EPSG:7415")
    import_files(c, [west], crs="EPSG:7415")
    import_files(c, [east], crs="EPSG:7415")
    ta, tb, tc = a.terrain(), b.terrain(), c.terrain()
    assert ta.cell == tb.cell == tc.cell
    ground = np.asarray(ahn3.classification) == 2
    rng = np.random.default_rng(15)
    xy = np.column_stack([np.asarray(ahn3.x)[ground], np.asarray(ahn3.y)[ground]])[
        rng.choice(int(ground.sum()), 2000, replace=False)
    ]
    za, zb, zc = ta.sample(xy), tb.sample(xy), tc.sample(xy)
    assert np.isfinite(za).all()
    assert np.abs(zb - za).max() < 0.01 and np.abs(zc - za).max() < 0.01
    # --replace-terrain: only the east half is left
    import_files(c, [east], crs="EPSG:7415", replace_terrain=True)
    t = c.terrain()
    west_pts = xy[xy[:, 0] < 85030]
    assert np.isnan(t.sample(west_pts)).all() and np.isfinite(t.sample(xy[xy[:, 0] > 85045])).all()


@pytest.mark.shared_data
def test_dem_cell_follows_point_density_and_cell_option(ahn3, tmp_path):
    sparse = _write_las(tmp_path / "sparse.laz", ahn3, np.arange(len(ahn3.x)) % 100 == 0)
    s = new_store(tmp_path, DELFT)
    import_files(s, [sparse], crs="EPSG:7415")
    t = s.terrain()
    n_ground = int((np.asarray(ahn3.classification)[::100] == 2).sum())
    area = 72.3 * 228.5  # the crop's extent, m² (tests/data/SOURCES.md of shared data)
    spacing = np.sqrt(area / n_ground)
    assert 1.5 * spacing <= t.cell <= 3 * spacing  # about twice the mean ground-point spacing
    assert t.shape[0] * t.shape[1] * t.cell**2 < 3 * area  # cells follow the covered area
    s2 = new_store(tmp_path, DELFT, "d.sqlite")
    import_files(s2, [sparse], crs="EPSG:7415", cell=2.0)
    assert s2.terrain().cell == 2.0
    dense = _write_las(tmp_path / "dense.laz", ahn3, np.asarray(ahn3.x) < 85020)
    s3 = new_store(tmp_path, DELFT, "e.sqlite")
    import_files(s3, [dense], crs="EPSG:7415", cell=0.5)
    assert s3.terrain().cell == 0.5


@pytest.mark.shared_data
def test_sparse_unclassified_points_get_a_coarse_grid(tmp_path):
    """Every 20th autzen point (5,500), none classified as ground: the lowest-point filter's grid follows their
    density (mean spacing about 3.3 m over the 359 m x 172 m survey), not a fixed 2 m grid."""
    import laspy

    autzen = laspy.read(str(shared_data("terrain", "autzen_trim.las")))
    keep = np.arange(len(autzen.x)) % 20 == 0
    path = _write_las(tmp_path / "sparse.las", autzen, keep)
    f = laspy.read(str(path))
    f.classification = np.ones(len(f.x), np.uint8)
    for v in autzen.header.vlrs:
        f.header.vlrs.append(v)
    f.write(str(path))
    s = new_store(tmp_path, City(crs_epsg=32610, vertical_datum="EPSG:5703"))
    report = import_files(s, [path])
    t = s.terrain()
    area = (637179.22 - 636001.76) * (849497.90 - 848935.20) * 0.3048**2  # the header's box, ft -> m²
    spacing = np.sqrt(area / keep.sum())
    assert 3.2 < spacing < 3.5 and 1.2 * spacing < t.cell < 2.5 * spacing
    assert t.shape[0] * t.shape[1] * t.cell**2 < 1.5 * area
    assert "lowest-point filter" in " ".join(report.files[0]["warnings"])


# -- wrong header CRS, vertical datums --------------------------------------------------------------------------


@pytest.mark.shared_data
def test_wrong_header_crs_is_refused_then_overridden_with_source_crs(ahn3, tmp_path):
    """A LAS of Delft labelled Swiss LV95: it would land in the Atlantic; --source-crs EPSG:28992+5709 fixes it."""
    path = _write_las(tmp_path / "wrong.las", ahn3, np.arange(len(ahn3.x)) % 20 == 0, wkt=CRS(2056).to_wkt())
    s = new_store(tmp_path, DELFT)
    before = state(s)
    with pytest.raises(ImportError_) as exc:
        import_files(s, [path])
    assert (
        "2056" in exc.value.message and "--source-crs" in exc.value.message and exc.value.where["file"] == "wrong.las"
    )
    assert state(s) == before
    report = import_files(s, [path], source_crs="EPSG:28992+5709")
    assert report.files[0]["source_crs"] == "EPSG:7415"  # 28992+5709 is RD New + NAP, EPSG:7415
    x0, y0, _, x1, y1, _ = s.terrain().bounds
    assert 84990 < x0 < x1 < 85080 and 447400 < y0 < y1 < 447650
    assert not any("datum" in w for w in report.files[0]["warnings"])  # NAP into a NAP city


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("wkt", "city_datum", "warned"),
    [
        # ESRI style: the vertical CRS written after the horizontal one
        (CRS(2994).to_wkt("WKT1_ESRI") + ',VERTCS["NAVD88",VDATUM["North_American_Vertical_Datum_1988"]]', 5703, None),
        (
            CRS(2994).to_wkt("WKT1_ESRI") + ',VERTCS["NAVD88",VDATUM["North_American_Vertical_Datum_1988"]]',
            5737,
            "NAVD",
        ),
        (CRS("EPSG:2994+6360").to_wkt(), 5703, None),  # NAVD88 in US feet is NAVD88
        (CRS("EPSG:2994+6360").to_wkt(), 5737, "NAVD88"),
    ],
)
def test_navd88_is_recognised(wkt, city_datum, warned, tmp_path):
    import laspy

    autzen = laspy.read(str(shared_data("terrain", "autzen_trim.las")))
    path = _write_las(tmp_path / "navd.las", autzen, np.arange(len(autzen.x)) % 20 == 0, wkt=wkt)
    s = new_store(tmp_path, City(crs_epsg=32610, vertical_datum=f"EPSG:{city_datum}"))
    w = import_files(s, [path]).files[0]["warnings"]
    assert not any("declares no vertical datum" in x for x in w)
    datum = [x for x in w if "datum shift" in x]
    assert (datum[0] if datum else None) is None if warned is None else warned in datum[0]


@pytest.mark.shared_data
def test_nap_is_recognised(ahn3, tmp_path):
    """AHN3 with its CRS written as RD New + NAP (EPSG:7415): no warning into a NAP city, a NAP warning elsewhere."""
    path = _write_las(tmp_path / "nap.las", ahn3, np.arange(len(ahn3.x)) % 20 == 0, wkt=CRS(7415).to_wkt())
    w = import_files(new_store(tmp_path, DELFT), [path]).files[0]["warnings"]
    assert not any("datum" in x for x in w)
    other = City(name="Delft in 1985 heights", crs_epsg=28992, vertical_datum="EPSG:5737")
    w = import_files(new_store(tmp_path, other, "o.sqlite"), [path]).files[0]["warnings"]
    assert any("NAP height" in x and "datum shift" in x for x in w)


def test_nap_and_navd88_names():
    from cim.io.vdatum import same_datum, vertical_by_name, vertical_in_wkt

    assert vertical_by_name("NAP height").to_epsg() == 5709 and vertical_by_name("NAP").to_epsg() == 5709
    assert vertical_by_name("NAVD88 height (ftUS)").to_epsg() == 5703
    assert vertical_in_wkt('PROJCS["x"],VERTCS["NAVD_1988",VDATUM["x"]]').to_epsg() == 5703
    assert same_datum(CRS(6360), "EPSG:5703") and not same_datum(CRS(5709), "EPSG:5737")


# -- the smaller ones --------------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_lone_carriage_return_inside_swmm_and_epanet_lines(tmp_path):
    from cim.io import ImportContext, read

    src = shared_data("pipes", "bellinge_small.inp").read_text()
    k = src.index("[CONDUITS]")
    row = src.index("\n", src.index("\n", src.index("\n", k) + 1) + 1) + 1  # the first conduit row
    gap = src.index(" ", row)  # the blank between the conduit's name and its inlet node becomes a lone \r
    broken = src[:gap] + "\r" + src[gap + 1 :]
    path = tmp_path / "cr.inp"
    path.write_text(broken, newline="")
    city = City(crs_epsg=32632)
    a = read(shared_data("pipes", "bellinge_small.inp"), ImportContext(city=city, crs="EPSG:32632"))
    b = read(path, ImportContext(city=city, crs="EPSG:32632"))
    assert len(a.features) == len(b.features) == 31


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("model.zip", None, "ZIP archive; unzip it"),
        ("house.ifc", b"ISO-10303-21;\nHEADER;\nFILE_SCHEMA(('IFC4'));\n", "Not a readable IFC file"),
        ("roads.shp", b"\x00\x00\x27\x0a" + bytes(96), "shapefile"),
    ],
)
def test_zip_ifc_and_shapefiles_are_named(tmp_path, name, content, words):
    path = tmp_path / name
    if content is None:
        with zipfile.ZipFile(path, "w") as z:
            z.write(FOOTPRINTS, FOOTPRINTS.name)
    else:
        path.write_bytes(content)
    s = new_store(tmp_path, JAPAN)
    with pytest.raises(ImportError_, match=words) as exc:
        import_files(s, [path])
    assert exc.value.where["file"] == name


def test_init_compound_crs_and_vertical_datum(tmp_path):
    from typer.testing import CliRunner

    from cim.cli import app

    runner = CliRunner()
    for k, args, expected in [
        (1, ["--crs", "EPSG:7415"], ("EPSG:28992", "EPSG:5709")),
        (2, ["--crs", "EPSG:28992+5709"], ("EPSG:28992", "EPSG:5709")),
        (3, ["--crs", "EPSG:32610", "--vertical-datum", "EPSG:5703"], ("EPSG:32610", "EPSG:5703")),
        (4, ["--crs", "EPSG:4550"], ("EPSG:4550", "EPSG:5737")),
    ]:
        store = str(tmp_path / f"{k}.sqlite")
        r = runner.invoke(app, ["init", "--store", store, *args])
        assert r.exit_code == 0, r.output
        info = json.loads(runner.invoke(app, ["info", "--store", store, "--json"]).stdout)
        assert (info["crs"], info["vertical_datum"]) == expected
    r = runner.invoke(app, ["init", "--store", str(tmp_path / "x.sqlite"), "--crs", "EPSG:5709"])
    assert r.exit_code == 2


def test_every_libpq_form_opens_the_store(pg_cluster):
    import uuid

    from cim.store import is_postgres

    c = pg_cluster
    forms = [
        f"postgresql://cim@127.0.0.1:{c.port}/postgres?schema=s_{uuid.uuid4().hex[:8]}",
        f"postgresql:///postgres?host={c.dir}&port={c.port}&user=cim&schema=s_{uuid.uuid4().hex[:8]}",
        f"dbname=postgres host={c.dir} port={c.port} user=cim schema=s_{uuid.uuid4().hex[:8]}",
    ]
    for url in forms:
        assert is_postgres(url)
        s = open_store(url, create=True)
        s.init(City(name=url[-10:], crs_epsg=4550))
        s.close()
        s = open_store(url)
        assert s.city().name == url[-10:]
        s.close()
    assert not is_postgres("city.sqlite")


def _lonlat_inside(crs: CRS, xy: np.ndarray, margin: float = 1.0) -> bool:
    from cim.io.placement import fits

    return bool(fits(xy, crs, margin))


def test_transformer_sanity():
    """EPSG:31468 really is northing first, and the derived GML's first vertex is easting first."""
    axes = CRS(31468).axis_info
    assert axes[0].direction == "north"
    t = Transformer.from_crs(25833, 31468, always_xy=True)
    e, n = t.transform(388662.279883488, 5818806.80170332)
    assert f"{e:.4f} {n:.4f}" in GK_GML.read_text()


def test_http_import_job_lists_the_skipped_and_takes_the_options(tmp_path):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings

    token = "s3cret-token-for-tests-0015"
    path = tmp_path / "c.sqlite"
    new_store(tmp_path, JAPAN).close()
    doc = json.loads(FOOTPRINTS.read_text())
    bad = doc["features"][5]["id"]
    doc["features"][5]["properties"]["use"] = "castle"
    data = json.dumps(doc).encode()
    app = create_app(Settings(store=str(path), write_tokens=[token], upload_dir=str(tmp_path / "up")))
    with TestClient(app) as client:

        def post(**form):
            return client.post(
                "/imports",
                files=[("files", ("fp.geojson", data))],
                data={"wait": "true", **form},
                headers={"Authorization": f"Bearer {token}"},
            ).json()

        failed = post(default_height="6")
        assert failed["status"] == "failed" and "--skip-invalid" in failed["error"]["detail"]
        job = post(default_height="6", storey_height="4", skip_invalid="true")
        assert job["status"] == "succeeded" and job["counts"] == {"buildings": 11}
        assert job["skipped"][0]["feature"] == bad and "castle" in job["skipped"][0]["reason"]
        b = next(f for f in client.app.state.store.iter_features("buildings") if f.height_source == "floors")
        assert b.height % 4 == 0
        bad_axis = client.post(
            "/imports",
            files=[("files", ("fp.geojson", data))],
            data={"wait": "true", "axis_order": "up"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert bad_axis.status_code in (400, 422)


def test_cim_sample_writes_into_postgis(pg_cluster, sample_city_path, tmp_path, monkeypatch):
    """`cim sample --store` with a libpq keyword string: the same city as the SQLite sample, LiDAR in ./sample.las."""
    import uuid

    from typer.testing import CliRunner

    from cim.cli import app

    monkeypatch.chdir(tmp_path)
    url = f"dbname=postgres host={pg_cluster.dir} port={pg_cluster.port} user=cim schema=s_{uuid.uuid4().hex[:8]}"
    r = CliRunner().invoke(app, ["sample", "--store", url])
    assert r.exit_code == 0, r.output
    pg, lite = open_store(url), open_store(sample_city_path)
    try:
        assert pg.counts() == lite.counts() and pg.counts()["buildings"] == 3347
        assert pg.city() == lite.city() and pg.terrain().shape == lite.terrain().shape
    finally:
        pg.close()
        lite.close()
    assert (tmp_path / "sample.las").stat().st_size > 0
