"""``cim export``: a collection (optionally filtered) to CityJSON, CityJSONSeq, GeoJSON or CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from ..errors import CIMError
from . import StoreOpt, app, console, fail


@app.command()
def export(
    store: StoreOpt,
    collection: Annotated[str, typer.Option(help="buildings, pipes, pipe-nodes or underground-structures.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file.")],
    fmt: Annotated[
        Literal["cityjson", "cityjsonseq", "geojson", "csv"], typer.Option("--format", help="Output format.")
    ] = "geojson",
    filter: Annotated[str | None, typer.Option(help='CQL2 text or JSON filter, e.g. "height > 100".')] = None,
    crs: Annotated[
        str | None, typer.Option(help="Output CRS for GeoJSON/CSV (default CRS84); CityJSON is always in the city CRS.")
    ] = None,
    filter_crs: Annotated[str | None, typer.Option(help="CRS of geometry literals in the filter.")] = None,
) -> None:
    """Write every matching feature, streamed (bounded memory whatever the size)."""
    import orjson

    from ..collections import get_spec
    from ..crs import OutputCRS, check_supported
    from ..export import csv_chunks, geojson_seq_chunks
    from ..io.cityjson_out import cityjson_chunks, cityjsonseq_chunks
    from ..query.cql2 import parse_filter
    from ..store import open_store

    try:
        s = open_store(store)
        spec = get_spec(collection)
        city = s.city()
        flt = None if filter is None else parse_filter(filter, crs=filter_crs, city_epsg=city.crs_epsg)
        ocrs = OutputCRS(city.crs_epsg, check_supported(crs, city.crs_epsg, "crs"))

        def feats():
            return s.iter_features(collection, filter=flt)

        n = 0

        def counted():
            nonlocal n
            for f in feats():
                n += 1
                yield f

        with open(out, "wb") as fh:
            if fmt == "cityjson":
                chunks = cityjson_chunks(city, spec, feats)
                n = None  # type: ignore[assignment]
            elif fmt == "cityjsonseq":
                chunks = cityjsonseq_chunks(city, spec, counted())
            elif fmt == "csv":
                chunks = (c.encode() for c in csv_chunks(spec, counted(), ocrs))
            else:

                def fc():
                    yield b'{"type":"FeatureCollection","features":['
                    sep = b""
                    for chunk in geojson_seq_chunks(spec, counted(), ocrs):
                        for line in chunk.splitlines():
                            yield sep + line
                            sep = b","
                    yield b'],"crs_uri":' + orjson.dumps(ocrs.uri) + b"}"

                chunks = fc()
            for c in chunks:
                fh.write(c)
        s.close()
    except CIMError as exc:
        fail(exc)
    console.print(f"wrote {out} ({fmt}" + (f", {n} features)" if n is not None else ")"))
