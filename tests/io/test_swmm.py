"""SWMM reader on the real Bellinge sub-network (../shared/data/pipes/bellinge_small.inp), checked node by
node against the Bellinge GeoJSON of the same network, and on broken files derived from it."""

from __future__ import annotations

import json

import pytest

from cim.io import ImportContext, ImportError_, import_files, read
from cim.io.registry import detect
from cim.model import City, NodeKind, PipeNode, PipeSegment, Utility
from cim.store import open_store

from ..conftest import shared_data

pytestmark = pytest.mark.shared_data

CITY = City(crs_epsg=32632)
OUTFALL_LINK = "G72F050-G72F050_outfall"


def inp():
    return shared_data("pipes", "bellinge_small.inp")


def geojson(which: str) -> list[dict]:
    return json.loads(shared_data("pipes", f"bellinge_small_{which}.geojson").read_text())["features"]


def load(path=None, **ctx):
    result = read(path or inp(), ImportContext(city=CITY, crs="EPSG:32632", **ctx))
    nodes = {f.id: f for f in result.features if isinstance(f, PipeNode)}
    segs = {f.id: f for f in result.features if isinstance(f, PipeSegment)}
    assert len(nodes) + len(segs) == len(result.features)
    return nodes, segs, result


def variant(tmp_path, edit) -> object:
    """Write the Bellinge file with ``edit(lines)`` applied; returns the path."""
    lines = inp().read_text().split("\n")
    path = tmp_path / "variant.inp"
    path.write_text("\n".join(edit(lines)))
    return path


def _line(lines: list[str], *fields: str) -> int:
    return next(i for i, s in enumerate(lines) if s.split()[: len(fields)] == list(fields))


def test_counts():
    nodes, segs, result = load()
    assert result.format == "swmm" and result.source_crs == "EPSG:32632"
    kinds = [n.kind for n in nodes.values()]
    assert kinds.count(NodeKind.manhole) == 15 and kinds.count(NodeKind.outfall) == 1
    assert len(segs) == 15
    assert all(f.utility is Utility.storm for f in [*nodes.values(), *segs.values()])
    assert "skipped (not pipes): 13 subcatchments" in result.warnings


def test_diameters():
    _, segs, result = load()
    assert {s.attributes["shape"] for s in segs.values()} == {"CIRCULAR"}
    sizes = {k: s.diameter for k, s in segs.items() if k != OUTFALL_LINK}
    assert set(sizes.values()) == {0.2, 0.25, 0.3, 0.35}
    # the link to the outfall is a 15 m placeholder in the real file: kept, and reported
    assert segs[OUTFALL_LINK].diameter == 15.0
    assert any("above the rim" in w and OUTFALL_LINK in w for w in result.warnings)
    # against the edges GeoJSON of the same network, by (from, to)
    by_ends = {(s.from_node, s.to_node): s.diameter for s in segs.values()}
    edges = geojson("edges")
    assert len(edges) == 14
    for e in edges:
        p = e["properties"]
        assert by_ends[(p["u"], p["v"])] == pytest.approx(p["diameter"])


def test_manholes_match_the_nodes_geojson():
    nodes, _, _ = load()
    ref = geojson("nodes")
    assert len(ref) == 15
    for feat in ref:
        p = feat["properties"]
        node = nodes[p["id"]]
        assert node.kind is NodeKind.manhole
        assert node.depth == pytest.approx(p["surface_elevation"] - p["chamber_floor_elevation"], abs=1e-9)
        assert node.position == pytest.approx((*feat["geometry"]["coordinates"], p["surface_elevation"]), abs=1e-6)
        assert node.attributes["invert_elevation_m"] == pytest.approx(p["chamber_floor_elevation"])
    depths = [n.depth for n in nodes.values() if n.kind is NodeKind.manhole]
    assert min(depths) == pytest.approx(1.27) and max(depths) == pytest.approx(3.15)
    out = nodes["G72F050_outfall"]
    assert out.kind is NodeKind.outfall and out.depth is None and out.position[2] == pytest.approx(14.419)


