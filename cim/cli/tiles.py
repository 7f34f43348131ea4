"""``cim tiles build``: 3D Tiles 1.1 of a city's layers into a folder (or a .zip), ready for any web server.

Layout (the server's too): ``OUT/{layer}/tileset.json`` pointing at ``OUT/{layer}/v{version}/{tile}.glb``,
each file also as ``.gz`` with ``--gzip`` (for servers that send pre-compressed files).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..errors import CIMError
from . import StoreOpt, app, console, err_console, fail

tiles_app = typer.Typer(no_args_is_help=True, help="3D Tiles 1.1 (glTF) of the city's layers.")
app.add_typer(tiles_app, name="tiles")


@tiles_app.command("build")
def build(
    store: StoreOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder, or a file ending in .zip.")],
    layer: Annotated[
        list[str] | None,
        typer.Option(
            "--layer", "-l", help="Layer(s): buildings, pipes, underground-structures, terrain (default: all)."
        ),
    ] = None,
    max_features: Annotated[int, typer.Option(help="Most features in one tile.")] = 2000,
    max_vertices: Annotated[int, typer.Option(help="Most vertices in one tile (about 32 bytes each).")] = 30_000,
    gzip: Annotated[bool, typer.Option("--gzip", help="Also write each file pre-compressed (.gz).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Processes building tiles in parallel (buildings layer).")
    ] = 1,
) -> None:
    """Mesh every feature of the chosen layers and write their tilesets and GLB tiles.

    Buildings are tiled tile by tile from the store's index (memory follows a tile, not the city), over
    ``--jobs`` processes."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from tiles import LAYERS, Budget, GzipSink, PrefixSink, build_layer, city_frame, open_sink
    from tiles.stream import STREAMED, build_streamed

    from ..store import open_store

    names = layer or list(LAYERS)
    unknown = [n for n in names if n not in LAYERS]
    if unknown:
        err_console.print(f"[bold red]error:[/] unknown layer(s) {', '.join(unknown)}; choose from {', '.join(LAYERS)}")
        raise typer.Exit(2)
    rows: list[dict[str, Any]] = []
    try:
        s = open_store(store)
        version = s.version()
        frame = city_frame(s)
        sink = open_sink(out)
        budget = Budget(max_features=max_features, max_vertices=max_vertices)
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err_console, transient=True
        ) as progress:
            for name in names:
                task = progress.add_task(name, total=1.0)
                target = PrefixSink(sink, name)
                t0 = time.perf_counter()

                def step(stage: str, f: float, task: Any = task) -> None:
                    progress.update(task, description=stage, completed=f)

                if name in STREAMED:
                    result = build_streamed(
                        s,
                        name,
                        GzipSink(target) if gzip else target,
                        frame,
                        budget=budget,
                        prefix=f"v{version}/",
                        extras={"version": version},
                        jobs=jobs,
                        store_url=str(store),
                        progress=step,
                    )
                else:
                    result = build_layer(
                        s,
                        name,
                        GzipSink(target) if gzip else target,
                        budget=budget,
                        prefix=f"v{version}/",
                        frame=frame,
                        extras={"version": version},
                        progress=step,
                    )
                progress.update(task, completed=1.0)
                rows.append(
                    {
                        "layer": name,
                        "features": result.features,
                        "tiles": result.tiles,
                        "bytes": result.bytes,
                        "max_tile_bytes": result.max_tile_bytes,
                        "depth": result.depth,
                        "seconds": round(time.perf_counter() - t0, 3),
                    }
                )
        if hasattr(sink, "close"):
            sink.close()
        s.close()
    except CIMError as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(json.dumps({"out": str(out), "version": version, "layers": rows}, indent=2) + "\n")
        return
    table = Table(title=f"3D Tiles in {out} (store version {version})")
    for col in ("layer", "features", "tiles", "MB", "largest tile KB", "depth", "seconds"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for r in rows:
        table.add_row(
            r["layer"],
            f"{r['features']:,}",
            str(r["tiles"]),
            f"{r['bytes'] / 1e6:.1f}",
            f"{r['max_tile_bytes'] / 1e3:.0f}",
            str(r["depth"]),
            f"{r['seconds']:.1f}",
        )
    console.print(table)
    console.print(f"open {out}/<layer>/tileset.json in any 3D Tiles 1.1 client")
