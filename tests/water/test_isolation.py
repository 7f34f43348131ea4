"""Isolation segments on a hand-made network with answers worked out by hand (tests/water/nets.py): a loop,
a dead-end branch, a failed valve, a segment whose isolation cuts off a sub-network, a second source; the
valves imported from GeoJSON into the store holding the network; segments equal WNTR's valve_segments;
criticality of every segment equals one isolation per segment."""

from __future__ import annotations

import numpy as np
import pytest

from cim.analysis import water_isolation
from cim.city import LocalCity
from cim.errors import InvalidParameter
from cim.io import import_files
from cim.water.network import load
from cim.water.segments import criticality, isolate, segments

from . import nets


@pytest.fixture
def city(empty_store, tmp_path):
    empty_store.write(nets.network())
    import_files(empty_store, [nets.valves_geojson(tmp_path / "valves.geojson")], crs="EPSG:4550")
    return LocalCity(empty_store)


def iso(city, pipe, failed=()):
    return water_isolation.ANALYSIS.execute(city, pipe=pipe, failed_valves=list(failed))


def test_valves_imported_beside_their_nodes(city):
    net = load(city.store)
    assert sorted(net.valve_ids) == sorted(nets.VALVES)
    for vid, (pipe, node) in nets.VALVES.items():
        k = net.valve_index[vid]
        assert net.link_ids[net.valve_link[k]] == pipe
        assert net.node_ids[net.valve_node[k]] == node
        assert np.allclose(net.valve_xy[k], nets.valve_position(pipe, node), atol=0.01)


def test_dead_end_branch(city):
    r = iso(city, "P7")
    assert r.segment_pipes == ["P7"]
    assert r.valves_to_close == ["V6"]
    assert r.segment_nodes == ["J6"]
    assert r.nodes_cut_off == ["J6"]
    assert r.buildings_affected == ["B6"]
    assert r.population_affected == 50
    assert r.demand_lost_m3_per_h == 3.0


def test_segment_cutting_off_a_sub_network(city):
    r = iso(city, "P6")
    assert r.segment_pipes == ["P6", "P8"]
    assert r.valves_to_close == ["V5", "V6"]
    assert r.segment_nodes == ["J5", "J7"]
    assert r.nodes_cut_off == ["J5", "J6", "J7"]  # J6 lies beyond V6: no other way to the reservoir
    assert r.buildings_affected == ["B6", "B7"]
    assert r.population_affected == pytest.approx(50 + 5 * 200 * 0.025)
    assert r.demand_lost_m3_per_h == 9.0


def test_failed_valve_extends_the_segment(city):
    r = iso(city, "P7", ["V6"])
    assert r.segment_pipes == ["P6", "P7", "P8"]
    assert r.valves_to_close == ["V5"]
    assert r.nodes_cut_off == ["J5", "J6", "J7"]
    r = iso(city, "P7", ["V6", "V5"])  # V5 fails too: back to V4 at J2
    assert r.segment_pipes == ["P5", "P6", "P7", "P8"]
    assert r.valves_to_close == ["V4"]
    assert r.nodes_cut_off == ["J4", "J5", "J6", "J7"]


def test_loop(city):
    r = iso(city, "P3")
    assert r.segment_pipes == ["P2", "P3", "P4"]
    assert r.valves_to_close == ["V2", "V3", "V4"]
    assert r.segment_nodes == ["J2", "J3"]
    assert r.nodes_cut_off == ["J2", "J3", "J4", "J5", "J6", "J7"]  # everything past the loop


def test_source_segment(city):
    r = iso(city, "P1")
    assert r.segment_pipes == ["P1"]
    assert r.valves_to_close == ["V1"]
    assert r.nodes_cut_off == ["J1", "J2", "J3", "J4", "J5", "J6", "J7", "R"]


