"""What every reader shares: the reader interface, the import context, results and errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import CIMError
from ..model import City
from ..terrain import Terrain


class ImportError_(CIMError):  # noqa: N801 - "ImportError" is a builtin
    """A file cannot be imported.  ``where`` names the file and, when known, the feature id or line."""

    title = "Import failed"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        feature: str | None = None,
        line: int | None = None,
        **where: Any,
    ) -> None:
        loc = {k: v for k, v in {"file": file, "feature": feature, "line": line, **where}.items() if v is not None}
        super().__init__(message, where=loc)


@dataclass
class ImportContext:
    """What a reader knows about the target.

    ``city``: the target city (its CRS and height datum are the output's); ``crs``: a CRS given by the
    user for files that declare none (``--crs``), e.g. ``EPSG:7415``; ``terrain``: the store's terrain,
    for depths given below ground; ``progress(fraction)``: optional.  ``default_utility``: the utility for
    formats that do not say (e.g. ``"sewer"`` for a SWMM file of a foul network; readers have their own
    default); ``default_cover``: cover depth (ground to crown, metres) for pipe files that give no burial
    depth (EPANET), None for the city's frost-depth rule.
    """

    city: City
    crs: str | None = None
    terrain: Terrain | None = None
    progress: Callable[[float], None] | None = None
    filename: str = ""
    default_utility: str | None = None
    default_cover: float | None = None
    # node id -> (x, y, ground_z, invert_z), metres, city CRS: shared by the files of one import, so that a
    # pipe file can take its elevations from the manholes of a file read before it (GeoJSON)
    nodes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    max_points: int | None = None  # most points a point-cloud file may hold (decompression bombs)
    # where a BIM model's origin lands, "E,N[,H[,angle]]" in ``crs`` (--origin; IFC files without georeference)
    origin: str | None = None
    source_crs: str | None = None  # --source-crs: overrides the CRS a file declares (wrong headers)
    axis_order: str = "auto"  # --axis-order for northing-first CRSs: auto, en (easting first) or ne
    default_height: float | None = None  # --default-height: metres, for buildings with no other height
    storey_height: float = 3.0  # --storey-height: metres per floor for heights from a floor count
    skip_invalid: bool = False  # --skip-invalid: skip invalid features (listed in ``skipped``) instead of failing
    cell: float | None = None  # --cell: DEM cell size, metres (None: from the point density)
    # filled in by the readers: the CRS a file was read in, the axis order used, the features skipped
    resolved_crs: Any = None
    axis_used: str | None = None
    skipped: list[dict[str, str]] = field(default_factory=list)
    store: Any = None  # the target store, for files that refer to features already in it (valve layers)
    # readers that can may return features already encoded for the store (cim.encoded.Encoded) instead of
    # models: the importer asks for them when nothing after the read needs the models (no clash check)
    encode: bool = False
    # workers over the batches of a large CityJSONSeq (cim.io._seq_pool): None for one per idle core on files of 8 MB
    # and more, 0 or 1 to read in this process
    jobs: int | None = None

    def report(self, fraction: float) -> None:
        if self.progress is not None:
            self.progress(min(1.0, max(0.0, fraction)))


@dataclass
class ImportResult:
    """One file's content, already in the city CRS (metres) and height datum."""

    features: list[Any] = field(default_factory=list)  # feature models (Building, PipeSegment ...)
    terrain: Terrain | None = None
    building_points: np.ndarray | None = None  # (n, 3) float, metres: LiDAR class-6 points
    source_crs: str | None = None
    warnings: list[str] = field(default_factory=list)
    format: str = ""
    info: dict[str, Any] = field(default_factory=dict)  # figures worth reporting, e.g. {"ground_points": n}
    grid: Any = None  # point clouds: the per-cell ground sums (cim.io._las_grid.CellGrid), for terrain mosaics
    blobs: dict[str, bytes] = field(default_factory=dict)  # named blobs stored with the features (a model's source)


class Reader(Protocol):
    """A file format.  Register an instance with :func:`cim.io.registry.register`."""

    @property
    def name(self) -> str:
        """e.g. "cityjson"."""

    @property
    def extensions(self) -> tuple[str, ...]:
        """Lower-case, with the dot: (".json", ".city.json")."""

    @property
    def description(self) -> str:
        """One line for listings."""

    def sniff(self, head: bytes, path: Path) -> bool:
        """True when the first bytes of the file (up to 64 KiB) look like this format."""

    def read(self, path: Path, ctx: ImportContext) -> ImportResult:
        """Parse, validate and reproject into the city CRS; raise ImportError_ naming the fault."""
