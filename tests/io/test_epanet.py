"""EPANET reader on the real networks in ../shared/data/pipes (Net1, Net3, Anytown, ky10) and on broken
files derived from them: counts, unit conversion, burial depth rule, placement, errors that name the file
and line, and the store left untouched by a failed import."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

from cim.io import ImportContext, ImportError_, import_files, read
from cim.io.registry import detect
from cim.model import City, NodeKind, PipeNode, PipeSegment, Utility
from cim.store import open_store

from ..conftest import shared_data

pytestmark = pytest.mark.shared_data

LOCAL = City(crs_epsg=4550)  # the schematic networks: their numbers taken as metres in the city CRS
KY = City(crs_epsg=32617)  # ky10 lies in eastern Kentucky (about 82.8 W: UTM zone 17)
COVER = 1.2 + 0.1  # frost depth + 0.1 m


def pipes(name: str) -> Path:
    return shared_data("pipes", name)


def load(name: str, city: City = LOCAL, crs: str = "EPSG:4550", **ctx) -> tuple[list, object]:
    result = read(pipes(name), ImportContext(city=city, crs=crs, **ctx))
    return result.features, result


def split(features: list) -> tuple[dict[str, PipeNode], dict[str, PipeSegment]]:
    """Nodes and pipes by id (EPANET ids of nodes and links may coincide: they are separate collections)."""
    return (
        {f.id: f for f in features if isinstance(f, PipeNode)},
        {f.id: f for f in features if isinstance(f, PipeSegment)},
    )


def tally(features: list) -> Counter:
    return Counter("pipe" if isinstance(f, PipeSegment) else f.kind.value for f in features)


@pytest.mark.parametrize(
    ("name", "city", "crs", "expected"),
    [
        ("Net1.inp", LOCAL, "EPSG:4550", {"junction": 9, "reservoir": 1, "tank": 1, "pipe": 12, "pump": 1}),
        ("Net3.inp", LOCAL, "EPSG:4550", {"junction": 92, "reservoir": 2, "tank": 3, "pipe": 117, "pump": 2}),
        ("Anytown.inp", LOCAL, "EPSG:4550", {"junction": 22, "reservoir": 1, "tank": 2, "pipe": 43, "pump": 3}),
        (
            "ky10.inp",
            KY,
            "EPSG:3089",
            {"junction": 920, "reservoir": 2, "tank": 13, "pipe": 1043, "pump": 13, "valve": 5},
        ),
    ],
)
def test_counts_match_the_source(name, city, crs, expected):
    features, result = load(name, city, crs)
    assert result.format == "epanet"
    assert dict(tally(features)) == expected
    assert result.warnings == []
    assert result.info["flow_units"] == "GPM"
    assert result.source_crs == crs
    assert all(f.utility is Utility.water for f in features)


def test_ky10_vertices_land_in_the_centrelines():
    features, result = load("ky10.inp", KY, "EPSG:3089")
    segs = [f for f in features if isinstance(f, PipeSegment)]
    assert sum(len(s.centreline) - 2 for s in segs) == 7796 == result.info["vertices"]


def test_ky10_is_reprojected_from_kentucky_feet():
    nodes, segs = split(load("ky10.inp", KY, "EPSG:3089")[0])
    to_utm = Transformer.from_crs("EPSG:3089", "EPSG:32617", always_xy=True)
    x, y = to_utm.transform(5765080.50, 3843715.00)
    assert nodes["J-1"].position[:2] == pytest.approx((x, y), abs=1e-6)
    assert nodes["J-1"].position[2] == pytest.approx(715.4852 * 0.3048)
    # P-1 starts at J-1 and its first vertex is (5765082.16, 3843785.12) ft
    assert segs["P-1"].centreline[0][:2] == pytest.approx((x, y), abs=1e-6)
    assert segs["P-1"].centreline[1][:2] == pytest.approx(to_utm.transform(5765082.16, 3843785.12), abs=1e-6)
    assert segs["P-1"].diameter == pytest.approx(8 * 0.0254)
    # 1000 in valves (a modelling placeholder) keep their size in attributes, not as a chamber diameter
    assert nodes["valve:~@RV-1"].attributes["diameter_m"] == pytest.approx(25.4)
    assert nodes["valve:~@RV-1"].attributes["valve_type"] == "PRV"


def test_net1_values_by_hand():
    nodes, segs = split(load("Net1.inp")[0])
    j10 = nodes["10"]
    assert j10.kind is NodeKind.junction
    assert j10.position == pytest.approx((20.0, 70.0, 216.408))  # 710 ft
    pipe = segs["10"]
    assert pipe.diameter == pytest.approx(0.4572)  # 18 in
    assert (pipe.from_node, pipe.to_node) == ("10", "11")
    # axis = ground (710 ft at both ends) - cover - radius
    z = 216.408 - COVER - 0.4572 / 2
    assert pipe.centreline == [pytest.approx((20.0, 70.0, z)), pytest.approx((30.0, 70.0, z))]
    assert pipe.attributes["depth_assumed"] is True
    assert pipe.attributes["length_m"] == pytest.approx(10530 * 0.3048)
    # pipe 12: 700 ft -> 695 ft, 10 in
    assert segs["12"].centreline[0][2] == pytest.approx(700 * 0.3048 - COVER - 0.127)
    assert segs["12"].centreline[1][2] == pytest.approx(695 * 0.3048 - COVER - 0.127)
    # junction depth: cover + its widest pipe (junction 12: 14, 10, 12 in and 18 in from pipe 110)
    assert nodes["12"].depth == pytest.approx(COVER + 0.4572)
    assert nodes["12"].attributes["depth_assumed"] is True


def test_net1_tank_reservoir_and_pump():
    nodes, segs = split(load("Net1.inp")[0])
    assert nodes["2"].kind is NodeKind.tank and nodes["2"].position[2] == pytest.approx(850 * 0.3048)
    assert nodes["2"].attributes["tank_diameter_m"] == pytest.approx(50.5 * 0.3048)
    assert nodes["9"].kind is NodeKind.reservoir and nodes["9"].position[2] == pytest.approx(800 * 0.3048)
    # pipe 110 runs from tank 2 (on a tower) to junction 12: buried at junction 12's ground at both ends
    z = 700 * 0.3048 - COVER - 0.4572 / 2
    assert [p[2] for p in segs["110"].centreline] == pytest.approx([z, z])
    pump = nodes["pump:9"]  # pump 9 shares its id with reservoir 9: pumps get a prefix
    assert pump.kind is NodeKind.pump
    assert pump.position == pytest.approx((15.0, 70.0, 710 * 0.3048))  # halfway between 9 and 10
    assert pump.attributes == {
        "link_id": "9",
        "from_node": "9",
        "to_node": "10",
        "parameters": "HEAD 1",
        "network": "Net1",
    }


def test_centreline_z_is_linear_along_the_vertices():
    features, _ = load("ky10.inp", KY, "EPSG:3089")
    segs = [f for f in features if isinstance(f, PipeSegment) and len(f.centreline) > 3]
    for s in segs[:50]:
        c = s.coords()
        d = np.concatenate([[0], np.cumsum(np.hypot(*np.diff(c[:, :2], axis=0).T))])
        expect = c[0, 2] + (c[-1, 2] - c[0, 2]) * d / d[-1]
        assert c[:, 2] == pytest.approx(expect, abs=1e-9)


def test_cover_and_utility_from_the_context():
    seg = split(load("Net1.inp", default_cover=2.0, default_utility="reclaimed")[0])[1]["10"]
    assert seg.utility is Utility.reclaimed
    assert seg.centreline[0][2] == pytest.approx(216.408 - 2.0 - 0.2286)
    with pytest.raises(ImportError_, match="Unknown utility"):
        load("Net1.inp", default_utility="lemonade")


def test_frost_depth_comes_from_the_city():
    seg = split(load("Net1.inp", City(crs_epsg=4550, frost_depth=1.4))[0])[1]["10"]
    assert seg.centreline[0][2] == pytest.approx(216.408 - 1.5 - 0.2286)


def test_si_units(tmp_path):
    text = pipes("Net1.inp").read_bytes().decode().replace("Units              \tGPM", "Units              \tLPS")
    path = tmp_path / "si.inp"
    path.write_bytes(text.encode())
    nodes, segs = split(read(path, ImportContext(city=LOCAL, crs="EPSG:4550")).features)
    assert segs["10"].diameter == pytest.approx(0.018)  # 18 mm
    assert nodes["10"].position[2] == pytest.approx(710.0)


@pytest.mark.parametrize("name", ["Net1.inp", "Net3.inp", "ky10.inp", "Anytown.inp"])
def test_sniffed_as_epanet(name):
    assert detect(pipes(name)).name == "epanet"


def test_no_crs():
    with pytest.raises(ImportError_, match="declares no coordinate reference system; give one with --crs"):
        read(pipes("Net1.inp"), ImportContext(city=LOCAL))


def test_imports_into_a_store(tmp_path):
    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(KY)
    report = import_files(store, [pipes("ky10.inp")], crs="EPSG:3089")
    assert report.counts == {"pipes": 1043, "pipe-nodes": 920 + 2 + 13 + 13 + 5}
    assert report.files[0]["format"] == "epanet"
    assert store.counts()["pipes"] == 1043


# -- broken files, derived from Net1 ----------------------------------------------------------------


def _net1() -> list[str]:
    return pipes("Net1.inp").read_bytes().decode().split("\r\n")


def _line(lines: list[str], *fields: str) -> int:
    """0-based index of the first line whose leading fields are ``fields``."""
    return next(i for i, s in enumerate(lines) if s.split()[: len(fields)] == list(fields))


def _edit(lines: list[str], at: tuple[str, ...], col: int, value: str) -> tuple[list[str], int]:
    i = _line(lines, *at)
    parts = lines[i].split("\t")
    parts[col] = f" {value} " if col == 0 else value
    out = list(lines)
    out[i] = "\t".join(parts)
    return out, i + 1


def _broken(case: str) -> tuple[str, int | None, str | None, str]:  # noqa: C901 - predates the complexity gate (issue 14); split it when it next changes
    """(text, line, feature, message pattern) for each broken variant of Net1."""
    lines = _net1()
    if case == "truncated mid-line":
        i = _line(lines, "111")
        return "\r\n".join(lines[:i] + [lines[i][:30]]), i + 1, "111", "at least 6 columns"
    if case == "truncated after a pipe":
        i = _line(lines, "113")
        text = "\r\n".join(lines[:i])
        return text, _line(lines, "10", "10", "11") + 1, "10", r"no \[COORDINATES\].*no \[END\] section"
    if case == "unknown node":
        text, n = _edit(lines, ("110", "2", "12"), 2, "99")
        return "\r\n".join(text), n, "110", "unknown node '99'"
    if case == "diameter abc":
        text, n = _edit(lines, ("12", "12", "13"), 4, "abc")
        return "\r\n".join(text), n, "12", "diameter 'abc' is not a number"
    if case in ("diameter 0", "diameter -10"):
        text, n = _edit(lines, ("12", "12", "13"), 4, case.split()[1])
        return "\r\n".join(text), n, "12", "diameter must be positive"
    if case in ("elevation nan", "elevation 1e999", "elevation inf"):
        text, n = _edit(lines, ("13", "695"), 1, case.split()[1])
        return "\r\n".join(text), n, "13", "elevation .* is not a finite number"
    if case == "unknown units":
        i = _line(lines, "Units")
        out = list(lines)
        out[i] = out[i].replace("GPM", "FURLONGS")
        return "\r\n".join(out), i + 1, None, "Unknown flow units 'FURLONGS'"
    if case == "too few columns":
        i = _line(lines, "2", "850")
        out = list(lines)
        out[i] = " 2 \t850\t120"
        return "\r\n".join(out), i + 1, "2", r"\[TANKS\] needs at least 6 columns"
    if case == "duplicate node":
        text, n = _edit(lines, ("32", "710"), 0, "31")
        return "\r\n".join(text), n, "31", "Duplicate node id '31'"
    if case == "duplicate link":
        text, n = _edit(lines, ("122", "22", "32"), 0, "121")
        return "\r\n".join(text), n, "121", "Duplicate link id '121'"
    if case == "no coordinates":
        i = _line(lines, "13", "70.000")
        out = lines[:i] + lines[i + 1 :]
        return "\r\n".join(out), _line(lines, "12", "12", "13") + 1, "12", "node '13', which has no \\[COORDINATES\\]"
    if case == "same end nodes":
        text, n = _edit(lines, ("12", "12", "13"), 2, "12")
        return "\r\n".join(text), n, "12", "starts and ends at node '12'"
    if case == "bad x coordinate":
        i = _line(lines, "13", "70.000")
        out = list(lines)
        out[i] = "13\tnan\t70.000"
        return "\r\n".join(out), i + 1, "13", "x coordinate 'nan' is not a finite number"
    if case == "data before any section":
        return "10 710 0\r\n" + "\r\n".join(lines), 1, None, "before any \\[SECTION\\]"
    if case == "unclosed header":
        i = _line(lines, "[PIPES]")
        out = list(lines)
        out[i] = "[PIPES"
        return "\r\n".join(out), i + 1, None, "Malformed section header"
    raise AssertionError(case)


CASES = [
    "truncated mid-line",
    "truncated after a pipe",
    "unknown node",
    "diameter abc",
    "diameter 0",
    "diameter -10",
    "elevation nan",
    "elevation 1e999",
    "elevation inf",
    "unknown units",
    "too few columns",
    "duplicate node",
    "duplicate link",
    "no coordinates",
    "same end nodes",
    "bad x coordinate",
    "data before any section",
    "unclosed header",
]


@pytest.fixture
def seeded(tmp_path):
    """A SQLite store holding ky10 (so that 'unchanged' means something).  Not the schematic Anytown: an
    import checks that the data lies where its CRS is used, and schematic numbers lie nowhere (issue 15)."""
    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(KY)
    import_files(store, [pipes("ky10.inp")], crs="EPSG:3089")
    return store


@pytest.mark.parametrize("case", CASES)
def test_broken_file_is_rejected_and_the_store_unchanged(case, tmp_path, seeded):
    text, line, feature, pattern = _broken(case)
    path = tmp_path / "broken.inp"
    path.write_bytes(text.encode())
    before = (seeded.counts(), seeded.version())
    with pytest.raises(ImportError_, match=pattern) as info:
        import_files(seeded, [path], crs="EPSG:4550")
    assert info.value.where["file"] == "broken.inp"
    assert info.value.where.get("line") == line
    if feature is not None:
        assert info.value.where["feature"] == feature
    assert "broken.inp" in str(info.value) and f"line={line}" in str(info.value)
    assert (seeded.counts(), seeded.version()) == before


@pytest.mark.parametrize("content", [b"", b"\r\n  \r\n"])
def test_empty_file(content, tmp_path, seeded):
    path = tmp_path / "empty.inp"
    path.write_bytes(content)
    before = (seeded.counts(), seeded.version())
    with pytest.raises(ImportError_, match="empty") as info:
        import_files(seeded, [path], crs="EPSG:4550")
    assert info.value.where["file"] == "empty.inp"
    with pytest.raises(ImportError_, match="empty"):
        read(path, ImportContext(city=LOCAL, crs="EPSG:4550"), fmt="epanet")
    assert (seeded.counts(), seeded.version()) == before