def test_conduit_ends_sit_on_the_inverts():
    """End z = node invert (the GeoJSON's chamber floor) + offset (0.0001 m in the file) + radius."""
    _, segs, _ = load()
    floor = {f["properties"]["id"]: f["properties"]["chamber_floor_elevation"] for f in geojson("nodes")}
    floor["G72F050_outfall"] = 14.419
    for s in segs.values():
        r = s.diameter / 2
        assert s.centreline[0][2] == pytest.approx(floor[s.from_node] + 0.0001 + r, abs=1e-9)
        assert s.centreline[-1][2] == pytest.approx(floor[s.to_node] + 0.0001 + r, abs=1e-9)
    s = segs["G72F820_G72F810_l1"]
    assert s.centreline == [
        pytest.approx((583337.3699990724, 6132947.7901241835, 23.369 + 0.0001 + 0.175)),
        pytest.approx((583348.3699990722, 6132993.690124182, 22.879 + 0.0001 + 0.175)),
    ]


def test_nodes_are_shared_with_later_files():
    ctx = ImportContext(city=CITY, crs="EPSG:32632")
    read(inp(), ctx)
    assert len(ctx.nodes) == 16
    x, y, rim, invert = ctx.nodes["G72F820"]
    assert (rim, invert) == pytest.approx((26.129, 23.369))


def test_sniffed_as_swmm():
    assert detect(inp()).name == "swmm"


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"[TITLE]\r\n[OPTIONS]\r\nFLOW_UNITS CMS\r\n[JUNCTIONS]\r\nJ1 10 2\r\n", "swmm"),
        (b"[TITLE]\n\n[JUNCTIONS]\n J-1 715 0.6 1 ;\n", "epanet"),  # ky10's head: junctions only
        (b"[JUNCTIONS]\nJ1 1\n[OUTFALLS]\nO1 0 FREE\n", "swmm"),
        (b"[TITLE]\nhello\n", None),
        (b"not an inp file", None),
    ],
)
def test_classify(head, fmt):
    from cim.io import epanet, swmm
    from cim.io._inp import classify

    assert classify(head) == fmt
    assert swmm.SwmmReader.extensions == epanet.EpanetReader.extensions == (".inp",)


def test_sewer_by_context():
    nodes, segs, _ = load(default_utility="sewer")
    assert {f.utility for f in [*nodes.values(), *segs.values()]} == {Utility.sewer}


def test_elevation_offsets(tmp_path):
    """LINK_OFFSETS ELEVATION: offsets are absolute inverts ('*' = the node's invert)."""

    def edit(lines):
        lines[_line(lines, "LINK_OFFSETS")] = "LINK_OFFSETS ELEVATION"
        i = _line(lines, "G72F820_G72F810_l1")
        parts = lines[i].split()
        parts[5], parts[6] = "23.5", "*"
        lines[i] = " ".join(parts)
        return lines

    _, segs, _ = load(variant(tmp_path, edit))
    s = segs["G72F820_G72F810_l1"]
    assert [p[2] for p in s.centreline] == pytest.approx([23.5 + 0.175, 22.879 + 0.175])


def test_us_units_and_box_sections(tmp_path):
    def edit(lines):
        lines[_line(lines, "FLOW_UNITS")] = "FLOW_UNITS CFS"
        lines[_line(lines, "G72F820_G72F810_l1", "CIRCULAR")] = "G72F820_G72F810_l1 RECT_CLOSED 2 3 0 0 1"
        return lines

    nodes, segs, _ = load(variant(tmp_path, edit))
    s = segs["G72F820_G72F810_l1"]
    assert s.diameter is None and s.section_height == pytest.approx(0.6096) and s.width == pytest.approx(0.9144)
    assert s.centreline[0][2] == pytest.approx((23.369 + 0.0001 + 1) * 0.3048)
    assert nodes["G72F820"].depth == pytest.approx(2.76 * 0.3048)


