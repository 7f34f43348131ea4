"""LAS/LAZ reader: the real files of ../shared/data/terrain (autzen in feet with no EPSG code, the LAS 1.4
file with conflicting CRS records, the AHN3 LAZ of Delft), synthetic clouds, and broken files derived from
the real ones (each refused with the file named, leaving the store untouched)."""

from __future__ import annotations

import struct

import laspy
import numpy as np
import pytest
from pyproj import CRS, Transformer

from cim.io import ImportContext, ImportError_, import_files, read
from cim.io.registry import detect
from cim.model import City
from cim.store import open_store

from ..conftest import shared_data

US_FT = 1200 / 3937
FT = 0.3048


def terrain_file(name: str):
    return shared_data("terrain", name)


def load(name_or_path, city: City, crs: str | None = None, **kw):
    path = terrain_file(name_or_path) if isinstance(name_or_path, str) else name_or_path
    return read(path, ImportContext(city=city, crs=crs, **kw))


def raw(path) -> laspy.LasData:
    return laspy.read(str(path))


# -- autzen: Oregon Lambert in international feet, no EPSG code --------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize("epsg", [2994, 32610])
def test_autzen_terrain_in_feet_and_metre_cities(epsg):
    path = terrain_file("autzen_trim.las")
    src = raw(path)
    result = load(path, City(crs_epsg=epsg))
    assert result.format == "las"
    assert result.info["points"] == 110_000 and result.info["ground_points"] == 26_107
    assert result.building_points is None  # autzen has classes 1 and 2 only
    crs = src.header.parse_crs(prefer_wkt=True)
    assert crs.to_epsg() is None and result.source_crs == crs.name
    ground = src.classification == 2
    gz = np.asarray(src.z)[ground] * FT  # heights: international feet to metres
    assert 406 * FT - 1 < gz.min() and gz.max() < 520.6 * FT
    t = result.terrain
    zmin, zmax = np.nanmin(t.z), np.nanmax(t.z)
    assert zmin == pytest.approx(gz.min(), abs=0.5) and zmax == pytest.approx(gz.max(), abs=0.5)
    # placement: the ground points moved independently to the city CRS; the DEM around each of 300 of them
    # agrees with the median of the ground points within 2 m
    x, y = Transformer.from_crs(crs, CRS.from_epsg(epsg), always_xy=True).transform(
        np.asarray(src.x)[ground], np.asarray(src.y)[ground]
    )
    metre = CRS.from_epsg(epsg).axis_info[0].unit_conversion_factor
    radius = 2.0 / metre  # 2 m in the city CRS's unit
    pick = np.random.default_rng(7).choice(len(x), 300, replace=False)
    dem = t.sample(np.column_stack([x[pick], y[pick]]))
    med = np.array([np.median(gz[np.hypot(x - x[i], y - y[i]) < radius]) for i in pick])
    diff = np.abs(dem - med)
    assert not np.isnan(dem).any()
    assert np.median(diff) < 0.1 and np.percentile(diff, 95) < 0.5 and diff.max() < 1.5
    # the DEM covers the data and not much more
    minx, miny, _, maxx, maxy, _ = t.bounds
    assert minx <= x.min() and x.max() <= maxx and miny <= y.min() and y.max() <= maxy
    assert maxx - minx < (x.max() - x.min()) + 3 * t.cell


@pytest.mark.shared_data
def test_autzen_cell_size_follows_density():
    result = load("autzen_trim.las", City(crs_epsg=32610))
    # 26,107 ground points over about 360 m x 170 m: about 2 points per 4 m2 -> 2 m cells
    assert result.terrain.cell == 2.0 and result.info["dem_cell"] == 2.0


@pytest.mark.shared_data
def test_laz_reads_like_las(tmp_path):
    src = raw(terrain_file("autzen_trim.las"))
    laz = tmp_path / "autzen.laz"
    src.write(str(laz))
    city = City(crs_epsg=32610)
    a, b = load("autzen_trim.las", city), load(laz, city)
    assert b.info == a.info
    np.testing.assert_array_equal(a.terrain.z, b.terrain.z)
    assert (a.terrain.x0, a.terrain.y0, a.terrain.cell) == (b.terrain.x0, b.terrain.y0, b.terrain.cell)


