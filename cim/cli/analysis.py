"""``cim analyse``: underground-use, excavation, pipe-compliance (tables on screen, JSON / GeoJSON files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..errors import CIMError, InvalidParameter
from . import StoreOpt, app, console, fail

analyse = typer.Typer(
    no_args_is_help=True,
    help="Run an analysis: underground space use, excavation conflicts, pipeline rule compliance, and every other "
    "registered analysis (options from its request model; see cim.analysis.registry).",
)
app.add_typer(analyse, name="analyse")

BboxOpt = Annotated[str | None, typer.Option(help="Region as minx,miny,maxx,maxy in --crs axis order.")]
RegionOpt = Annotated[
    str | None,
    typer.Option(
        help="Region as a GeoJSON Polygon (a file, or the JSON text); a "
        "Feature or a one-feature FeatureCollection also do."
    ),
]
CrsOpt = Annotated[
    str | None,
    typer.Option(help="CRS of the region (and of written coordinates), e.g. EPSG:4550; default CRS84 (lon,lat)."),
]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the full result as JSON to this file.")]


def _write(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    console.print(f"written: {path}")


def _geometry(text: str) -> dict[str, Any]:
    p = Path(text)
    try:
        doc = json.loads(p.read_text(encoding="utf-8") if p.is_file() else text)
    except (OSError, ValueError) as exc:
        raise InvalidParameter("region", f"--region is neither a GeoJSON file nor GeoJSON text: {exc}") from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        feats = doc.get("features") or []
        if len(feats) != 1:
            raise InvalidParameter("region", f"--region holds {len(feats)} features; give one polygon.")
        doc = feats[0]
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry") or {}
    return doc


def _polygon(store, bbox: str | None, region: str | None, crs: str | None, *, required: bool = True):
    from ..analysis.regions import region_polygon, store_extent
    from ..query import parse_bbox

    if (bbox is None) == (region is None):
        if not required and bbox is None:
            return None
        raise InvalidParameter("region", "give the region with either --bbox or --region.")
    if bbox is not None:
        v = parse_bbox(bbox)
        half = len(v) // 2
        x0, y0, x1, y1 = v[0], v[1], v[half], v[half + 1]
        geom = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}
        return region_polygon(geom, crs, store.city().crs_epsg, parameter="bbox", extent=store_extent(store))
    return region_polygon(_geometry(region), crs, store.city().crs_epsg, extent=store_extent(store))  # type: ignore[arg-type]


def _bands(text: str) -> list[list[float]]:
    try:
        return [[float(x) for x in part.split("-", 1)] for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidParameter("bands", f"--bands must look like 0-15,15-30,30-50; got {text!r}.") from None


@analyse.command("underground-use")
def underground_use(
    store: StoreOpt,
    bbox: BboxOpt = None,
    region: RegionOpt = None,
    crs: CrsOpt = None,
    bands: Annotated[
        str | None,
        typer.Option(help="Depth bands top-bottom in metres below ground, e.g. 0-15,15-30,30-50,50-100 (the default)."),
    ] = None,
    z_min: Annotated[float | None, typer.Option(help="Instead of bands: lowest elevation, metres.")] = None,
    z_max: Annotated[float | None, typer.Option(help="Instead of bands: highest elevation, metres.")] = None,
    step: Annotated[float, typer.Option(help="Integration step along pipes and tunnels, metres.")] = 0.5,
    features: Annotated[int, typer.Option(help="Largest features to list per band.")] = 5,
    json_out: JsonOpt = None,
) -> None:
    """Soil and occupied volume by depth band under a region (GB/T 51358 bands by default)."""
    from ..analysis.underground import underground_use as run
    from ..store import open_store

    try:
        s = open_store(store)
        poly = _polygon(s, bbox, region, crs)
        res = run(s, poly, bands=_bands(bands) if bands else None, z_min=z_min, z_max=z_max, step=step)
        s.close()
    except CIMError as exc:
        fail(exc)
    ref = "depths below ground" if res.bands and res.bands[0].reference == "depth" else "elevations"
    table = Table(title=f"Underground use — {res.area:,.0f} m², bands in {ref}")
    for col in ("band (m)", "soil m³", "occupied m³", "ratio", "by category (m³)", "largest features (m³)"):
        table.add_column(col, justify="right" if col in ("soil m³", "occupied m³", "ratio") else "left")
    for b in res.bands:
        cats = ", ".join(f"{k} {v:,.1f}" for k, v in list(b.by_category.items())[:6]) or "-"
        top = ", ".join(f"{f.id} {f.volume:,.1f}" for f in b.features[:features]) or "-"
        table.add_row(
            f"{b.top:g} – {b.bottom:g}",
            f"{b.soil_volume:,.0f}",
            f"{b.occupied_volume:,.1f}",
            f"{100 * b.ratio:.3f} %",
            cats,
            top,
        )
    console.print(table)
    if json_out is not None:
        _write(json_out, res.model_dump(mode="json"))


@analyse.command("excavation")
def excavation(
    store: StoreOpt,
    bbox: BboxOpt = None,
    region: RegionOpt = None,
    crs: CrsOpt = None,
    depth: Annotated[float | None, typer.Option(help="Pit depth below the ground, metres.")] = None,
    bottom_z: Annotated[float | None, typer.Option(help="Or the pit's bottom elevation, metres.")] = None,
    buffer: Annotated[float, typer.Option(help="Report features within this clearance, metres.")] = 1.0,
    json_out: JsonOpt = None,
    geojson_out: Annotated[
        Path | None,
        typer.Option("--geojson", help="Write the hits' closest points as GeoJSON (in --crs) to this file."),
    ] = None,
) -> None:
    """Features an excavation pit cuts into or comes within --buffer of, most severe first."""
    from ..analysis.excavation import excavation_conflicts
    from ..crs import OutputCRS, check_supported
    from ..store import open_store

    try:
        s = open_store(store)
        poly = _polygon(s, bbox, region, crs)
        epsg = s.city().crs_epsg
        out = OutputCRS(epsg, check_supported(crs, epsg))
        res = excavation_conflicts(s, poly, depth=depth, bottom_z=bottom_z, buffer=buffer)
        s.close()
    except CIMError as exc:
        fail(exc)
    table = Table(
        title=f"Excavation {res.area:,.0f} m², "
        + (f"{res.depth:g} m deep" if res.depth is not None else f"to {res.bottom_z:g} m")
        + f", buffer {res.buffer:g} m: "
        + ", ".join(f"{k} {v}" for k, v in res.counts.items())
    )
    for col in ("severity", "feature", "kind", "utility", "distance m", "elevation m", "depth m"):
        table.add_column(col, justify="right" if col.endswith(" m") else "left")
    colour = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green"}
    for h in res.hits:
        table.add_row(
            f"[{colour[h.severity]}]{h.severity}[/]",
            h.id,
            h.kind,
            h.utility or "-",
            f"{h.distance:.2f}",
            f"{h.elevation:.2f}",
            "-" if h.depth is None else f"{h.depth:.2f}",
        )
    console.print(table)
    if res.hits:
        import numpy as np

        xy = out.xy(np.array([h.location for h in res.hits], dtype=float))
        for h, p in zip(res.hits, xy.tolist(), strict=True):
            h.location = p
    if json_out is not None:
        _write(json_out, res.model_dump(mode="json"))
    if geojson_out is not None:
        _write(
            geojson_out,
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": h.id,
                        "geometry": {"type": "Point", "coordinates": [*h.location, h.elevation]},
                        "properties": h.model_dump(mode="json", exclude={"location"}),
                    }
                    for h in res.hits
                ],
            },
        )


@analyse.command("pipe-compliance")
def pipe_compliance(
    store: StoreOpt,
    bbox: Annotated[
        str | None, typer.Option(help="Only pipes in minx,miny,maxx,maxy (in --crs); default the whole city.")
    ] = None,
    crs: CrsOpt = None,
    rules: Annotated[Path | None, typer.Option(help="TOML/JSON file of rule overrides (rule id = value).")] = None,
    json_out: JsonOpt = None,
    geojson_out: Annotated[
        Path | None, typer.Option("--geojson", help="Write the violations as a GeoJSON FeatureCollection (in --crs).")
    ] = None,
) -> None:
    """Violations of GB 50289-2016 (cover, clearances, crossing order) and GB 50838-2015 (compartments)."""
    from ..analysis.compliance import PipelineRules
    from ..analysis.compliance import pipe_compliance as run
    from ..crs import OutputCRS, check_supported
    from ..store import open_store

    try:
        s = open_store(store)
        poly = _polygon(s, bbox, None, crs, required=False)
        epsg = s.city().crs_epsg
        out = OutputCRS(epsg, check_supported(crs, epsg))
        report = run(s, poly, rules=PipelineRules.load(rules))
        s.close()
    except CIMError as exc:
        fail(exc)
    table = Table(
        title=f"Pipeline rule compliance: {len(report.violations)} violation(s); checked "
        + ", ".join(f"{k} {v}" for k, v in report.checked.items())
    )
    for col in ("kind", "rule", "clause", "conf", "measured", "required", "features", "description"):
        table.add_column(col, justify="right" if col in ("measured", "required") else "left")
    for v in report.violations:
        table.add_row(
            v.kind,
            v.rule,
            f"{v.document} {v.clause}",
            v.confidence,
            "-" if v.measured is None else f"{v.measured:.2f}",
            "-" if v.required is None else f"{v.required:.2f}",
            ", ".join(f.id for f in v.features),
            v.description,
        )
    console.print(table)
    for note in report.skipped:
        console.print(f"[yellow]skipped:[/] {note}")
    if json_out is not None:
        _write(json_out, report.model_dump(mode="json"))
    if geojson_out is not None:
        _write(geojson_out, report.feature_collection(out))