def test_second_source_keeps_the_branch_supplied(empty_store, tmp_path):
    empty_store.write(nets.network(second_source=True))
    import_files(empty_store, [nets.valves_geojson(tmp_path / "v.geojson")], crs="EPSG:4550")
    city = LocalCity(empty_store)
    r = iso(city, "P3")
    assert r.valves_to_close == ["V2", "V3", "V4"]
    assert r.nodes_cut_off == ["J2", "J3"]  # J4.. are fed from R2
    assert r.population_affected == 0


def test_bad_input_names_the_field(city):
    with pytest.raises(InvalidParameter) as e:
        iso(city, "P99")
    assert e.value.where.get("parameter", e.value.where) and "P99" in str(e.value)
    with pytest.raises(InvalidParameter) as e:
        iso(city, "P1", ["V99"])
    assert "V99" in str(e.value)


def test_same_segments_as_wntr(city):
    pd = pytest.importorskip("pandas")
    nx = pytest.importorskip("networkx")
    from wntr.metrics.topographic import valve_segments

    net = load(city.store)
    seg = segments(net)
    g = nx.MultiDiGraph()
    g.add_nodes_from(net.node_ids)
    for i, lid in enumerate(net.link_ids):
        g.add_edge(net.node_ids[net.a[i]], net.node_ids[net.b[i]], key=lid)
    layer = pd.DataFrame(
        {"link": [net.link_ids[i] for i in net.valve_link], "node": [net.node_ids[i] for i in net.valve_node]}
    )
    node_seg, link_seg, _ = valve_segments(g, layer)
    ours = np.concatenate([seg.node_seg, seg.link_seg])
    theirs = np.concatenate([node_seg[net.node_ids].to_numpy(), link_seg[net.link_ids].to_numpy()])
    # the same partition: a one-to-one map between the labels
    pairs = set(zip(ours.tolist(), theirs.tolist(), strict=True))
    assert len(pairs) == len(set(ours.tolist())) == len(set(theirs.tolist()))


def test_criticality_equals_one_isolation_per_segment(city):
    net = load(city.store)
    seg = segments(net)
    w = np.column_stack([np.arange(net.n) + 1.0, np.ones(net.n)])
    lost, supplied = criticality(seg, seg.node_weights(w))
    assert supplied.all()
    for s in range(seg.count):
        links = np.flatnonzero(seg.link_seg == s)
        if not len(links):
            continue
        cut = isolate(seg, int(links[0])).nodes_cut_off
        assert lost[s].tolist() == w[cut].sum(axis=0).tolist()


def test_criticality_ranks_segments_by_people_cut_off(city):
    from cim.analysis import water_criticality

    r = water_criticality.ANALYSIS.execute(city, top=3)
    # {R, P1}, {J1}, {P2, P3, P4, J2, J3}, {P5, J4}, {P6, P8, J5, J7}, {P7, J6}
    assert r.segments == 6 and r.valves == 6 and r.unsupplied_segments == 0
    # the reservoir's segment (P1) cuts off everything: 75 people, 9 m³/h, 8 nodes (R and J1..J7)
    top = r.ranked[0]
    assert top.pipes == ["P1"] and top.valves == ["V1"]
    assert (top.population_cut_off, top.demand_cut_off_m3_per_h, top.nodes_cut_off) == (75.0, 9.0, 8)
    assert [x.population_cut_off for x in r.ranked] == [75.0, 75.0, 75.0]
    r = water_criticality.ANALYSIS.execute(city, top=6, by="demand")
    by_pipes = {tuple(x.pipes): x for x in r.ranked}
    assert by_pipes[("P7",)].demand_cut_off_m3_per_h == 3.0 and by_pipes[("P7",)].valves == ["V6"]
    assert by_pipes[("P6", "P8")].population_cut_off == 75.0
    assert by_pipes[("P6", "P8")].valves == ["V5", "V6"]