@pytest.mark.shared_data
def test_progress_is_reported(monkeypatch):
    import cim.io.las as las_mod

    monkeypatch.setattr(las_mod, "CHUNK", 25_000)  # five chunks
    seen: list[float] = []
    load("autzen_trim.las", City(crs_epsg=32610), progress=seen.append)
    assert len(seen) >= 5 and seen == sorted(seen) and seen[-1] == 1.0


# -- the LAS 1.4 file with both a WKT and a GeoTIFF record -------------------------------------------------


@pytest.mark.shared_data
def test_las14_wkt_preferred_over_geotiff():
    path = terrain_file("file_with_both_wkt_and_geotiff_vlrs.las")
    src = raw(path)
    result = load(path, City(crs_epsg=6880))
    assert result.source_crs == "EPSG:6880"  # the WKT record; the GeoTIFF keys say NAD83 / Nebraska
    assert result.info["ground_points"] == 9_808 and result.info["building_points"] == 3_737
    pts = result.building_points
    assert pts.shape == (3_737, 3)
    b = src.classification == 6
    # horizontal in the city's own US feet; heights in metres (US survey feet, not international)
    np.testing.assert_allclose(pts[:, 0], np.asarray(src.x)[b])
    np.testing.assert_allclose(pts[:, 2], np.asarray(src.z)[b] * US_FT, rtol=1e-12)
    assert not np.allclose(pts[:, 2], np.asarray(src.z)[b] * FT, rtol=1e-7)
    g = src.classification == 2
    t = result.terrain
    assert np.nanmin(t.z) >= np.asarray(src.z)[g].min() * US_FT - 0.01
    assert np.nanmax(t.z) <= np.asarray(src.z)[g].max() * US_FT + 0.01


@pytest.mark.shared_data
def test_given_crs_does_not_override_the_files():
    result = load("file_with_both_wkt_and_geotiff_vlrs.las", City(crs_epsg=6880), crs="EPSG:32614")
    assert result.source_crs == "EPSG:6880"
    assert any("--crs EPSG:32614 was not used" in w for w in result.warnings)


# -- AHN3 (Delft): LAZ without CRS records ------------------------------------------------------------------

DELFT = City(name="Delft", crs_epsg=28992, vertical_datum="EPSG:5709")


@pytest.mark.shared_data
def test_ahn3_laz_under_delft_buildings():
    result = load("ahn3_cropped_2.laz", DELFT, crs="EPSG:7415")
    assert result.source_crs == "EPSG:7415" and result.warnings == []  # NAP into a NAP city: no datum note
    assert result.info["ground_points"] == 87_130 and result.info["building_points"] == 33_312
    t, pts = result.terrain, result.building_points
    assert -1.0 < np.nanmin(t.z) and np.nanmax(t.z) < 3.0  # Delft's ground: about NAP 0
    dem = t.sample(pts[:, :2])
    below = dem < pts[:, 2]  # NaN (outside the DEM) counts against
    assert below.mean() > 0.95
    # the building points come through unchanged (the file is in the city CRS and metres)
    src = raw(terrain_file("ahn3_cropped_2.laz"))
    b = src.classification == 6
    np.testing.assert_allclose(pts, np.column_stack([src.x[b], src.y[b], src.z[b]]))


@pytest.mark.shared_data
def test_ahn3_without_crs_asks_for_one():
    with pytest.raises(ImportError_, match="--crs") as err:
        load("ahn3_cropped_2.laz", DELFT)
    assert err.value.where["file"] == "ahn3_cropped_2.laz"


@pytest.mark.shared_data
def test_import_files_stores_terrain_and_building_points(tmp_path):
    store = open_store(tmp_path / "delft.sqlite", create=True)
    store.init(DELFT)
    report = import_files(store, [terrain_file("ahn3_cropped_2.laz")], crs="EPSG:7415")
    assert report.terrain and report.files[0]["info"]["building_points"] == 33_312
    assert store.terrain() is not None and store.building_points().shape == (33_312, 3)
    store.close()


@pytest.mark.shared_data
def test_detect():
    assert detect(terrain_file("ahn3_cropped_2.laz")).name == "las"
    assert detect(terrain_file("autzen_trim.las")).name == "las"


# -- synthetic clouds ---------------------------------------------------------------------------------------


