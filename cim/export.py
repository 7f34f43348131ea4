"""Writers for query results: CSV (one row per feature, geometry as WKT) and GeoJSON text sequences.

Each writer takes an iterator of features and yields text chunks, so a big result streams with
bounded memory (features are encoded a batch at a time).  CityJSON writers are in ``cim.io.cityjson_out``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

import orjson
import shapely
from pydantic import BaseModel

from .collections import CollectionSpec
from .crs import OutputCRS
from .geojson import _nest, encode_features, project, select
from .query.queryables import queryables

BATCH = 500


def batched(it: Iterable[BaseModel], n: int = BATCH) -> Iterator[list[BaseModel]]:
    """The items in lists of at most ``n``."""
    it = iter(it)
    while chunk := list(islice(it, n)):
        yield chunk


def _wkt(gtype: str, parts: list[Any]) -> str:
    geom = shapely.from_geojson(orjson.dumps({"type": gtype, "coordinates": _nest(gtype, parts)}))
    return shapely.to_wkt(geom, rounding_precision=-1, trim=True)


def csv_columns(spec: CollectionSpec, properties: Sequence[str] | None) -> list[str]:
    """id, then the scalar properties (queryables) or the ones asked for."""
    names = list(properties) if properties is not None else [k for k, q in queryables(spec.id).items() if not q.derived]
    return ["id", *[n for n in names if n != "id"]]


def csv_chunks(
    spec: CollectionSpec,
    features: Iterable[BaseModel],
    out: OutputCRS,
    *,
    properties: Sequence[str] | None = None,
    skip_geometry: bool = False,
) -> Iterator[str]:
    """CSV text: a header, then one row per feature; ``geometry`` (WKT in ``out``'s CRS and axis order) last."""
    cols = csv_columns(spec, properties)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols + ([] if skip_geometry else ["geometry"]))
    yield buf.getvalue()
    for chunk in batched(features):
        buf.seek(0)
        buf.truncate()
        geoms = [None] * len(chunk) if skip_geometry else project(spec, chunk, out)
        for f, g in zip(chunk, geoms, strict=True):
            props = spec.properties(f)
            row = [f.id] + [_cell(props.get(c)) for c in cols[1:]]  # type: ignore[attr-defined]
            if g is not None:
                row.append(_wkt(*g))
            w.writerow(row)
        yield buf.getvalue()


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return orjson.dumps(v).decode()
    return v


def geojson_seq_chunks(
    spec: CollectionSpec,
    features: Iterable[BaseModel],
    out: OutputCRS,
    *,
    properties: Sequence[str] | None = None,
    skip_geometry: bool = False,
) -> Iterator[bytes]:
    """Newline-delimited GeoJSON features (RFC 8142 without the record separator)."""
    for chunk in batched(features):
        yield b"".join(
            orjson.dumps(f) + b"\n"
            for f in encode_features(spec, chunk, out, properties=properties, skip_geometry=skip_geometry)
        )


__all__ = ["csv_chunks", "csv_columns", "geojson_seq_chunks", "batched", "select"]
