"""``cim export``: a collection (optionally filtered) in any registered output format (:mod:`cim.io.writers`:
GeoJSON, GeoJSON text sequences, CSV, CityJSON, CityJSONSeq)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import CIMError
from ..io.writers import WRITERS
from . import StoreOpt, app, console, fail


@app.command()
def export(
    store: StoreOpt,
    collection: Annotated[str, typer.Option(help="buildings, pipes, pipe-nodes or underground-structures.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file.")],
    fmt: Annotated[
        str, typer.Option("--format", help="Output format: " + ", ".join(WRITERS) + " (cim.io.writers).")
    ] = "geojson",
    filter: Annotated[str | None, typer.Option(help='CQL2 text or JSON filter, e.g. "height > 100".')] = None,
    crs: Annotated[
        str | None, typer.Option(help="Output CRS for GeoJSON/CSV (default CRS84); CityJSON is always in the city CRS.")
    ] = None,
    filter_crs: Annotated[str | None, typer.Option(help="CRS of geometry literals in the filter.")] = None,
) -> None:
    """Write every matching feature, streamed (bounded memory whatever the size)."""
    from ..collections import get_spec
    from ..crs import OutputCRS, check_supported
    from ..io.writers import OutputContext, get_writer
    from ..query.cql2 import parse_filter
    from ..store import open_store

    try:
        s = open_store(store)
        spec = get_spec(collection)
        city = s.city()
        flt = None if filter is None else parse_filter(filter, crs=filter_crs, city_epsg=city.crs_epsg)
        ocrs = OutputCRS(city.crs_epsg, check_supported(crs, city.crs_epsg, "crs"))

        writer = get_writer(fmt, "format")
        n = 0

        def counted():
            nonlocal n
            n = 0  # two-pass formats read the features twice: count the last pass
            for f in s.iter_features(collection, filter=flt):
                n += 1
                yield f

        with open(out, "wb") as fh:
            for chunk in writer.write(OutputContext(city, spec, ocrs), counted):
                fh.write(chunk)
        s.close()
    except CIMError as exc:
        fail(exc)
    console.print(f"wrote {out} ({fmt}, {n} features)")
