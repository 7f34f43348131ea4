"""Output formats, registered by name as the readers are (:mod:`cim.io.registry`): a new output format is one
:class:`Output` and one :func:`register_writer` call.

A writer turns a collection's features into byte chunks, streamed (bounded memory whatever the size).  It gets
the features as a *factory* (``features()`` gives a fresh iterator each call), so that two-pass formats
(CityJSON: the vertices, then the objects) can read them twice.  ``cim export`` and the service's
``/collections/{id}/items?f=...`` streams use these writers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import orjson
from pydantic import BaseModel

from ..collections import CollectionSpec
from ..crs import OutputCRS
from ..errors import InvalidParameter
from ..model import City

Features = Callable[[], Iterable[BaseModel]]


@dataclass(frozen=True)
class OutputContext:
    """What a writer needs besides the features: the city, the collection, the output CRS and the properties."""

    city: City
    spec: CollectionSpec
    out: OutputCRS
    properties: Sequence[str] | None = None
    skip_geometry: bool = False


@dataclass(frozen=True)
class Output:
    """An output format: ``write(context, features)`` yields the file's bytes in chunks.

    ``city_crs``: the format is always written in the city CRS (CityJSON), whatever ``context.out`` says.
    """

    name: str
    media_type: str
    extension: str
    description: str
    write: Callable[[OutputContext, Features], Iterator[bytes]]
    city_crs: bool = False


WRITERS: dict[str, Output] = {}


def register_writer(output: Output, *, overwrite: bool = False) -> Output:
    """Add an output format under its name; a name already taken raises ValueError unless ``overwrite``."""
    if output.name in WRITERS and not overwrite:
        raise ValueError(f"an output format named {output.name!r} is already registered")
    WRITERS[output.name] = output
    return output


def get_writer(name: str, parameter: str = "f") -> Output:
    """The output format ``name``, or InvalidParameter naming ``parameter`` and the known formats."""
    try:
        return WRITERS[name]
    except KeyError:
        raise InvalidParameter(parameter, f"Unknown output format {name!r}; known: {', '.join(WRITERS)}.") from None


# -- the built-in formats ------------------------------------------------------------------------------------------
def _geojson(ctx: OutputContext, features: Features) -> Iterator[bytes]:
    from ..export import geojson_seq_chunks

    yield b'{"type":"FeatureCollection","features":['
    sep = b""
    for chunk in geojson_seq_chunks(
        ctx.spec, features(), ctx.out, properties=ctx.properties, skip_geometry=ctx.skip_geometry
    ):
        for line in chunk.splitlines():
            yield sep + line
            sep = b","
    yield b'],"crs_uri":' + orjson.dumps(ctx.out.uri) + b"}"


def _geojsonseq(ctx: OutputContext, features: Features) -> Iterator[bytes]:
    from ..export import geojson_seq_chunks

    yield from geojson_seq_chunks(
        ctx.spec, features(), ctx.out, properties=ctx.properties, skip_geometry=ctx.skip_geometry
    )


def _csv(ctx: OutputContext, features: Features) -> Iterator[bytes]:
    from ..export import csv_chunks

    for text in csv_chunks(ctx.spec, features(), ctx.out, properties=ctx.properties, skip_geometry=ctx.skip_geometry):
        yield text.encode()


def _cityjson(ctx: OutputContext, features: Features) -> Iterator[bytes]:
    from .cityjson_out import cityjson_chunks

    yield from cityjson_chunks(ctx.city, ctx.spec, features)


def _cityjsonseq(ctx: OutputContext, features: Features) -> Iterator[bytes]:
    from .cityjson_out import cityjsonseq_chunks

    yield from cityjsonseq_chunks(ctx.city, ctx.spec, features())


for _output in (
    Output("geojson", "application/geo+json", ".geojson", "GeoJSON FeatureCollection (RFC 7946 + crs_uri)", _geojson),
    Output("geojsonseq", "application/geo+json-seq", ".geojsons", "Newline-delimited GeoJSON features", _geojsonseq),
    Output("csv", "text/csv", ".csv", "One row per feature, the queryables, geometry as WKT", _csv),
    Output("cityjson", "application/city+json", ".city.json", "CityJSON 2.0, city CRS", _cityjson, city_crs=True),
    Output(
        "cityjsonseq",
        "application/city+json-seq",
        ".city.jsonl",
        "CityJSONSeq (CityJSONFeature lines), city CRS",
        _cityjsonseq,
        city_crs=True,
    ),
):
    register_writer(_output)

__all__ = ["Output", "OutputContext", "WRITERS", "register_writer", "get_writer"]
