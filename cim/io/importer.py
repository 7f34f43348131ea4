"""Import files into a store: read every file, then one write — all the files land, or none."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..store import Store
from .base import ImportContext, ImportError_
from .registry import read


@dataclass
class ImportReport:
    counts: dict[str, int] = field(default_factory=dict)  # features written per collection
    files: list[dict] = field(default_factory=list)  # per file: name, format, source_crs, counts, warnings
    terrain: bool = False
    clashes: Any = None  # cim.analysis.clashes.ClashReport when the import was checked for clashes
    version: int | None = None  # the version the import created (cim.versions)


def import_files(
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
    recorded with it).  On any error nothing is written and
    an ImportError_ (or InvalidFeature / DuplicateFeature from the store) says where.
    """
    city = store.city()
    terrain = store.terrain()
    features, report = [], ImportReport()
    new_terrain = None
    points: list[np.ndarray] = []  # LiDAR building points of every file
    blobs: dict[str, bytes] = {}  # named blobs of every file (e.g. an EPANET file's text)
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
            store=store,
        )
        try:
            result = read(path, ctx, fmt)
        except ImportError_ as exc:
            exc.where.setdefault("file", name)
            exc.where["file"] = name
            raise
        if result.terrain is not None:
            new_terrain = result.terrain
        features += result.features
        blobs.update(result.blobs)
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
            per[type(f).__name__] = per.get(type(f).__name__, 0) + 1
        report.files.append(
            {
                "file": name,
                "format": result.format,
                "source_crs": result.source_crs,
                "features": per,
                "terrain": result.terrain is not None,
                "warnings": result.warnings,
                **({"info": result.info} if result.info else {}),
            }
        )
    checks = set(check) | ({"clashes"} if reject_on_clash else set())
    if checks - {"clashes"}:
        from ..errors import InvalidParameter

        raise InvalidParameter("check", f"Unknown check {sorted(checks - {'clashes'})[0]!r}; the checks are: clashes.")
    if "clashes" in checks:
        from ..analysis.clashes import ClashesFound, clashes_of_new

        if progress:
            progress("checking clashes", 0.88)
        report.clashes = clashes_of_new(store, features, replace=replace)
        if reject_on_clash and report.clashes.clashes:
            raise ClashesFound(report.clashes)
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
