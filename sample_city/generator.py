"""``build_sample_city``: generate the Shenyang-like sample district into a store and a LAS file.

The same seed gives the same features, terrain and LiDAR points on every run: every random draw
comes from ``numpy.random.default_rng`` seeded with the seed (plus a fixed stage key), features
are produced in a fixed order, and nothing reads the clock.
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import shapely

from cim.errors import StoreError
from cim.model import City
from cim.store import open_store

from .buildings import plan_buildings
from .flood import MODEL, swmm_model
from .layout import SIZE, origin
from .lidar import write_las
from .plans import to_buildings
from .sensors import DAYS, STEP_S, SeededEvent, build_sensors
from .streets import city_services
from .terrain import build_terrain
from .towers import THRESHOLD_TOWERS, Tower
from .underground import StationBox, basements, metro, utility_tunnels
from .utilities import build_network
from .violations import PlantedViolation, plant
from .water import water

CITY_NAME = "沈阳示范区 (Shenyang sample district)"


@dataclass(frozen=True)
class SampleCitySummary:
    """What was built (the facts README.md lists)."""

    store_path: Path
    las_path: Path
    seed: int
    counts: dict[str, int]  # features per collection
    pipes_by_utility: dict[str, int]
    nodes_by_kind: dict[str, int]
    buildings_by_use: dict[str, int]
    structures_by_kind: dict[str, int]
    bounds: tuple[float, float, float, float]  # district minx, miny, maxx, maxy, EPSG:4550 metres
    las_points: dict[int, int]  # LAS class -> points
    threshold_towers: tuple[Tower, ...]
    violations: tuple[PlantedViolation, ...]
    stations: tuple[StationBox, ...]
    sensor_events: tuple[SeededEvent, ...] = ()

    def report(self) -> str:
        """A few lines for the command line."""
        lines = [
            f"{CITY_NAME}: {self.store_path} (seed {self.seed})",
            "  " + ", ".join(f"{k} {v}" for k, v in self.counts.items()),
            "  pipes: " + ", ".join(f"{k} {v}" for k, v in self.pipes_by_utility.items()),
            f"  LiDAR: {self.las_path} ({sum(self.las_points.values())} points)",
            f"  {len(self.threshold_towers)} threshold towers, {len(self.violations)} planted violations:",
        ]
        lines += [f"    {v.id} {', '.join(v.feature_ids)}: {v.description}" for v in self.violations]
        return "\n".join(lines)


def default_las_path(store_path: str | Path) -> Path:
    """``data/sample.cim.sqlite`` -> ``data/sample.las``."""
    p = _sqlite_path(store_path)
    stem = p.name.split(".")[0] or p.stem
    return p.with_name(stem + ".las")


def _sqlite_path(store: str | Path) -> Path:
    """The file of a SQLite store given as a path or ``sqlite:///path``."""
    s = str(store)
    if s.startswith("sqlite:///"):
        return Path(s[len("sqlite:///") :])
    if "://" in s:
        raise StoreError(
            f"The sample city is built into a SQLite file; got {s!r}: give a file path.", where={"store": s}
        )
    return Path(s)


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")]


def _write_store(
    path: Path,
    city: City,
    features: list,
    terrain,
    then: Callable | None = None,
    blobs: dict[str, bytes] | None = None,
) -> dict[str, int]:
    """One transaction into ``path``.tmp (then ``then(store)``, e.g. the sensors), then an atomic rename over
    ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    for p in [tmp, *_sidecars(tmp)]:
        p.unlink(missing_ok=True)
    try:
        store = open_store(tmp, create=True)
        try:
            store.init(city, overwrite=True)
            counts = store.write(features, terrain=terrain, blobs=blobs)
            if then is not None:
                then(store)
        finally:
            store.close()
        conn = sqlite3.connect(tmp)  # fold the WAL into the file so that one file holds it all
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
        for p in _sidecars(path):
            p.unlink(missing_ok=True)
        os.replace(tmp, path)
    finally:
        for p in [tmp, *_sidecars(tmp)]:
            p.unlink(missing_ok=True)
    return counts


def build_sample_city(
    store_path: str | Path,
    *,
    seed: int = 20260101,
    las_path: str | Path | None = None,
    progress: Callable[[str, float], None] | None = None,
    sensor_days: int = DAYS,
    sensor_step_s: int = STEP_S,
) -> SampleCitySummary:
    """Build the sample district into a new SQLite store at ``store_path`` (replacing any file
    there) and its LiDAR survey into ``las_path`` (default: the store's name with ``.las``).

    ``progress(stage, fraction)`` is called at the start of each stage and with ("done", 1.0).
    ``sensor_days``, ``sensor_step_s``: days of sensor readings and seconds between them (sample_city/sensors.py;
    0 days: no sensors).
    """
    store_path = _sqlite_path(store_path)
    las = Path(las_path) if las_path is not None else default_las_path(store_path)
    say = progress or (lambda stage, fraction: None)

    say("terrain", 0.0)
    terrain = build_terrain()
    say("buildings", 0.05)
    bp = plan_buildings(seed)
    buildings = to_buildings(bp.plans, terrain)
    say("utilities", 0.25)
    net = build_network(terrain, seed)
    pipes, nodes = net.features()
    say("underground", 0.4)
    structures = basements(bp.plans, buildings, bp.garages, terrain, bp.civil_defence)
    tunnels, stations = metro(pipes, nodes, terrain)
    structures += tunnels + utility_tunnels(pipes, terrain)
    footprints = [shapely.Polygon(s.footprint[0]) for s in structures if s.footprint is not None]
    v_pipes, v_nodes, violations = plant(net, bp.plans, buildings, terrain, footprints)
    pipes += v_pipes
    nodes += v_nodes
    valves, districts = water(pipes, nodes, terrain, seed)  # isolation valves, inlets, district metered areas

    city = City(
        name=CITY_NAME,
        crs_epsg=4550,
        vertical_datum="EPSG:5737",
        urban_population=9_000_000,
        frost_depth=1.2,
        fire_stations=bp.fire_stations,
    )
    say("store", 0.5)
    layers = city_services(buildings, bp.fire_stations)
    events: list = []
    blobs = {f"swmm/{MODEL}": swmm_model(pipes, nodes)}  # the storm network as a SWMM model (flood.py)
    counts = _write_store(
        store_path,
        city,
        [*buildings, *pipes, *nodes, *valves, *structures, *layers, *districts],
        terrain,
        lambda store: events.extend(
            build_sensors(store, nodes, buildings, structures, seed, days=sensor_days, step_s=sensor_step_s)
        ),
        blobs,
    )
    say("lidar", 0.8)
    las_points = write_las(las, buildings, terrain, seed)
    say("done", 1.0)

    x0, y0 = origin()
    return SampleCitySummary(
        store_path=store_path,
        las_path=las,
        seed=seed,
        counts=counts,
        pipes_by_utility=dict(sorted(Counter(p.utility.value for p in pipes).items())),
        nodes_by_kind=dict(sorted(Counter(n.kind.value for n in nodes).items())),
        buildings_by_use=dict(sorted(Counter(b.use.value for b in buildings).items())),
        structures_by_kind=dict(sorted(Counter(s.kind.value for s in structures).items())),
        bounds=(x0, y0, x0 + SIZE, y0 + SIZE),
        las_points=las_points,
        threshold_towers=THRESHOLD_TOWERS,
        violations=tuple(violations),
        stations=tuple(stations),
        sensor_events=tuple(events),
    )
