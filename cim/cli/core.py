"""Core commands: init, sample, info, serve, import, copy."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer
from rich.table import Table

from ..errors import CIMError
from . import StoreOpt, app, console, err_console, fail

UNKNOWN_DATUM = (
    "[yellow]note:[/] the city's height datum is unknown: its CRS is 2-D and not CGCS2000-based, so the 1985 "
    "national datum (EPSG:5737) was not assumed; heights are kept as imported.  Record one with "
    "cim init --vertical-datum EPSG:n (e.g. EPSG:5728 LN02 for Switzerland) or a compound --crs."
)


@app.command()
def init(
    store: StoreOpt,
    crs: Annotated[
        str,
        typer.Option(
            help="Projected CRS of the city, e.g. EPSG:4550; a compound code (EPSG:7415, EPSG:28992+5709) "
            "sets the height datum too."
        ),
    ] = "EPSG:4550",
    vertical_datum: Annotated[
        str | None,
        typer.Option(
            help="Height datum (vertical CRS), e.g. EPSG:5709 (NAP), EPSG:5703 (NAVD88); default: the "
            "compound CRS's, else EPSG:5737 (1985 national) for a CGCS2000 CRS, else none (unknown)."
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="City name.")] = "City",
    population: Annotated[int | None, typer.Option(help="Urban resident population (selects rules).")] = None,
    frost_depth: Annotated[float, typer.Option(help="Standard frost depth, metres.")] = 1.2,
    force: Annotated[bool, typer.Option(help="Replace an existing city in the store.")] = False,
) -> None:
    """Create an empty city."""
    from ..crs_codes import split_city_crs
    from ..model import City
    from ..store import open_store

    try:
        code, vdatum = split_city_crs(crs, vertical_datum)
    except ValueError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    try:
        s = open_store(store, create=True)
        s.init(
            City(
                name=name,
                crs_epsg=code,
                vertical_datum=vdatum,
                urban_population=population,
                frost_depth=frost_depth,
            ),
            overwrite=force,
        )
        s.close()
    except CIMError as exc:
        fail(exc)
    console.print(f"Created city [bold]{name}[/] in {store} (EPSG:{code}, heights {vdatum or 'in an unknown datum'}).")
    if vdatum is None:
        console.print(UNKNOWN_DATUM)


@app.command()
def sample(
    store: StoreOpt,
    seed: Annotated[int, typer.Option(help="Random seed (the same seed gives the same city).")] = 20260101,
    sensor_step: Annotated[int, typer.Option(help="Seconds between sensor readings (60: one-minute data).")] = 300,
) -> None:
    """Build the sample city (a Shenyang-like district) into the store, replacing its content.

    A PostGIS store (postgresql://... or a libpq keyword string) gets the city built in a temporary SQLite file
    and copied over in one transaction; the LiDAR survey is then written to ./sample.las."""
    import tempfile
    from pathlib import Path

    from rich.progress import Progress

    from sample_city import build_sample_city

    from ..store import is_postgres, open_store
    from ..store.copy import copy_store

    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("building sample city", total=1.0)

        def report(stage: str, fraction: float) -> None:
            progress.update(task, description=stage, completed=fraction)

        try:
            if not is_postgres(store):
                summary = build_sample_city(store, seed=seed, progress=report, sensor_step_s=sensor_step)
            else:
                with tempfile.TemporaryDirectory(prefix="cim-sample-") as tmp:
                    summary = build_sample_city(
                        Path(tmp) / "sample.sqlite",
                        seed=seed,
                        progress=report,
                        las_path=Path("sample.las"),
                        sensor_step_s=sensor_step,
                    )
                    src, dst = open_store(Path(tmp) / "sample.sqlite"), open_store(store, create=True)
                    try:
                        copy_store(src, dst, overwrite=True, progress=report)
                    finally:
                        src.close()
                        dst.close()
        except CIMError as exc:
            fail(exc)
    console.print(f"Sample city written to {store}: " + ", ".join(f"{k} {v}" for k, v in summary.counts.items()))


@app.command("import")
def import_(
    files: Annotated[
        list[str],
        typer.Argument(help="Files: CityJSON, CityJSONSeq, CityGML, GeoJSON, LAS/LAZ, EPANET or SWMM .inp, IFC."),
    ],
    store: StoreOpt,
    crs: Annotated[str | None, typer.Option(help="CRS for files that declare none, e.g. EPSG:7415.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Force a reader instead of detecting it.")] = None,
    utility: Annotated[str | None, typer.Option(help="Utility of pipe files that name none (e.g. sewer).")] = None,
    replace: Annotated[bool, typer.Option(help="Replace features whose ids exist already.")] = False,
    origin: Annotated[
        str | None, typer.Option(help="IFC without georeference: E,N[,H[,angle°]] of the model origin in --crs.")
    ] = None,
    check: Annotated[
        list[str] | None, typer.Option(help="Check before writing: clashes (new against existing features).")
    ] = None,
    reject_on_clash: Annotated[bool, typer.Option(help="Refuse the import when it clashes (implies --check).")] = False,
    author: Annotated[str | None, typer.Option(help="Who imports (kept with the version).")] = None,
    note: Annotated[str | None, typer.Option(help="Why (kept with the version).")] = None,
    collection: Annotated[
        str | None, typer.Option(help="Read the files as a layer: streets, facilities or communities (GeoJSON, OSM).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    source_crs: Annotated[
        str | None, typer.Option(help="CRS overriding the one files declare (wrong headers), e.g. EPSG:28992+5709.")
    ] = None,
    axis_order: Annotated[
        str, typer.Option(help="Coordinate order in northing-first CRSs (GML): auto, en (easting first) or ne.")
    ] = "auto",
    force: Annotated[bool, typer.Option(help="Import data lying outside the city CRS's area of use.")] = False,
    default_height: Annotated[
        float | None, typer.Option(help="Height (m) of buildings with no height attribute, floors or 3-D geometry.")
    ] = None,
    storey_height: Annotated[float, typer.Option(help="Metres per floor for heights from a floor count.")] = 3.0,
    skip_invalid: Annotated[bool, typer.Option(help="Skip invalid features (listed) instead of failing.")] = False,
    cell: Annotated[float | None, typer.Option(help="Terrain DEM cell, metres (default: from point density).")] = None,
    replace_terrain: Annotated[
        bool, typer.Option(help="Replace the terrain instead of adding the point clouds to it.")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            help="Worker processes for a large CityJSONSeq (default: one per idle core from 8 MB; 1: none).", min=0
        ),
    ] = None,
) -> None:
    """Import files into the store in one transaction: all of them land, or none.

    Every file is checked to lie in the area of use of its CRS and of the city CRS; a misplaced file is
    refused with where it would land and the likely cause (see the README, "When your data lands in the
    wrong place")."""
    from rich.progress import Progress

    from ..io import import_files
    from ..store import open_store

    try:
        s = open_store(store)
        with Progress(console=err_console, transient=True) as progress:
            task = progress.add_task("importing", total=1.0)
            report = import_files(
                s,
                files,
                crs=crs,
                fmt=fmt,
                replace=replace,
                utility=utility,
                origin=origin,
                check=check or (),
                reject_on_clash=reject_on_clash,
                author=author,
                note=note,
                collection=collection,
                progress=lambda stage, f: progress.update(task, description=stage, completed=f),
                source_crs=source_crs,
                axis_order=axis_order,
                force=force,
                default_height=default_height,
                storey_height=storey_height,
                skip_invalid=skip_invalid,
                cell=cell,
                replace_terrain=replace_terrain,
                jobs=jobs,
            )
        s.close()
    except CIMError as exc:
        clash_report = getattr(exc, "report", None)
        if clash_report is not None:
            sys.stdout.write(clash_report.model_dump_json(indent=2) + "\n")
        fail(exc)
    clashes = None if report.clashes is None else report.clashes.model_dump(mode="json")
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "counts": report.counts,
                    "files": report.files,
                    "terrain": report.terrain,
                    "skipped": report.skipped,
                    "clashes": clashes,
                    "version": report.version,
                },
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
        return
    table = Table(title="Imported")
    for col in ("file", "format", "source CRS", "features", "warnings"):
        table.add_column(col)
    for f in report.files:
        table.add_row(
            f["file"],
            f["format"],
            str(f["source_crs"] or "-"),
            ", ".join(f"{k} {v}" for k, v in f["features"].items()) + (" + terrain" if f["terrain"] else ""),
            "\n".join(f["warnings"]) or "-",
        )
    console.print(table)
    if report.skipped:
        skipped = Table(title=f"Skipped ({len(report.skipped)}, --skip-invalid)")
        for col in ("file", "feature", "reason"):
            skipped.add_column(col)
        for sk in report.skipped:
            skipped.add_row(sk["file"], str(sk.get("feature") or "-"), sk["reason"])
        console.print(skipped)
    if report.clashes is not None:
        console.print(
            f"clashes: {report.clashes.counts['hard']} hard, {report.clashes.counts['clearance']} clearance"
            + "".join(
                f"\n  {c.type}: {c.a.id} / {c.b.id}"
                + (
                    f" {c.penetration:.3f} m deep"
                    if c.type == "hard"
                    else f" {c.distance:.3f} m < {c.required} m ({c.rule})"
                )
                for c in report.clashes.clashes[:20]
            )
        )
    console.print(
        "written: "
        + (", ".join(f"{k} {v}" for k, v in report.counts.items()) or "nothing")
        + f" (version {report.version})"
    )


@app.command()
def copy(
    source: Annotated[str, typer.Argument(help="Store to read (path or URL).")],
    target: Annotated[str, typer.Argument(help="Store to create, e.g. postgresql://user@host/db?schema=shenyang.")],
    force: Annotated[bool, typer.Option(help="Replace a city already in the target.")] = False,
) -> None:
    """Copy a city between stores (SQLite -> PostGIS to scale out), in one transaction."""
    from rich.progress import Progress

    from ..store import open_store
    from ..store.copy import copy_store

    try:
        src, dst = open_store(source), open_store(target, create=True)
        with Progress(console=err_console, transient=True) as progress:
            task = progress.add_task("copying", total=1.0)
            counts = copy_store(
                src,
                dst,
                overwrite=force,
                progress=lambda stage, f: progress.update(task, description=stage, completed=f),
            )
        src.close()
        dst.close()
    except CIMError as exc:
        fail(exc)
    console.print("copied: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@app.command()
def info(
    store: StoreOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts per collection, the CRS and the bounds."""
    from ..store import open_store

    try:
        s = open_store(store)
        city = s.city()
        counts = s.counts()
        bounds = {cid: s.bounds(cid) for cid in counts}
        terrain = s.terrain()
        version = s.version()
        s.close()
    except CIMError as exc:
        fail(exc)
    doc = {
        "store": store,
        "city": city.name,
        "crs": city.crs,
        "vertical_datum": city.vertical_datum,
        "version": version,
        "counts": counts,
        "bounds": {k: list(v) if v else None for k, v in bounds.items()},
        "terrain": None
        if terrain is None
        else {"shape": list(terrain.shape), "cell": terrain.cell, "bounds": list(terrain.bounds)},
    }
    if as_json:
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"{city.name} — {city.crs}, heights {city.vertical_datum or 'in an unknown datum'}")
    for col in ("collection", "features", "minx", "miny", "minz", "maxx", "maxy", "maxz"):
        table.add_column(col, justify="right" if col != "collection" else "left")
    for cid, n in counts.items():
        b = bounds[cid]
        table.add_row(cid, str(n), *(f"{v:.2f}" for v in b) if b else ["-"] * 6)
    console.print(table)
    if terrain is not None:
        console.print(f"terrain: {terrain.shape[1]} x {terrain.shape[0]} cells of {terrain.cell} m")
    if city.vertical_datum is None:
        console.print(UNKNOWN_DATUM)


@app.command()
def serve(
    store: StoreOpt,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the store over HTTP (OGC API - Features)."""
    import uvicorn

    from ..store import open_store

    try:
        open_store(store).city()  # a clear error now rather than a traceback from a worker
    except CIMError as exc:
        fail(exc)
    os.environ["CIM_STORE"] = store
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers, log_level="info")
