"""The height datum a new city records: the 1985 national datum only for CGCS2000-based CRSs, unknown (None)
for a plain 2-D CRS elsewhere, said so by `cim init` and `cim info`; explicit and compound datums win."""

from __future__ import annotations

import json

import pytest
from pyproj import CRS
from typer.testing import CliRunner

from cim.cli import app
from cim.crs_codes import DEFAULT_VERTICAL, split_city_crs
from cim.io.reproject import datum_warning
from cim.model import City
from cim.store import open_store


@pytest.mark.parametrize(
    ("crs", "datum", "expected"),
    [
        ("EPSG:4550", None, (4550, DEFAULT_VERTICAL)),  # CGCS2000 / 3-degree GK CM 123E
        ("EPSG:4491", None, (4491, DEFAULT_VERTICAL)),  # the first CGCS2000 GK zone
        ("EPSG:4554", None, (4554, DEFAULT_VERTICAL)),  # the last
        ("EPSG:2056", None, (2056, None)),  # CH1903+ / LV95: not China's datum
        ("EPSG:28992", None, (28992, None)),  # Amersfoort / RD New
        ("EPSG:32650", None, (32650, None)),  # WGS 84 / UTM 50N, even over China
        ("EPSG:2383", None, (2383, None)),  # Xian 1980 GK: not CGCS2000
        ("EPSG:2056", "EPSG:5728", (2056, "EPSG:5728")),  # LN02 given
        ("EPSG:2056+5728", None, (2056, "EPSG:5728")),  # compound
        ("EPSG:4550", "EPSG:5728", (4550, "EPSG:5728")),  # an explicit datum wins for CGCS2000 too
    ],
)
def test_split_city_crs(crs, datum, expected):
    assert split_city_crs(crs, datum) == expected


def test_cim_init_and_info_with_a_2d_crs_outside_china(tmp_path):
    runner = CliRunner()
    store = str(tmp_path / "zurich.sqlite")
    r = runner.invoke(app, ["init", "--store", store, "--crs", "EPSG:2056", "--name", "Zurich"])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())  # rich wraps lines
    assert "heights in an unknown datum" in said and "EPSG:5737) was not assumed" in said
    assert "height datum is unknown" in said and "--vertical-datum" in said
    info = json.loads(runner.invoke(app, ["info", "--store", store, "--json"]).stdout)
    assert (info["crs"], info["vertical_datum"]) == ("EPSG:2056", None)
    table = runner.invoke(app, ["info", "--store", store])
    said = " ".join(table.output.split())
    assert table.exit_code == 0 and "unknown datum" in said and "height datum is unknown" in said
    s = open_store(store)
    assert s.city().vertical_datum is None  # stored as unknown, read back as unknown
    s.close()
    # a CGCS2000 city still gets the 1985 heights, and says nothing about an unknown datum
    cn = str(tmp_path / "shenyang.sqlite")
    r = runner.invoke(app, ["init", "--store", cn, "--crs", "EPSG:4550"])
    said = " ".join(r.output.split())
    assert r.exit_code == 0 and "heights EPSG:5737" in said and "unknown" not in said
    assert json.loads(runner.invoke(app, ["info", "--store", cn, "--json"]).stdout)["vertical_datum"] == "EPSG:5737"


def test_import_into_a_city_of_unknown_height_datum_warns():
    city = City(name="Zurich", crs_epsg=2056, vertical_datum=None)
    w = datum_warning(CRS("EPSG:2056+5728"), city)
    assert w is not None and "LN02" in w and "unknown" in w
    known = City(name="Zurich", crs_epsg=2056, vertical_datum="EPSG:5728")
    assert datum_warning(CRS("EPSG:2056+5728"), known) is None
