"""``cim screen high-rise``: the ultra-high-rise screening as a Markdown report and a CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import CIMError
from . import StoreOpt, app, console, err_console, fail

screen_app = typer.Typer(no_args_is_help=True, help="Screen the city's buildings against the national rules.")
app.add_typer(screen_app, name="screen")


@screen_app.command("high-rise")
def high_rise(
    store: StoreOpt,
    out: Annotated[Path, typer.Option(help="Folder for high-rise.md and high-rise.csv.")] = Path("."),
    profile: Annotated[
        str | None,
        typer.Option(
            help="City profile: shenyang, dalian, anshan, or a TOML/JSON profile file (population, fire stations, "
            "corridors, historic districts, overrides). Default: the city model's own."
        ),
    ] = None,
    new: Annotated[
        bool, typer.Option("--new", help="Screen the buildings as proposals (new) rather than as existing.")
    ] = False,
    lidar: Annotated[bool, typer.Option(help="Measure heights from the store's LiDAR building points.")] = True,
) -> None:
    """Screen every building (height classes, fire classes, 建科〔2021〕76号, 2020 notice) and write a report."""
    from ..analysis.highrise import Screener
    from ..analysis.highrise_report import markdown_report, summary_rows, to_csv
    from ..rules import Verdict
    from ..store import open_store

    try:
        s = open_store(store)
        screener = Screener(s.city(), profile)
        buildings = list(s.iter_features("buildings"))
        results = screener.screen_buildings(
            buildings,
            terrain=s.terrain(),  # type: ignore[arg-type]
            points=s.building_points() if lidar else None,
            new=new,
        )
        s.close()
    except CIMError as exc:
        fail(exc)
    import shapely

    xy = shapely.get_coordinates(shapely.centroid([shapely.Polygon(b.footprint[0]) for b in buildings]))
    out.mkdir(parents=True, exist_ok=True)
    md, csv_path = out / "high-rise.md", out / "high-rise.csv"
    md.write_text(markdown_report(results, screener, source=store), encoding="utf-8")
    csv_path.write_text(to_csv(results, xy if len(buildings) else None), encoding="utf-8-sig", newline="")
    table = Table(title=f"High-rise screening: {screener.profile.name} ({screener.population_note()})")
    for col in ("height class", *(v.value for v in Verdict), "total"):
        table.add_column(col, justify="left" if col == "height class" else "right")
    for row in summary_rows(results):
        table.add_row(*row)
    console.print(table)
    flagged = sum(r.heights.flagged for r in results)
    if flagged:
        err_console.print(f"[yellow]{flagged} buildings have height sources disagreeing by > 2 m or > 5 %.[/]")
    console.print(f"wrote {md} and {csv_path} (coordinates x, y: city CRS EPSG:{screener.city.crs_epsg})")
