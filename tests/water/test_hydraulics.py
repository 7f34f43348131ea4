"""Hydraulic fidelity: every EPANET file in ../shared/data/pipes, imported into a store, simulates like WNTR's
own run of the original file (pressures at every node and step within 0.01 m); the stored features, not only
the kept text, drive the model; networks built from features simulate with the stated defaults."""

from __future__ import annotations

import numpy as np
import pytest

from cim.analysis import water_hydraulics
from cim.city import LocalCity
from cim.errors import InvalidParameter
from cim.io import import_files
from cim.model import City
from cim.store import open_store
from cim.water import hydraulics as hy

from ..conftest import shared_data
from . import nets

# file, city CRS, file CRS, simulated hours (None: the file's own; short where the file's run is long).  The
# schematic networks' coordinates (tens of units) are taken as metres of EPSG:3857 near (0, 0), a place inside
# that CRS's area of use (the import's placement checks); ky10 is in Kentucky feet (EPSG:3089).
FILES = [
    ("Net1.inp", 3857, "EPSG:3857", None),
    ("Net3.inp", 3857, "EPSG:3857", 24.0),
    ("Anytown.inp", 3857, "EPSG:3857", 2.0),
    ("ky10.inp", 32617, "EPSG:3089", None),
]


def imported(tmp_path, name, epsg, crs):
    store = open_store(tmp_path / "city.sqlite", create=True)
    store.init(City(crs_epsg=epsg))
    import_files(store, [shared_data("pipes", name)], crs=crs)
    return store


def original(name, hours):
    wn = hy.model_from_text(shared_data("pipes", name).read_bytes())
    if hours is not None:
        wn.options.time.duration = int(hours * 3600)
    return hy.run_epanet(wn)


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "epsg", "crs", "hours"), FILES)
def test_stored_network_simulates_like_the_file(tmp_path, name, epsg, crs, hours):
    store = imported(tmp_path, name, epsg, crs)
    stem = name.removesuffix(".inp")
    assert store.blob_names("epanet/") == [f"epanet/{stem}"]
    wn = hy.epanet_model(store, stem)
    if hours is not None:
        wn.options.time.duration = int(hours * 3600)
    ours, theirs = hy.run_epanet(wn), original(name, hours)
    p1, p0 = ours.node["pressure"], theirs.node["pressure"]
    assert list(p1.index) == list(p0.index) and len(p0.index) >= 1
    assert sorted(p1.columns) == sorted(p0.columns)
    diff = np.abs(p1[p0.columns].to_numpy() - p0.to_numpy())
    assert diff.max() <= 0.01, (name, float(diff.max()))
    store.close()


@pytest.mark.shared_data
def test_the_model_follows_the_stored_pipes(tmp_path):
    """Editing a stored pipe's diameter changes the simulation (the features drive it, not only the text)."""
    store = imported(tmp_path, "Net1.inp", 3857, "EPSG:3857")
    base = hy.run_epanet(hy.epanet_model(store, "Net1")).node["pressure"]
    pipe = store.get("pipes", "10")  # the main from the pump to the network
    store.write([pipe.model_copy(update={"diameter": pipe.diameter / 3})], replace=True)
    edited = hy.run_epanet(hy.epanet_model(store, "Net1")).node["pressure"]
    assert base["11"].iloc[0] - edited["11"].iloc[0] > 1.0  # past the narrowed main: lower pressure
    assert abs(base["9"].iloc[0] - edited["9"].iloc[0]) < 1e-6  # the reservoir: unchanged
    store.close()


@pytest.mark.shared_data
def test_hydraulics_analysis_reports_in_source_ids(tmp_path):
    store = imported(tmp_path, "Net1.inp", 3857, "EPSG:3857")
    city = LocalCity(store)
    r = water_hydraulics.ANALYSIS.execute(city, duration_h=2, step_min=60)
    assert r.network == "Net1"
    assert r.times_s == [0, 3600, 7200]
    assert set(r.nodes) == {"10", "11", "12", "13", "21", "22", "23", "31", "32", "9", "2"}
    assert "110" in r.links and "9" in r.links  # pipe 110 and pump 9
    theirs = original("Net1.inp", 2.0)
    assert r.nodes["22"].pressure_m == pytest.approx(theirs.node["pressure"]["22"].tolist(), abs=1e-3)
    # junction 22's demand at t=0: 200 GPM x pattern 1 (1.0) = 45.42 m³/h
    assert r.nodes["22"].demand_m3_per_h[0] == pytest.approx(200 * 0.003785411784 * 60, abs=1e-3)
    with pytest.raises(InvalidParameter) as e:
        water_hydraulics.ANALYSIS.execute(city, network="Net7")
    assert "Net7" in str(e.value)
    store.close()


def test_network_from_features_uses_stated_defaults(empty_store):
    """The hand-made network: one reservoir at head 60 m, no other losses than Hazen-Williams (C = 110)."""
    empty_store.write(nets.network())
    r = water_hydraulics.ANALYSIS.execute(LocalCity(empty_store), duration_h=0)
    assert r.network is None
    assert r.times_s == [0]
    assert r.nodes["R"].head_m == [60.0]
    # demands as stated, m³/h
    assert r.nodes["J7"].demand_m3_per_h[0] == pytest.approx(4.0, abs=1e-3)
    # flow in P1 = the sum of the demands; in P8 = J7's
    assert r.links["P1"].flow_m3_per_h[0] == pytest.approx(9.0, abs=1e-3)
    assert r.links["P8"].flow_m3_per_h[0] == pytest.approx(4.0, abs=1e-3)
    # head loss along P1 (100 m, 0.2 m, C 110) by Hazen-Williams: 10.67 L Q^1.852 / (C^1.852 D^4.87)
    q = 9.0 / 3600
    hl = 10.667 * 100 * q**1.852 / (110**1.852 * 0.2**4.871)
    assert r.nodes["J1"].head_m[0] == pytest.approx(60.0 - hl, abs=2e-3)
    assert r.nodes["J1"].pressure_m[0] == pytest.approx(60.0 - hl - 40.0, abs=2e-3)
