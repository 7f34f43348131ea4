"""Property test (issue 15): a building placed at a random point of a CRS's area of use, written with a random
mistake (wrong CRS label, swapped axes, millimetres, feet taken as metres ...), into a city of a random CRS, is
either refused or stored where its label's CRS and the city CRS are used; without a mistake, into a city of its
own CRS, it is stored exactly where it was."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer

from cim.io import ImportError_, import_files
from cim.io.placement import MARGIN_DEG, area_of_use, fits
from cim.model import City
from cim.store import open_store

# projected CRSs of several continents and units (metres, international and US survey feet)
CODES = [28992, 25833, 31468, 27700, 2056, 6677, 4550, 32617, 3089, 2263, 26910, 2193, 3112]
MISTAKES = ["none", "label", "swap", "millimetres", "feet-as-metres", "metres-as-feet"]


def _point(code: int, u: float, v: float) -> tuple[float, float]:
    """(x/east, y/north) in ``code`` of the point at fractions (u, v) of its area of use."""
    w, s, e, n = area_of_use(CRS.from_epsg(code))
    lon, lat = w + (e - w) * u, s + (n - s) * v
    x, y = Transformer.from_crs(4326, code, always_xy=True).transform(lon, lat)
    return float(x), float(y)


def _geojson(path: Path, x: float, y: float, label: int) -> None:
    ring = [[x, y], [x + 10, y], [x + 10, y + 10], [x, y + 10], [x, y]]
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{label}"}},
        "features": [
            {"type": "Feature", "id": "b", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
        ],
    }
    path.write_text(json.dumps(doc))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    true=st.sampled_from(CODES),
    label=st.sampled_from(CODES),
    city=st.sampled_from(CODES),
    same_city=st.booleans(),
    mistake=st.sampled_from(MISTAKES),
    u=st.floats(0.25, 0.75),
    v=st.floats(0.25, 0.75),
)
def test_refused_or_placed_where_its_crs_and_the_city_are_used(true, label, city, same_city, mistake, u, v):
    x, y = _point(true, u, v)
    if np.hypot(x, y) == 0 or not np.isfinite([x, y]).all():
        return
    if mistake != "label":
        label = true
    if same_city:
        city = true
    if mistake == "swap":
        x, y = y, x
    elif mistake == "millimetres":
        x, y = x * 1000, y * 1000
    elif mistake == "feet-as-metres":
        x, y = x / 0.3048, y / 0.3048
    elif mistake == "metres-as-feet":
        x, y = x * 0.3048, y * 0.3048
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "b.geojson"
        _geojson(path, x, y, label)
        store = open_store(Path(d) / "c.sqlite", create=True)
        store.init(City(crs_epsg=city))
        try:
            import_files(store, [path], default_height=10.0)
        except ImportError_ as exc:
            assert exc.where["file"] == "b.geojson"
            # correct data into a city of its own CRS is never refused
            assert not (mistake == "none" and city == true), exc.message
            assert store.counts().get("buildings", 0) == 0
            return
        finally:
            stored = list(store.iter_features("buildings"))
            store.close()
    (b,) = stored
    xy = np.asarray(b.footprint[0], dtype=float)
    # the stored building lies where the city CRS is used, and where its label's CRS is used
    assert fits(xy, CRS.from_epsg(city), MARGIN_DEG + 1e-6)
    lonlat = np.column_stack(Transformer.from_crs(city, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1]))
    back = np.column_stack(Transformer.from_crs(4326, label, always_xy=True).transform(lonlat[:, 0], lonlat[:, 1]))
    assert fits(back, CRS.from_epsg(label), MARGIN_DEG + 1e-6)
    if mistake == "none" and city == true:  # exactly where it was written
        assert np.allclose(xy.min(axis=0), [x, y], atol=1e-6)
