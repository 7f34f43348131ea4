"""CRS identifiers, axis order and boxes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from cim.crs import CRS84, OutputCRS, check_supported, normalise, to_city_xy
from cim.errors import InvalidParameter, UnsupportedCRS
from cim.query import parse_bbox, region_from_bbox


@pytest.mark.parametrize(
    "text",
    [
        "EPSG:4550",
        "epsg:4550",
        "urn:ogc:def:crs:EPSG::4550",
        "http://www.opengis.net/def/crs/EPSG/0/4550",
        "[EPSG:4550]",
    ],
)
def test_normalise_epsg_forms(text):
    assert normalise(text) == "http://www.opengis.net/def/crs/EPSG/0/4550"


def test_crs84_forms():
    assert normalise("OGC:CRS84") == CRS84 == normalise(CRS84)
    assert check_supported(None, 4550) == CRS84


def test_unsupported_names_parameter():
    with pytest.raises(UnsupportedCRS) as exc:
        check_supported("EPSG:2056", 4550, "bbox-crs")
    assert exc.value.where["parameter"] == "bbox-crs"


def test_output_axis_orders():
    xy = np.array([[535000.0, 4627000.0]])
    lon, lat = Transformer.from_crs(4550, 4326, always_xy=True).transform(535000.0, 4627000.0)
    assert OutputCRS(4550, CRS84).xy(xy)[0] == pytest.approx([lon, lat], abs=1e-8)
    cgcs = "http://www.opengis.net/def/crs/EPSG/0/4490"
    assert OutputCRS(4550, cgcs).xy(xy)[0] == pytest.approx([lat, lon], abs=1e-8)
    assert OutputCRS(4550, "http://www.opengis.net/def/crs/EPSG/0/4550").xy(xy)[0].tolist() == [4627000.0, 535000.0]
    assert to_city_xy(np.array([[lat, lon]]), "http://www.opengis.net/def/crs/EPSG/0/4326", 4550)[0] == pytest.approx(
        [535000.0, 4627000.0], abs=1e-4
    )


def test_bbox_parsing():
    assert parse_bbox("1, 2, 3, 4") == [1, 2, 3, 4]
    assert parse_bbox("1,2,0,3,4,10") == [1, 2, 0, 3, 4, 10]
    for bad in ("1,2,3", "1,2,3,x", "3,2,1,4", "1,2,inf,4"):
        with pytest.raises(InvalidParameter):
            parse_bbox(bad)


def test_crs84_box_is_transformed_not_enveloped():
    lo, hi = (123.40, 41.78), (123.43, 41.80)
    region = region_from_bbox([*lo, *hi], CRS84, 4550)
    fwd = Transformer.from_crs("OGC:CRS84", 4550, always_xy=True)
    # corners map exactly; the region is not the axis-aligned envelope (meridians converge)
    for corner in [(lo[0], lo[1]), (hi[0], hi[1]), (lo[0], hi[1])]:
        p = shapely.Point(fwd.transform(*corner))
        assert region.polygon.exterior.distance(p) < 1e-6
    assert region.polygon.area < shapely.box(*region.polygon.bounds).area


def test_pipelines_kept_on_disk_between_processes(tmp_path, monkeypatch):
    """A looked-up pipeline is written to the cache file, read back by a later lookup (a fresh process is
    simulated by clearing the in-memory cache), and gives the same coordinates as PROJ's own search."""
    from cim import crs

    monkeypatch.setenv("CIM_CACHE_DIR", str(tmp_path))
    src, dst = crs.epsg_uri(4550), crs.CRS84
    crs._pipeline.cache_clear()
    try:
        pipe = crs._pipeline(src, dst)
        (path,) = tmp_path.glob("proj-pipelines-*.json")
        assert json.loads(path.read_text()) == {f"{src} {dst}": pipe}
        ref = Transformer.from_crs("EPSG:4550", "OGC:CRS84", always_xy=True)
        assert pipe == ref.definition
        got = Transformer.from_pipeline(pipe).transform(500_000.0, 4_600_000.0)
        assert got == ref.transform(500_000.0, 4_600_000.0)
        # the file is what a fresh process reads: a different (valid) pipeline written there is used
        other = "proj=pipeline step proj=unitconvert xy_in=rad xy_out=deg"
        path.write_text(json.dumps({f"{src} {dst}": other}))
        crs._pipeline.cache_clear()
        assert crs._pipeline(src, dst) == other
        # turned off: PROJ's search again, nothing written
        monkeypatch.setenv("CIM_CACHE_DIR", "")
        crs._pipeline.cache_clear()
        assert crs._pipeline(src, dst) == ref.definition
        # an unwritable place is no error
        monkeypatch.setenv("CIM_CACHE_DIR", str(tmp_path / "file" / "below"))
        (tmp_path / "file").write_text("not a directory")
        crs._pipeline.cache_clear()
        assert crs._pipeline(src, dst) == ref.definition
    finally:
        crs._pipeline.cache_clear()
        threadlocal = getattr(crs._local, "cache", None)
        if threadlocal is not None:
            threadlocal.clear()