def test_junctions(tmp_path):
    """[JUNCTIONS] rows (empty in Bellinge): a storage manhole moved there reads the same."""

    def edit(lines):
        row = lines.pop(_line(lines, "G72F820", "23.369"))
        lines.insert(_line(lines, "[JUNCTIONS]") + 1, " ".join(row.split()[:3] + ["0", "0", "0"]))
        return lines

    nodes, segs, _ = load(variant(tmp_path, edit))
    assert nodes["G72F820"].kind is NodeKind.manhole and nodes["G72F820"].attributes["swmm_type"] == "junction"
    assert nodes["G72F820"].depth == pytest.approx(2.76) and nodes["G72F820"].position[2] == pytest.approx(26.129)
    assert len(nodes) == 16 and len(segs) == 15


def test_zero_max_depth_reaches_the_highest_crown(tmp_path):
    def edit(lines):
        i = _line(lines, "G72F820", "23.369")
        lines[i] = lines[i].replace("2.759999999999998", "0")
        return lines

    nodes, _, _ = load(variant(tmp_path, edit))
    # G72F820 joins 0.2 and 0.35 m pipes, offsets 0.0001 m: the crown of the 0.35 m one
    assert nodes["G72F820"].depth == pytest.approx(0.0001 + 0.35)
    assert nodes["G72F820"].attributes["depth_assumed"] is True


def test_no_crs():
    with pytest.raises(ImportError_, match="declares no coordinate reference system; give one with --crs"):
        read(inp(), ImportContext(city=CITY))


def test_imports_into_a_store(tmp_path):
    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(CITY)
    report = import_files(store, [inp()], crs="EPSG:32632")
    assert report.counts == {"pipes": 15, "pipe-nodes": 16}
    assert report.files[0]["format"] == "swmm"


# -- broken files ------------------------------------------------------------------------------------


def _set(lines, at, col, value):
    i = _line(lines, *at)
    parts = lines[i].split()
    parts[col] = value
    lines[i] = " ".join(parts)
    return i + 1


