"""Output formats as a registry: each built-in writer over the tiny city, and a new format in one registration."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.collections import get_spec
from cim.crs import CRS84, OutputCRS
from cim.io import writers
from cim.store import open_store


@pytest.fixture(scope="module")
def ctx_and_features(tiny_city_path):
    s = open_store(tiny_city_path)
    city = s.city()
    ctx = writers.OutputContext(city, get_spec("buildings"), OutputCRS(city.crs_epsg, CRS84))
    feats = list(s.iter_features("buildings"))
    s.close()
    return ctx, feats


def _bytes(name, ctx, feats) -> bytes:
    return b"".join(writers.get_writer(name).write(ctx, lambda: iter(feats)))


def test_builtin_writers(ctx_and_features):
    ctx, feats = ctx_and_features
    n = len(feats)
    assert {"geojson", "geojsonseq", "csv", "cityjson", "cityjsonseq"} <= set(writers.WRITERS)
    fc = json.loads(_bytes("geojson", ctx, feats))
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == n
    assert [f["id"] for f in fc["features"]] == [f.id for f in feats]
    assert len(_bytes("geojsonseq", ctx, feats).splitlines()) == n
    csv = _bytes("csv", ctx, feats).decode().splitlines()
    assert csv[0].startswith("id,") and len(csv) == n + 1
    cj = json.loads(_bytes("cityjson", ctx, feats))
    assert cj["type"] == "CityJSON" and len(cj["CityObjects"]) >= n
    seq = _bytes("cityjsonseq", ctx, feats).splitlines()
    assert json.loads(seq[0])["type"] == "CityJSON" and len(seq) == n + 1
    assert writers.get_writer("cityjson").city_crs and not writers.get_writer("csv").city_crs


def test_unknown_and_duplicate():
    from cim.errors import InvalidParameter

    with pytest.raises(InvalidParameter) as exc:
        writers.get_writer("shp")
    assert exc.value.parameter == "f" and "geojson" in str(exc.value)
    with pytest.raises(ValueError):
        writers.register_writer(writers.Output("csv", "text/csv", ".csv", "again", writers.WRITERS["csv"].write))


def test_a_new_format_is_one_registration(tiny_city_path, tmp_path):
    def ids(ctx, features):
        for f in features():
            yield f"{f.id}\n".encode()

    writers.register_writer(writers.Output("ids", "text/plain", ".txt", "One id per line", ids))
    try:
        out = tmp_path / "ids.txt"
        r = CliRunner().invoke(
            app,
            ["export", "--store", str(tiny_city_path), "--collection", "buildings", "--format", "ids", "-o", str(out)],
        )
        assert r.exit_code == 0, r.output
        lines = out.read_text().splitlines()
        assert len(lines) == 101 and lines[0] == "b-0-0" and "b-L" in lines
        assert "101 features" in r.output
    finally:
        writers.WRITERS.pop("ids", None)