def test_valves_from_csv_match_the_geojson_layer(empty_store, tmp_path):
    empty_store.write(nets.network())
    csv = tmp_path / "valves.csv"
    csv.write_text("id,pipe,node\n" + "".join(f"{v},{p},{n}\n" for v, (p, n) in nets.VALVES.items()))
    report = import_files(empty_store, [csv])
    assert report.files[0]["format"] == "valves-csv"
    net = load(empty_store)
    for vid, (pipe, node) in nets.VALVES.items():
        k = net.valve_index[vid]
        assert (net.link_ids[net.valve_link[k]], net.node_ids[net.valve_node[k]]) == (pipe, node)
        assert np.allclose(net.valve_xy[k], nets.valve_position(pipe, node), atol=1e-6)
    assert empty_store.get("pipe-nodes", "V4").position[2] == 40.0  # J2's ground
    r = iso(LocalCity(empty_store), "P6")
    assert r.valves_to_close == ["V5", "V6"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("pipe,node\nP99,J1\n", "P99"),
        ("pipe,node\nP1,J5\n", "not an end"),
        ("pipe,node\nP1,J1\nP1,J1\n", "twice"),
    ],
)
def test_bad_valve_csv_names_the_line_and_writes_nothing(empty_store, tmp_path, text, needle):
    from cim.io import ImportError_

    empty_store.write(nets.network())
    before = empty_store.counts()
    csv = tmp_path / "v.csv"
    csv.write_text(text)
    with pytest.raises(ImportError_) as e:
        import_files(empty_store, [csv])
    assert needle in str(e.value) and e.value.where["file"] == "v.csv" and e.value.where["line"] >= 2
    assert empty_store.counts() == before


def test_served_by_overrides_the_nearest_junction_and_far_buildings_are_not_served(city):
    from cim.model import Building

    x6, y6 = nets.xy("J6")
    near_j6 = [(x6 + 10, y6 + 10), (x6 + 20, y6 + 10), (x6 + 20, y6 + 20), (x6 + 10, y6 + 20)]
    far = [(x6 + 2000, y6), (x6 + 2010, y6), (x6 + 2010, y6 + 10), (x6 + 2000, y6 + 10)]
    city.store.write(
        [
            Building(
                id="B8",
                footprint=[near_j6],
                ground_elevation=40,
                height=3,
                attributes={"population": 10, "served_by": "J3"},
            ),
            Building(id="B9", footprint=[far], ground_elevation=40, height=3, attributes={"population": 7}),
        ]
    )
    r = iso(city, "P7")  # J6's branch: B8 stands beside J6 but is served by J3
    assert r.buildings_affected == ["B6"] and r.population_affected == 50
    r = iso(city, "P3")
    assert "B8" in r.buildings_affected and "B9" not in r.buildings_affected
    assert r.population_affected == pytest.approx(75 + 10)


def test_hydraulic_criticality_of_the_top_segments(tmp_path):
    """Simulated isolation (WNTR, PDD at 14 m): the loop's isolation leaves J2, J3 dry and, with R2 feeding J5,
    nothing else below 14 m; the source's isolation leaves nobody above it."""
    from cim.analysis import water_criticality
    from cim.store import open_store

    from ..common import CITY

    store = open_store(tmp_path / "city.sqlite", create=True)  # one backend: the simulation is the subject
    store.init(CITY)
    store.write(nets.network(second_source=True))
    import_files(store, [nets.valves_geojson(tmp_path / "v.geojson")], crs="EPSG:4550")
    r = water_criticality.ANALYSIS.execute(LocalCity(store), top=6, by="demand", hydraulic_top=6)
    by = {tuple(x.pipes): x for x in r.ranked}
    loop = by[("P2", "P3", "P4")]
    assert loop.below_service == ["J2", "J3"] and loop.population_below_service == 0
    assert by[("P1",)].below_service == []  # R2 keeps J1.. above 14 m (60 m head over 40 m ground)
    assert r.ranked[-1].below_service is not None