def _broken(case: str) -> tuple[str, int, str | None, str]:
    """(text, line, feature, message pattern) for each broken variant of the Bellinge file."""
    lines = inp().read_text().split("\n")
    line, feature, pattern = 0, None, ""
    if case == "truncated mid-line":
        i = _line(lines, "G72F832_G72F831_l1")
        lines = lines[:i] + [lines[i][:40]]
        line, feature, pattern = i + 1, "G72F832_G72F831_l1", r"\[CONDUITS\] needs at least 7 columns"
    elif case == "truncated after a conduit":
        i = _line(lines, "G72F832_G72F831_l1")
        lines = lines[:i]
        line, feature = _line(lines, "G72F820_G72F810_l1") + 1, "G72F820_G72F810_l1"
        pattern = r"no \[XSECTIONS\] entry. The file has no \[XSECTIONS\] section"
    elif case == "unknown node":
        line = _set(lines, ("G72F813_G72F812_l1", "G72F813"), 2, "G72F999")
        feature, pattern = "G72F813_G72F812_l1", "unknown node 'G72F999'"
    elif case == "geom1 abc":
        line = _set(lines, ("G72F813_G72F812_l1", "CIRCULAR"), 2, "abc")
        feature, pattern = "G72F813_G72F812_l1", r"geom1 \(height\) 'abc' is not a number"
    elif case in ("geom1 0", "geom1 -0.3"):
        line = _set(lines, ("G72F813_G72F812_l1", "CIRCULAR"), 2, case.split()[1])
        feature, pattern = "G72F813_G72F812_l1", "must be positive"
    elif case in ("invert nan", "invert 1e999"):
        line = _set(lines, ("G72F831", "25.429"), 1, case.split()[1])
        feature, pattern = "G72F831", "invert elevation .* is not a finite number"
    elif case == "max depth -1":
        line = _set(lines, ("G72F831", "25.429"), 2, "-1")
        feature, pattern = "G72F831", "max depth must not be negative"
    elif case == "unknown units":
        line = _set(lines, ("FLOW_UNITS",), 1, "BUCKETS")
        pattern = "Unknown flow units 'BUCKETS'"
    elif case == "unknown offsets":
        line = _set(lines, ("LINK_OFFSETS",), 1, "SIDEWAYS")
        pattern = "Unknown LINK_OFFSETS 'SIDEWAYS'"
    elif case == "too few columns":
        i = _line(lines, "G72F813_G72F812_l1", "G72F813")
        lines[i] = " ".join(lines[i].split()[:5])
        line, feature, pattern = i + 1, "G72F813_G72F812_l1", r"\[CONDUITS\] needs at least 7 columns"
    elif case == "duplicate node":
        line = _set(lines, ("G72F821", "23.779"), 0, "G72F820")
        feature, pattern = "G72F820", "Duplicate node id 'G72F820'"
    elif case == "duplicate node across sections":
        first = _set(lines, ("G72F050_outfall", "14.419"), 0, "G72F050")
        line = _line(lines, "G72F050", "19.419") + 1  # the later of the two: [STORAGE] follows [OUTFALLS]
        feature, pattern = "G72F050", rf"Duplicate node id 'G72F050': line {line} in \[STORAGE\] repeats line {first}"
    elif case == "no xsection":
        i = _line(lines, "G72F813_G72F812_l1", "CIRCULAR")
        del lines[i]
        line, feature = _line(lines, "G72F813_G72F812_l1", "G72F813") + 1, "G72F813_G72F812_l1"
        pattern = r"conduit 'G72F813_G72F812_l1' \(line \d+\) has no \[XSECTIONS\] entry\. \("
    elif case == "no coordinates":
        del lines[_line(lines, "G72F813", "583258.6799990733")]
        line, feature = _line(lines, "G72F813_G72F812_l1", "G72F813") + 1, "G72F813_G72F812_l1"
        pattern = "uses node 'G72F813', which has no \\[COORDINATES\\] entry"
    else:
        raise AssertionError(case)
    return "\n".join(lines), line, feature, pattern


CASES = [
    "truncated mid-line",
    "truncated after a conduit",
    "unknown node",
    "geom1 abc",
    "geom1 0",
    "geom1 -0.3",
    "invert nan",
    "invert 1e999",
    "max depth -1",
    "unknown units",
    "unknown offsets",
    "too few columns",
    "duplicate node",
    "duplicate node across sections",
    "no xsection",
    "no coordinates",
]


@pytest.fixture
def seeded(tmp_path):
    """A SQLite store that already holds the Bellinge network."""
    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(CITY)
    import_files(store, [inp()], crs="EPSG:32632")
    return store


@pytest.mark.parametrize("case", CASES)
def test_broken_file_is_rejected_and_the_store_unchanged(case, tmp_path, seeded):
    text, line, feature, pattern = _broken(case)
    path = tmp_path / "broken.inp"
    path.write_text(text)
    before = (seeded.counts(), seeded.version())
    with pytest.raises(ImportError_, match=pattern) as info:
        import_files(seeded, [path], crs="EPSG:32632")
    where = info.value.where
    assert where["file"] == "broken.inp" and where["line"] == line
    if feature is not None:
        assert where["feature"] == feature
    assert (seeded.counts(), seeded.version()) == before


def test_empty_file(tmp_path, seeded):
    path = tmp_path / "empty.inp"
    path.write_text("")
    before = (seeded.counts(), seeded.version())
    with pytest.raises(ImportError_, match="empty") as info:
        import_files(seeded, [path], crs="EPSG:32632")
    assert info.value.where["file"] == "empty.inp"
    with pytest.raises(ImportError_, match="empty"):
        read(path, ImportContext(city=CITY, crs="EPSG:32632"), fmt="swmm")
    assert (seeded.counts(), seeded.version()) == before
