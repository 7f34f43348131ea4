"""Readers register themselves by name; files are matched by content first, then by extension."""

from __future__ import annotations

from pathlib import Path

from .base import ImportContext, ImportError_, ImportResult, Reader

READERS: dict[str, Reader] = {}
_SNIFF_BYTES = 65536


def register(reader: Reader, *, overwrite: bool = False) -> Reader:
    """Add a reader under its name; a name already taken raises ValueError unless ``overwrite``."""
    if reader.name in READERS and not overwrite:
        raise ValueError(f"a reader named {reader.name!r} is already registered")
    READERS[reader.name] = reader
    return reader


def detect(path: Path, fmt: str | None = None) -> Reader:
    """The reader for ``path``: ``fmt`` if given, else the first whose ``sniff`` accepts the file's
    head, else the first registered for its extension."""
    _load_builtin()
    name = path.name
    if fmt is not None:
        try:
            return READERS[fmt]
        except KeyError:
            raise ImportError_(
                f"Unknown format {fmt!r}; known formats: {', '.join(sorted(READERS))}.", file=name
            ) from None
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise ImportError_(f"Cannot read the file: {exc.strerror}.", file=name) from None
    if not head.strip():
        raise ImportError_("The file is empty.", file=name)
    for reader in READERS.values():
        if reader.sniff(head, path):
            return reader
    if (known := _not_supported(head, name)) is not None:
        raise ImportError_(known, file=name)
    lower = name.lower()
    for reader in READERS.values():
        if any(lower.endswith(ext) for ext in reader.extensions):
            return reader
    raise ImportError_(
        "Unrecognised file format; known formats: "
        + ", ".join(f"{r.name} ({', '.join(r.extensions)})" for r in READERS.values())
        + ".",
        file=name,
    )


def read(path: str | Path, ctx: ImportContext, fmt: str | None = None) -> ImportResult:
    """Read one file with the reader that fits it."""
    path = Path(path)
    reader = detect(path, fmt)
    ctx.filename = ctx.filename or path.name
    result = reader.read(path, ctx)
    result.format = reader.name
    return result


def _not_supported(head: bytes, name: str) -> str | None:
    """A message naming a well-known format this service does not read (ZIP, IFC, shapefile), else None."""
    lower = name.lower()
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return (
            "This is a ZIP archive; unzip it and import the files inside (CityJSON, CityGML, GeoJSON, "
            "LAS/LAZ, EPANET or SWMM)."
        )
    if head.lstrip()[:12] == b"ISO-10303-21" or lower.endswith((".ifc", ".ifczip", ".ifcxml")):
        return "This is an IFC (BIM) file; IFC is not supported yet: export the building as CityGML or CityJSON."
    if head[:4] == b"\x00\x00\x27\x0a" or lower.endswith((".shp", ".shx", ".dbf")):
        return (
            "This is an ESRI shapefile; shapefiles are not read: convert it to GeoJSON "
            "(for example: ogr2ogr -f GeoJSON out.geojson in.shp) and import that."
        )
    return None


def _load_builtin() -> None:
    """Import the built-in reader modules (each registers itself).  A module whose optional dependency
    is missing registers a stand-in that fails with an install hint when used."""
    import importlib

    for mod in ("cityjson", "citygml", "geojson", "las", "epanet", "swmm", "ifc", "city_layers", "valves_csv"):
        try:
            importlib.import_module(f"{__package__}.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{mod}":
                continue  # not written yet
            raise
