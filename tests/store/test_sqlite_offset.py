"""SQLite: pages at an offset count through an index of the row keys, not through the rows with their documents."""

from __future__ import annotations

import sqlite3

from cim.store import open_store
from tests import common


def _plan(path: str) -> str:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "EXPLAIN QUERY PLAN SELECT doc FROM f_buildings WHERE fid IN "
            "(SELECT fid FROM f_buildings ORDER BY fid LIMIT 10 OFFSET 50) ORDER BY fid"
        ).fetchall()
        return " | ".join(r[-1] for r in rows)
    finally:
        conn.close()


def test_offset_pages_use_the_key_index_and_older_stores_gain_it(tmp_path):
    path = str(tmp_path / "city.sqlite")
    store = open_store(path, create=True)
    store.init(common.CITY)
    store.write(common.all_features())
    left = [b.id for b in common.buildings()]
    got = []
    for off in range(0, len(left), 9):
        got += [f.id for f in store.query("buildings", limit=9, offset=off).features]
    assert got == left
    assert store.query("buildings", limit=5, offset=len(left)).features == []
    assert [f.id for f in store.query("buildings", limit=5, offset=len(left) - 2).features] == left[-2:]
    store.close()
    assert "COVERING INDEX ix_f_buildings_fid" in _plan(path)

    conn = sqlite3.connect(path)  # a store made before the index
    conn.execute("DROP INDEX ix_f_buildings_fid")
    conn.commit()
    conn.close()
    assert "COVERING INDEX" not in _plan(path)
    store = open_store(path)
    store.city()  # the first read of the city record (every service request makes one) brings tables up to date
    assert [f.id for f in store.query("buildings", limit=4, offset=30).features] == left[30:34]
    store.close()
    assert "COVERING INDEX ix_f_buildings_fid" in _plan(path)
