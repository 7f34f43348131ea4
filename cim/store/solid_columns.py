"""Each underground feature's solid as packed numbers, kept beside its row (column ``solid``) at write time.

Underground use reads a few hundred to a few thousand candidates per request; parsing their JSON documents and
picking fields was a tenth of a request.  At write time each pipe, pipe node and underground structure gets
the numbers :func:`cim.analysis.solids.underground_solids` needs as one little-endian float64 array (bytes), so
that a request joins the bytes and reads them with one ``np.frombuffer``.  Layout per row (``n`` points, the
``name`` as UTF-8 padded with zeros to a multiple of 8 bytes after the numbers; ``name_len`` -1 for no name,
codes index :data:`CODES`, -1 for none, NaN for an absent number):

* pipes: ``utility, name_len, diameter, width, section_height, n, x0, y0, z0, ...`` (the centreline)
* pipe-nodes: ``kind, utility, name_len, x, y, z, depth, diameter``
* underground-structures: ``kind, name_len, bottom_elevation, top_elevation, section (1 circular, 0 box, -1
  none), width, section_height, n, x0, y0, z0, ...`` (the centreline; n = 0 for a footprint)

Rows written before the column existed hold NULL: readers take the documents then.  The code tables only ever
grow at their end (a value not in them packs as None, and the reader falls back to the document).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

#: collections with a packed solid
PACKED = ("pipes", "pipe-nodes", "underground-structures")

#: the strings behind the codes (append only: stored codes index these)
CODES: dict[str, tuple[str, ...]] = {
    "utility": ("water", "reclaimed", "sewer", "storm", "gas", "heat", "power", "telecom"),
    "node_kind": ("manhole", "valve", "junction", "hydrant", "inlet", "outfall", "reservoir", "tank", "pump"),
    "structure_kind": ("basement", "tunnel", "utility_tunnel", "civil_defence", "station"),
}
_INDEX = {k: {v: i for i, v in enumerate(vals)} for k, vals in CODES.items()}
#: numbers before the centreline / end of row, per collection
HEAD = {"pipes": 6, "pipe-nodes": 8, "underground-structures": 8}

NAN = float("nan")


class _Unpackable(Exception):
    """A document the layout cannot hold (its row keeps NULL: readers use the document)."""


def _num(v: Any) -> float:
    if v is None:
        return NAN
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _Unpackable
    return float(v)


def _code(table: str, v: Any) -> float:
    if v is None:
        return -1.0
    i = _INDEX[table].get(v)
    if i is None:
        raise _Unpackable
    return float(i)


def _points(line: Any) -> list[float]:
    if line is None:
        return []
    out: list[float] = []
    for p in line:
        if len(p) != 3:
            raise _Unpackable
        out += (_num(p[0]), _num(p[1]), _num(p[2]))
    return out


def _name(v: Any) -> tuple[float, bytes]:
    if v is None:
        return -1.0, b""
    if not isinstance(v, str):
        raise _Unpackable
    raw = v.encode()
    return float(len(raw)), raw + b"\0" * (-len(raw) % 8)


def pack(collection: str, doc: dict) -> bytes | None:
    """One stored document's solid as packed bytes (see the module docstring), or None when it has none."""
    try:
        if collection == "pipes":
            cl = _points(doc.get("centreline"))
            nlen, name = _name(doc.get("name"))
            nums = [
                _code("utility", doc.get("utility")),
                nlen,
                _num(doc.get("diameter")),
                _num(doc.get("width")),
                _num(doc.get("section_height")),
                float(len(cl) // 3),
                *cl,
            ]
        elif collection == "pipe-nodes":
            pos = _points([doc.get("position")])
            nlen, name = _name(doc.get("name"))
            nums = [
                _code("node_kind", doc.get("kind")),
                _code("utility", doc.get("utility")),
                nlen,
                *pos,
                _num(doc.get("depth")),
                _num(doc.get("diameter")),
            ]
        elif collection == "underground-structures":
            cl = _points(doc.get("centreline"))
            sec = doc.get("section")
            nlen, name = _name(doc.get("name"))
            nums = [
                _code("structure_kind", doc.get("kind")),
                nlen,
                _num(doc.get("bottom_elevation")),
                _num(doc.get("top_elevation")),
                -1.0 if sec is None else 1.0 if sec == "circular" else 0.0,
                _num(doc.get("width")),
                _num(doc.get("section_height")),
                float(len(cl) // 3),
                *cl,
            ]
        else:
            return None
    except (_Unpackable, TypeError, ValueError):
        return None
    return np.array(nums, dtype="<f8").tobytes() + name


def pack_docs(collection: str, docs: Sequence[bytes]) -> list[bytes | None] | None:
    """The packed solids of a collection's stored JSON documents (parsed in one call), or None for a collection
    without solids (the column stays NULL)."""
    if collection not in PACKED or not docs:
        return None
    parsed = orjson.loads(b"[" + b",".join(docs) + b"]")
    return [pack(collection, d) for d in parsed]


class Unpacked:
    """Packed rows read back: ``data`` (total,) float64, ``start`` (n,) index of each row's first number, ``size``
    (n,) numbers per row; :meth:`col` one header number of every row, :meth:`names` the names."""

    def __init__(self, blobs: Sequence[bytes]) -> None:
        self._raw = b"".join(blobs)
        self.data = np.frombuffer(self._raw, dtype="<f8")
        self.size = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)) // 8
        self.start = np.cumsum(self.size) - self.size

    def __len__(self) -> int:
        return len(self.size)

    def col(self, k: int) -> np.ndarray:
        """(n,) the ``k``-th number of every row."""
        return self.data[self.start + k]

    def codes(self, k: int, table: str) -> list[str | None]:
        """(n,) the strings of the codes in column ``k`` (None for -1)."""
        values = np.array((*CODES[table], None), dtype=object)  # -1 indexes the None at the end
        return values[self.col(k).astype(np.int64)].tolist()

    def names(self, k: int, head: int | np.ndarray) -> list[str | None]:
        """The names (name length in column ``k``; the text after ``head`` numbers of each row)."""
        nlen = self.col(k).astype(np.int64)
        out: list[str | None] = [None] * len(nlen)
        has = np.flatnonzero(nlen >= 0)
        if len(has):
            at = (self.start + head)[has] * 8
            for i, a, n in zip(has.tolist(), at.tolist(), nlen[has].tolist(), strict=True):
                out[i] = self._raw[a : a + n].decode()
        return out

    def points(self, head: int, n: np.ndarray) -> np.ndarray:
        """(sum n, 3) the points of every row, ``n[i]`` of them after ``head`` numbers."""
        n = np.asarray(n, dtype=np.int64)
        if len(n) and (n == n[0]).all() and (self.size == self.size[0]).all():  # one layout: a strided view
            rows = self.data.reshape(len(n), int(self.size[0]))
            return rows[:, head : head + 3 * int(n[0])].reshape(-1, 3)
        k = 3 * n
        idx = np.repeat(self.start + head, k) + (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k))
        return self.data[idx].reshape(-1, 3)