def write_cloud(path, x, y, z, cls, crs: str | None = "EPSG:32632", version: str = "1.2", fmt: int = 1):
    header = laspy.LasHeader(point_format=fmt, version=version)
    header.scales = np.array([0.01, 0.01, 0.01])
    header.offsets = np.array([np.floor(x.min()), np.floor(y.min()), 0.0])
    if crs:
        header.add_crs(CRS.from_user_input(crs))
    las = laspy.LasData(header)
    las.x, las.y, las.z = x, y, z
    las.classification = cls.astype(np.uint8)
    las.write(str(path))
    return path


def plane_with_house(n: int = 40_000, seed: int = 3):
    """Points on the plane z = 10 + 0.05 (x - X), 100 m x 100 m, and an 8 m flat roof over 16 m x 16 m."""
    rng = np.random.default_rng(seed)
    x0, y0 = 500_000.0, 4_000_000.0
    x, y = x0 + rng.random(n) * 100, y0 + rng.random(n) * 100
    z = 10 + 0.05 * (x - x0)
    roof = (np.abs(x - x0 - 50) < 8) & (np.abs(y - y0 - 50) < 8)
    z = np.where(roof, z + 8, z)
    return x, y, z, roof


def test_lowest_point_filter_without_ground_class(tmp_path):
    x, y, z, roof = plane_with_house()
    path = write_cloud(tmp_path / "unclassified.las", x, y, z, np.ones(len(x)))
    result = load(path, City(crs_epsg=32632))
    assert result.info["ground_points"] == 0
    assert any("lowest-point filter" in w for w in result.warnings)
    t = result.terrain
    gx, gy = np.meshgrid(np.linspace(500_002, 500_098, 25), np.linspace(4_000_002, 4_000_098, 25))
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    expect = 10 + 0.05 * (xy[:, 0] - 500_000)
    # the roof is not terrain: under the house too the DEM is the plane, to a few decimetres
    np.testing.assert_allclose(t.sample(xy), expect, atol=0.3)


def test_classified_ground_and_buildings(tmp_path):
    x, y, z, roof = plane_with_house()
    path = write_cloud(tmp_path / "classified.las", x, y, z, np.where(roof, 6, 2), version="1.4", fmt=6)
    result = load(path, City(crs_epsg=32632))
    assert result.info["building_points"] == int(roof.sum()) and result.building_points.shape == (roof.sum(), 3)
    assert result.info["ground_points"] == int((~roof).sum())
    xy = np.array([[500_050.0, 4_000_050.0], [500_010.0, 4_000_090.0]])
    np.testing.assert_allclose(result.terrain.sample(xy), 10 + 0.05 * (xy[:, 0] - 500_000), atol=0.1)


def test_reprojected_and_far_outside_hull_is_nan(tmp_path):
    # an L of ground points: the empty corner of its bounding box, outside the hull, has no terrain
    rng = np.random.default_rng(5)
    x, y = rng.random(30_000) * 200, rng.random(30_000) * 200
    keep = (x < 40) | (y < 40)
    x, y = 500_000 + x[keep], 4_000_000 + y[keep]
    path = write_cloud(tmp_path / "l.las", x, y, np.full(len(x), 5.0), np.full(len(x), 2))
    result = load(path, City(crs_epsg=25832))  # ETRS89 / UTM 32N: a datum change from WGS 84 / UTM 32N
    t = result.terrain
    ex, ey = Transformer.from_crs(32632, 25832, always_xy=True).transform(500_180.0, 4_000_180.0)
    assert np.isnan(t.sample(np.array([[ex, ey]])))[0]
    ix, iy = Transformer.from_crs(32632, 25832, always_xy=True).transform(500_020.0, 4_000_150.0)
    assert t.sample(np.array([[ix, iy]]))[0] == pytest.approx(5.0)


def test_no_crs_anywhere(tmp_path):
    x, y, z, _ = plane_with_house(1000)
    path = write_cloud(tmp_path / "nocrs.las", x, y, z, np.full(len(x), 2), crs=None)
    with pytest.raises(ImportError_, match="--crs") as err:
        load(path, City(crs_epsg=32632))
    assert err.value.where["file"] == "nocrs.las"
    assert load(path, City(crs_epsg=32632), crs="EPSG:32632").info["ground_points"] == 1000


# -- broken files: refused, the file named, the store untouched -----------------------------------------------


