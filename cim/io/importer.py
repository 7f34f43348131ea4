"""Import files into a store: read every file, then one write — all the files land, or none."""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..encoded import Encoded
from ..errors import InvalidParameter
from ..store import Store
from ..terrain import Terrain
from ._las_grid import CellGrid, build_dem
from .base import ImportContext, ImportError_
from .placement import AXIS_ORDERS, check_result, crs_code
from .registry import read

_AXIS_NOTE = {"en": "easting first (x, y)", "ne": "northing first, the CRS's official order"}


TERRAIN_CELLS = "terrain/cells"  # blob: the per-cell ground sums behind the DEM (terrain mosaics)


@dataclass
class ImportReport:
    """What an import stored: counts per collection, files and formats, warnings."""

    counts: dict[str, int] = field(default_factory=dict)  # features written per collection
    files: list[dict] = field(default_factory=list)  # per file: name, format, source_crs, counts, warnings
    terrain: bool = False
    clashes: Any = None  # cim.analysis.clashes.ClashReport when the import was checked for clashes
    version: int | None = None  # the version the import created (cim.versions)
    skipped: list[dict] = field(default_factory=list)  # --skip-invalid: {"file", "feature", "reason"} each


def import_files(store: Store, paths: Sequence[str | Path], **kw: Any) -> ImportReport:
    """Read ``paths`` into the store's city and write them in one transaction (see :func:`_import_files`).

    Python's cyclic garbage collector is paused meanwhile: a parsed file is millions of small objects,
    and every collection would walk all of them again (a third of a CityJSON import's time); nothing
    an import makes holds cycles that must be freed before it ends.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _import_files(store, paths, **kw)
    finally:
        if paused:
            gc.enable()


def _import_files(  # noqa: C901 - predates the complexity gate (issue 14); split it when it next changes
    store: Store,
    paths: Sequence[str | Path],
    *,
    crs: str | None = None,
    fmt: str | None = None,
    progress: Callable[[str, float], None] | None = None,
    replace: bool = False,
    names: Sequence[str] | None = None,
    utility: str | None = None,
    max_features: int | None = None,
    max_points: int | None = None,
    origin: str | None = None,
    check: Sequence[str] = (),
    reject_on_clash: bool = False,
    author: str | None = None,
    note: str | None = None,
    source_crs: str | None = None,
    axis_order: str = "auto",
    force: bool = False,
    default_height: float | None = None,
    storey_height: float = 3.0,
    skip_invalid: bool = False,
    cell: float | None = None,
    replace_terrain: bool = False,
    collection: str | None = None,
    jobs: int | None = None,
) -> ImportReport:
    """Read ``paths`` into the store's city and write them in one transaction.

    ``crs`` is used for files that declare none; ``names`` (same length as ``paths``) are the names to
    report in errors (uploads are stored under generated names); ``utility`` is the default utility of pipe
    files that name none (``--utility``); ``origin`` places BIM models that carry no georeference
    (``--origin E,N[,H[,angle]]`` in ``crs``, see :mod:`cim.io.ifc`); ``max_features`` and ``max_points``
    bound what one import takes.  ``check=["clashes"]`` tests the new pipes, structures and buildings against
    the stored ones near them and among themselves before writing (:mod:`cim.analysis.clashes`; the report
    is ``report.clashes``); ``reject_on_clash`` refuses the import (ClashesFound, with the report) when any
    clash is found.  The write is one version of the city (:mod:`cim.versions`; ``author`` and ``note`` are
    recorded with it).  ``collection`` reads the files as a city-service layer (streets, facilities,
    communities: :mod:`cim.io.city_layers`).  ``jobs``: worker processes over the batches of a large CityJSONSeq
    (None: one per idle core for files of 8 MB and more; 0 or 1: in this process; :mod:`cim.io._seq_pool`).
    ``source_crs`` overrides the CRS files declare; ``axis_order`` (auto, en, ne) is the coordinate order of
    files in northing-first CRSs; every file's content is checked to lie in the area of use of its CRS and of
    the city CRS (:mod:`cim.io.placement`; ``force`` lets data outside the city CRS's area in, with a warning).
    ``default_height`` and ``storey_height`` (metres) fill building heights; ``skip_invalid`` skips invalid
    features (listed in ``report.skipped``).  Point clouds add to the terrain mosaic (the newer survey wins
    where they overlap; ``replace_terrain`` starts it afresh; ``cell`` sets the DEM cell, metres).
    On any error nothing is written and
    an ImportError_ (or InvalidFeature / DuplicateFeature from the store) says where.
    """
    if axis_order not in AXIS_ORDERS:
        raise InvalidParameter(
            "axis_order", f"--axis-order must be one of {', '.join(AXIS_ORDERS)}, not {axis_order!r}."
        )
    for pname, v in (("default_height", default_height), ("storey_height", storey_height), ("cell", cell)):
        if v is not None and not (math.isfinite(v) and 0 < v <= 1000):
            raise InvalidParameter(pname, f"--{pname.replace('_', '-')} must be a positive number of metres, not {v}.")
    city = store.city()
    terrain = store.terrain()
    features, report = [], ImportReport()
    new_terrain = None
    grids: list = []  # point clouds' per-cell ground sums, in file order
    points: list[np.ndarray] = []  # LiDAR building points of every file
    blobs: dict[str, bytes] = {}  # named blobs of every file (an EPANET or SWMM model's source)
    nodes: dict[str, tuple[float, float, float, float]] = {}  # manholes seen so far, for later pipe files
    n = max(len(paths), 1)
    for k, path in enumerate(paths):
        name = names[k] if names else Path(path).name

        def step(f: float, k: int = k, name: str = name) -> None:
            if progress:
                progress(f"reading {name}", (k + f) / n * 0.9)

        ctx = ImportContext(
            city=city,
            crs=crs,
            terrain=new_terrain or terrain,
            progress=step,
            filename=name,
            default_utility=utility,
            nodes=nodes,
            max_points=max_points,
            origin=origin,
            source_crs=source_crs,
            axis_order=axis_order,
            default_height=default_height,
            storey_height=storey_height,
            skip_invalid=skip_invalid,
            cell=cell,
            store=store,
            encode=collection is None and not check and not reject_on_clash,
            jobs=jobs,
        )
        try:
            if collection is not None:
                from .city_layers import read_layer

                result = read_layer(path, ctx, collection, fmt)
            else:
                result = read(path, ctx, fmt)
        except ImportError_ as exc:
            exc.where.setdefault("file", name)
            exc.where["file"] = name
            raise
        try:
            axis_note = None if ctx.axis_used is None else _AXIS_NOTE[ctx.axis_used]
            result.warnings += check_result(result, ctx.resolved_crs, city, name, force=force, axis_note=axis_note)
        except ImportError_ as exc:
            exc.where["file"] = name
            raise
        if ctx.axis_used is not None:
            result.info["axis_order"] = ctx.axis_used
            if ctx.axis_used == "en" and axis_order == "auto":
                result.warnings.append(f"the coordinates were read {_AXIS_NOTE['en']}: they fit the CRS only that way")
        if result.grid is not None:
            grids.append(result.grid)
        if result.terrain is not None:
            new_terrain = result.terrain
        for sk in ctx.skipped:
            report.skipped.append({"file": name, **sk})
        features += result.features
        blobs.update(getattr(result, "blobs", None) or {})
        if max_features is not None and len(features) > max_features:
            raise ImportError_(
                f"The import holds more than {max_features:,} features, the most this service takes "
                "at once; split it or raise the limit.",
                file=name,
            )
        if result.building_points is not None and len(result.building_points):
            points.append(result.building_points)
        per: dict[str, int] = {}
        for f in result.features:
            kind = f.kind if isinstance(f, Encoded) else type(f).__name__
            per[kind] = per.get(kind, 0) + 1
        report.files.append(
            {
                "file": name,
                "format": result.format,
                "source_crs": result.source_crs
                if source_crs is None or ctx.resolved_crs is None
                else crs_code(ctx.resolved_crs),  # --source-crs: what was used, not what the file says
                "features": per,
                "terrain": result.terrain is not None,
                "warnings": result.warnings,
                **({"skipped": list(ctx.skipped)} if ctx.skipped else {}),
                **({"info": result.info} if result.info else {}),
            }
        )
    checks = set(check) | ({"clashes"} if reject_on_clash else set())
    if checks - {"clashes"}:
        raise InvalidParameter("check", f"Unknown check {sorted(checks - {'clashes'})[0]!r}; the checks are: clashes.")
    if "clashes" in checks:
        from ..analysis.clashes import ClashesFound, clashes_of_new

        if progress:
            progress("checking clashes", 0.88)
        report.clashes = clashes_of_new(store, features, replace=replace)
        if reject_on_clash and report.clashes.clashes:
            raise ClashesFound(report.clashes)
    if grids or (new_terrain is not None and replace_terrain):
        new_terrain, cells = _mosaic(store, terrain, grids, new_terrain, cell=cell, replace=replace_terrain)
        if cells is not None:
            blobs[TERRAIN_CELLS] = cells
    if progress:
        progress("writing", 0.9)
    from ..versions import write as write_version

    report.counts, version = write_version(
        store,
        features,
        terrain=new_terrain,
        replace=replace,
        building_points=np.concatenate(points) if points else None,
        blobs=blobs,
        author=author,
        note=note or "import " + ", ".join(f["file"] for f in report.files),
    )
    report.version = version.n
    report.terrain = new_terrain is not None
    if progress:
        progress("done", 1.0)
    return report


def _mosaic(
    store: Store,
    old: Terrain | None,
    grids: list[CellGrid],
    new: Terrain | None,
    *,
    cell: float | None,
    replace: bool,
) -> tuple[Terrain | None, bytes | None]:
    """The city's DEM after adding this import's point clouds: (terrain, the cells blob to store).

    The per-cell ground sums of the stored mosaic (blob ``terrain/cells``) and of each new file are
    overlaid in order, the newer winning in every base cell where it holds points, and the DEM is made
    again from the result, so two tiles give the DEM of the whole survey.  A stored DEM without its cells
    (older stores, the sample city) is kept where the new DEM has no data.
    """
    stored = None if replace else store.get_blob(TERRAIN_CELLS)
    merged = CellGrid.from_bytes(stored) if stored is not None else None
    for g in grids:
        merged = g if merged is None else merged.overlay(g)
    if merged is None:
        return new, None
    if len(grids) == 1 and stored is None and new is not None:
        dem = new  # one file into an empty mosaic: the reader's DEM
    else:
        dem, _ = build_dem(merged, cell)  # type: ignore[assignment]
    if dem is not None and old is not None and stored is None and not replace:
        dem = overlay_dem(old, dem)
    return dem, merged.to_bytes()


def overlay_dem(old: Terrain, new: Terrain) -> Terrain:
    """``new`` where it has data, ``old`` (bilinear, resampled to ``new``'s cells) elsewhere, on the union."""
    c = new.cell
    ox0, oy0, _, ox1, oy1, _ = old.bounds
    nx0, ny0, _, nx1, ny1, _ = new.bounds
    i0 = int(np.floor((min(ox0, nx0) - new.x0) / c))
    j0 = int(np.floor((min(oy0, ny0) - new.y0) / c))
    i1 = int(np.ceil((max(ox1, nx1) - new.x0) / c))
    j1 = int(np.ceil((max(oy1, ny1) - new.y0) / c))
    x0, y0 = new.x0 + i0 * c, new.y0 + j0 * c
    gx, gy = np.meshgrid(x0 + np.arange(i1 - i0 + 1) * c, y0 + np.arange(j1 - j0 + 1) * c)
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    z = new.sample(xy)
    z = np.where(np.isfinite(z), z, old.sample(xy)).reshape(gx.shape)
    return Terrain(float(x0), float(y0), c, z.astype(np.float32))
