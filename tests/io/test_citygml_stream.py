"""The CityGML reader streams (lxml ``iterparse``, BATCH top-level buildings at a time, each batch reprojected,
built and encoded for the store): what it stores must not depend on where the batches fall.

Every real CityGML file (../shared/data/buildings and tests/data) is read streamed one building a batch into
encoded features, and as one batch into pydantic models (the whole-file read of before the batches); the rows the
store would write (ids, JSON documents, 2-D WKB, 3-D boxes), the warnings, the CRS and the axis order must be
equal, byte for byte.  Real buildings copied many times over (new ids) must each store the original's document
whatever batch they fall in, through ``import_files`` into a store; a fault in a late batch names the file, the
building and the line, and leaves the store as it was.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cim.io.citygml as citygml
from cim.encoded import Encoded
from cim.io import ImportContext, ImportError_, import_files, read
from cim.io.citygml import CityGMLReader, _Parser
from cim.model import City
from cim.store import open_store
from cim.store.base import prepare_rows

from ..conftest import shared_data

JAPAN = City(name="Yokosuka", crs_epsg=6677, vertical_datum="EPSG:6695")
BERLIN = City(name="Berlin", crs_epsg=25833, vertical_datum="EPSG:5783")
BERLIN_7837 = City(name="Berlin", crs_epsg=25833, vertical_datum="EPSG:7837")
UTM32 = City(name="elsewhere", crs_epsg=32632)  # a city where every file is reprojected, datum warnings
DATA = Path(__file__).resolve().parents[1] / "data"
REAL = [  # (file under ../shared/data/buildings or tests/data, city)
    ("52397519_bldg_6697_op.gml", JAPAN),
    ("52397519_bldg_6697_op.gml", UTM32),
    ("Berlin_Moabit_1Bldg_v2.gml", BERLIN),
    ("Berlin_Moabit_1Bldg_v3.gml", BERLIN),
    ("Berlin_Moabit_1Bldg_v2.gml", UTM32),
    ("berlin_gk4_easting_first.gml", BERLIN_7837),
]


def real(name: str) -> Path:
    return DATA / name if (DATA / name).exists() else shared_data("buildings", name)


def _read(path: Path, city: City, batch: int, monkeypatch, *, encode: bool, crs: str | None = None):
    monkeypatch.setattr(citygml, "BATCH", batch)
    ctx = ImportContext(city=city, crs=crs, encode=encode)
    result = read(path, ctx, fmt="citygml")
    return result, ctx


def _rows(features) -> dict:
    return {
        cid: (r.ids, r.docs, r.geoms, [tuple(map(float, b)) for b in r.boxes])
        for cid, r in prepare_rows(features).items()
    }


def assert_same(path: Path, city: City, monkeypatch, batch: int = 1, crs: str | None = None) -> int:
    """Streamed (``batch`` buildings a batch, encoded) and whole (one batch, models) reads store the same."""
    whole, wctx = _read(path, city, 10**9, monkeypatch, encode=False, crs=crs)
    streamed, sctx = _read(path, city, batch, monkeypatch, encode=True, crs=crs)
    assert whole.features and not any(isinstance(f, Encoded) for f in whole.features)
    assert all(isinstance(f, Encoded) for f in streamed.features)
    assert _rows(streamed.features) == _rows(whole.features)
    assert streamed.warnings == whole.warnings
    assert streamed.source_crs == whole.source_crs
    assert str(sctx.resolved_crs) == str(wctx.resolved_crs) and sctx.axis_used == wctx.axis_used
    return len(whole.features)


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "city"), REAL, ids=[f"{n}-{c.crs_epsg}" for n, c in REAL])
def test_real_files_store_the_same_streamed(name, city, monkeypatch):
    assert assert_same(real(name), city, monkeypatch) == (13 if name.startswith("5239") else 1)


def copies(text: str, n: int, strip_srs: int = 0) -> str:
    """The file with its city-object members repeated ``n`` times, ids (and the references to them) suffixed
    ``~k~``; the first ``strip_srs`` copies (and the root envelope, where they are) lose their srsName."""
    first = re.search(r"<(\w+:)?cityObjectMember>", text)
    end = text.rindex("</", 0, text.rindex("CityModel>"))
    head, body, tail = text[: first.start()], text[first.start() : end], text[end:]
    if strip_srs:
        head = re.sub(r"<gml:boundedBy>.*?</gml:boundedBy>", "", head, flags=re.S)
    out = []
    for k in range(n):
        b = re.sub(r'gml:id="([^"]+)"', rf'gml:id="\1~{k}~"', body)
        b = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#\1~{k}~"', b)
        out.append(re.sub(r' srsName="[^"]*"', "", b) if k < strip_srs else b)
    return head + "".join(out) + tail


@pytest.mark.shared_data
def test_copies_of_real_buildings_store_the_original_in_any_batch(tmp_path, monkeypatch):
    """Yokosuka's 13 buildings (15 objects with parts, LOD0/1/2, latitude-first EPSG:6697) 11 times over, 5
    buildings a batch, so that batches cut through the copies: each copy stores the original's document."""
    path = tmp_path / "yokosuka11.gml"
    path.write_text(copies(real("52397519_bldg_6697_op.gml").read_text(encoding="utf-8"), 11), encoding="utf-8")
    assert assert_same(path, JAPAN, monkeypatch, batch=5) == 143
    original, _ = _read(real("52397519_bldg_6697_op.gml"), JAPAN, 10**9, monkeypatch, encode=False)
    want = _rows(original.features)["buildings"]
    monkeypatch.setattr(citygml, "BATCH", 5)
    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(JAPAN)
    report = import_files(store, [path])
    assert report.counts == {"buildings": 143}
    stored = {f.id: f for f in store.iter_features("buildings")}
    got = _rows(list(stored.values()))["buildings"]
    by_id = dict(zip(got[0], got[1], strict=True))
    for k in range(11):
        for i, doc in zip(want[0], want[1], strict=True):
            assert by_id[f"{i}~{k}~"].replace(f"~{k}~".encode(), b"") == doc, (i, k)
    store.close()