def _truncated_las(tmp_path):
    data = terrain_file("autzen_trim.las").read_bytes()
    p = tmp_path / "truncated.las"
    p.write_bytes(data[: len(data) * 2 // 3])
    return p, "header says 110,000 points but the file holds fewer"


def _header_lies(tmp_path):
    data = bytearray(terrain_file("autzen_trim.las").read_bytes())
    struct.pack_into("<I", data, 107, 120_000)  # LAS 1.2 point count
    p = tmp_path / "lying.las"
    p.write_bytes(bytes(data))
    return p, "header says 120,000 points but the file holds fewer (110,000)"


def _header_lies_laz(tmp_path):
    data = bytearray(terrain_file("ahn3_cropped_2.laz").read_bytes())
    struct.pack_into("<I", data, 107, 300_000)
    p = tmp_path / "lying.laz"
    p.write_bytes(bytes(data))
    return p, "300,000"


def _truncated_header(tmp_path):
    p = tmp_path / "stub.las"
    p.write_bytes(terrain_file("autzen_trim.las").read_bytes()[:150])
    return p, "header cannot be read"


def _empty(tmp_path):
    p = tmp_path / "empty.las"
    p.write_bytes(b"")
    return p, "empty"


def _not_las(tmp_path):
    p = tmp_path / "notes.las"
    p.write_text("x,y,z\n1,2,3\n")
    return p, "not"


def _truncated_laz(tmp_path):
    data = terrain_file("ahn3_cropped_2.laz").read_bytes()
    p = tmp_path / "truncated.laz"
    p.write_bytes(data[: len(data) // 2])
    return p, "ends early or is corrupt"


BROKEN = [_truncated_las, _header_lies, _header_lies_laz, _truncated_header, _empty, _not_las, _truncated_laz]


@pytest.mark.shared_data
@pytest.mark.parametrize("make", BROKEN, ids=lambda f: f.__name__.strip("_"))
def test_broken_file_refused(tmp_path, make):
    path, words = make(tmp_path)
    with pytest.raises(ImportError_) as err:
        read(path, ImportContext(city=DELFT, crs="EPSG:7415"), fmt="las")
    assert words.lower() in err.value.message.lower()
    assert err.value.where["file"] == path.name


@pytest.mark.shared_data
@pytest.mark.parametrize("make", BROKEN, ids=lambda f: f.__name__.strip("_"))
def test_broken_file_leaves_store_unchanged(tmp_path, make):
    store = open_store(tmp_path / "city.sqlite", create=True)
    store.init(DELFT)
    import_files(store, [terrain_file("ahn3_cropped_2.laz")], crs="EPSG:7415")
    before = (store.counts(), store.version(), store.building_points().shape, store.terrain().to_bytes())
    path, _ = make(tmp_path)
    # a good file listed first must not land either
    with pytest.raises(ImportError_) as err:
        import_files(store, [terrain_file("ahn3_cropped_2.laz"), path], crs="EPSG:7415")
    assert err.value.where["file"] == path.name
    after = (store.counts(), store.version(), store.building_points().shape, store.terrain().to_bytes())
    assert after == before
    store.close()


# -- the sample city's point cloud, where the sample city has one ----------------------------------------------


def test_sample_city_las(sample_city_path):
    """The sample city's LAS, read back by the LAS reader, rebuilds the terrain the generator stored."""
    from sample_city import default_las_path

    store = open_store(sample_city_path)
    city, stored = store.city(), store.terrain()
    store.close()
    path = default_las_path(sample_city_path)
    result = load(path, city)
    las = raw(path)
    assert las.header.version.minor == 4
    assert result.info["ground_points"] == int((las.classification == 2).sum())
    assert len(result.building_points) == int((las.classification == 6).sum()) > 0
    rng = np.random.default_rng(3)
    b = result.terrain.bounds  # the survey covers the district; the stored DEM has a margin around it
    xy = np.column_stack([rng.uniform(b[0] + 20, b[3] - 20, 400), rng.uniform(b[1] + 20, b[4] - 20, 400)])
    got, want = result.terrain.sample(xy), stored.sample(xy)
    ok = np.isfinite(got) & np.isfinite(want)
    assert ok.mean() > 0.99
    assert np.median(np.abs(got[ok] - want[ok])) < 0.15