@pytest.mark.shared_data
def test_srs_name_only_after_the_first_batch(tmp_path, monkeypatch):
    """Rings without srsName take the file's first one even where it comes batches later (they wait for it)."""
    path = tmp_path / "late.gml"
    path.write_text(copies(real("Berlin_Moabit_1Bldg_v2.gml").read_text(), 4, strip_srs=3))
    assert "srsName" not in path.read_text()[: path.read_text().index("~3~")]
    assert assert_same(path, BERLIN, monkeypatch, batch=1) == 4
    streamed, _ = _read(path, BERLIN, 1, monkeypatch, encode=False)
    fp = [f.footprint for f in streamed.features]
    assert fp[0] == fp[1] == fp[2] == fp[3] == load_one(BERLIN, monkeypatch).footprint


def load_one(city: City, monkeypatch):
    (b,) = _read(real("Berlin_Moabit_1Bldg_v2.gml"), city, 10**9, monkeypatch, encode=False)[0].features
    return b


@pytest.mark.shared_data
def test_no_srs_name_at_all_takes_crs(tmp_path, monkeypatch):
    path = tmp_path / "nosrs.gml"
    path.write_text(re.sub(r' srsName="[^"]*"', "", copies(real("Berlin_Moabit_1Bldg_v2.gml").read_text(), 3)))
    assert assert_same(path, BERLIN, monkeypatch, batch=1, crs="EPSG:25833+5783") == 3


@pytest.mark.shared_data
def test_members_comments_and_containers(tmp_path, monkeypatch):
    """Comments and processing instructions, a ``gml:featureMembers`` holding buildings and other features,
    other city objects: the same buildings, and the others counted by type, as in one batch."""
    text = copies(real("Berlin_Moabit_1Bldg_v2.gml").read_text(), 3)
    member = re.search(r"<cityObjectMember>.*?</cityObjectMember>", text, flags=re.S).group(0)
    inner = member.replace("<cityObjectMember>", "").replace("</cityObjectMember>", "")
    veg = '<veg:SolitaryVegetationObject gml:id="tree"/>'
    extra = (
        f"<!-- a comment --><cityObjectMember><?pi x?>{veg}</cityObjectMember>"
        f"<gml:featureMembers>{inner.replace('BLDG_', 'FM_')}{veg}{veg}</gml:featureMembers>"
    )
    path = tmp_path / "mixed.gml"
    path.write_text(text.replace("</CityModel>", extra + "</CityModel>"))
    assert assert_same(path, BERLIN, monkeypatch, batch=1) == 4
    result, _ = _read(path, BERLIN, 1, monkeypatch, encode=True)
    assert any("SolitaryVegetationObject 3" in w for w in result.warnings)


def test_batches_hold_at_most_batch_buildings(tmp_path, monkeypatch):
    """The parser hands over BATCH buildings at a time and keeps none of the file's earlier ones."""
    text = copies((DATA / "berlin_gk4_easting_first.gml").read_text(), 23)
    path = tmp_path / "gk23.gml"
    path.write_text(text)
    monkeypatch.setattr(citygml, "BATCH", 5)
    p = _Parser("gk23.gml")
    seen: list[tuple[int, int]] = []

    def flush() -> None:
        seen.append((len(p.buildings), len(p.rings)))
        p.next_batch()

    CityGMLReader._parse(path, p, ImportContext(city=BERLIN_7837), flush)
    assert len(p.buildings) == 3 and p.n_buildings == 23  # the rest, for the last batch
    rings = len(p.rings) // 3  # per building (the copies are alike)
    assert rings > 0 and seen == [(5, 5 * rings)] * 4


@pytest.mark.shared_data
def test_fault_in_a_late_batch_names_line_and_leaves_the_store(tmp_path, monkeypatch):
    text = copies(real("Berlin_Moabit_1Bldg_v2.gml").read_text(), 9)
    k = text.index('gml:id="BLDG_0003000b001e15b2~7~"')
    m = re.compile(r"<gml:posList[^>]*>").search(text, k)
    bad = text[: m.end()] + "1.5 " + text[m.end() :]
    line = bad.count("\n", 0, bad.rindex("<gml:LinearRing", 0, m.start())) + 1  # the ring's line
    path = tmp_path / "bad.gml"
    path.write_text(bad)
    monkeypatch.setattr(citygml, "BATCH", 2)
    store = open_store(tmp_path / "c.sqlite", create=True)
    store.init(BERLIN)
    import_files(store, [real("Berlin_Moabit_1Bldg_v3.gml")])
    before = (store.counts(), store.version(), [f.model_dump_json() for f in store.iter_features("buildings")])
    with pytest.raises(ImportError_) as exc:
        import_files(store, [path])
    where = exc.value.where
    assert (where["file"], where["feature"], where["line"]) == ("bad.gml", "BLDG_0003000b001e15b2~7~", line)
    path.write_text(text[: len(text) * 9 // 10])  # cut: the XML error comes after 8 good buildings
    with pytest.raises(ImportError_) as exc:
        import_files(store, [path])
    assert (
        exc.value.where["file"] == "bad.gml" and exc.value.where["line"] == text[: len(text) * 9 // 10].count("\n") + 1
    )
    after = (store.counts(), store.version(), [f.model_dump_json() for f in store.iter_features("buildings")])
    assert after == before
    store.close()
