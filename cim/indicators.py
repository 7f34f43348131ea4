"""The city indicator board: the city's measurable targets, each with value, target, rule and source.

An indicator is one function ``(board: Board) -> list[Indicator]`` (a list: one indicator may give a row per kind or
per band); built-in ones are listed in :data:`BUILTIN` (``"module:function"``, imported on first use), so an
analysis adds its indicator with one line there (or :func:`register` at run time).  ``board.cached(key, fn)``
shares one analysis run between indicators (the living-circles run serves coverage and complete communities).
An indicator that cannot be computed for this city (no streets, no terrain ...) gives a row with ``value`` None
and the reason in ``note``, rather than failing the board.

    >>> import cim
    >>> with cim.open("data/sample.cim.sqlite") as city:  # doctest: +SKIP
    ...     rows = board(city)
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from .errors import CIMError

if TYPE_CHECKING:
    from .city import LocalCity


class Indicator(BaseModel):
    """One row of the board."""

    id: str = Field(description="Stable id, e.g. coverage.15-minute.middle-school.")
    group: str = Field(description="The indicator the row belongs to (one function may give several rows).")
    title: str
    value: float | None = Field(description="The city's value; null where it cannot be computed (see note).")
    unit: str = Field(description="share (0-1), m²/person, count, ratio ...")
    target: float | None = Field(None, description="The target value, in the same unit; null where none.")
    target_kind: str | None = Field(None, description="at-least, at-most, or null.")
    meets: bool | None = Field(None, description="Whether the value meets the target; null where no target.")
    rule: str = Field("", description="The rule or plan that sets the target.")
    source: str = Field("", description="Document and clause, with the confidence mark (C/S/M).")
    confidence: str | None = None
    breakdown: dict[str, float] | None = Field(None, description="Parts of the value (class x verdict, ...).")
    note: str = ""


IndicatorFn = Callable[["Board"], list[Indicator]]

#: Built-in indicators, one line each: ``"module:function"``.
BUILTIN: tuple[str, ...] = (
    "cim.indicators:ultra_high_rise",
    "cim.indicators:underground_use",
    "cim.indicators:living_circle_coverage",
    "cim.indicators:complete_communities",
    "cim.indicators:shelter_area",
    "cim.indicators:green_share",
)

_EXTRA: list[IndicatorFn] = []


def register(fn: IndicatorFn) -> IndicatorFn:
    """Add an indicator function to the board (also usable as a decorator)."""
    if fn not in _EXTRA:
        _EXTRA.append(fn)
    return fn


def unregister(fn: IndicatorFn) -> None:
    """Remove an indicator function added with :func:`register` (no-op if absent)."""
    if fn in _EXTRA:
        _EXTRA.remove(fn)


def indicator_functions() -> list[IndicatorFn]:
    out = []
    for entry in BUILTIN:
        module, _, attr = entry.partition(":")
        out.append(getattr(importlib.import_module(module), attr))
    return out + list(_EXTRA)


class Board:
    """What the indicator functions share: the city and a memo of analysis runs."""

    def __init__(self, city: LocalCity) -> None:
        self.city = city
        self._memo: dict[str, Any] = {}

    def cached(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._memo:
            try:
                self._memo[key] = fn()
            except CIMError as exc:
                self._memo[key] = exc
        value = self._memo[key]
        if isinstance(value, CIMError):
            raise value
        return value


def _meets(value: float | None, target: float | None, kind: str | None) -> bool | None:
    if value is None or target is None or kind is None:
        return None
    return value >= target - 1e-12 if kind == "at-least" else value <= target + 1e-12


def row(**kw: Any) -> Indicator:
    """An Indicator with ``meets`` worked out from value, target and target_kind."""
    kw.setdefault("meets", _meets(kw.get("value"), kw.get("target"), kw.get("target_kind")))
    return Indicator(**kw)


def board(city: LocalCity) -> list[Indicator]:
    """Every indicator of the board for ``city``, in registration order."""
    b = Board(city)
    out: list[Indicator] = []
    for fn in indicator_functions():
        try:
            out += fn(b)
        except CIMError as exc:
            name = fn.__name__.replace("_", "-")
            out.append(Indicator(id=name, group=name, title=name, value=None, unit="", note=exc.message))
    return out


# -- built-in indicators ------------------------------------------------------------------------------------------
def ultra_high_rise(b: Board) -> list[Indicator]:
    """Buildings by GB 50352 height class and 建科〔2021〕76号 verdict; value: ultra-high-rise buildings whose verdict
    is restricted, not allowed, or exceeds-new-build-limit for an existing building (target 0)."""
    from .analysis.highrise import screen_buildings, summary

    table = summary(screen_buildings(b.city.store))
    breakdown = {f"{c} / {v}": float(n) for c, vs in table.items() for v, n in vs.items() if n}
    # existing buildings over a new-build limit are registered as exceeds-new-build-limit (issue 15's verdict)
    over = ("exceeds-new-build-limit", "restricted", "not-allowed")
    flagged = sum(n for v, n in table["ultra-high-rise"].items() if v in over)
    return [
        row(
            id="ultra-high-rise.flagged",
            group="ultra-high-rise",
            title="Ultra-high-rise buildings over a limit: restricted, not allowed, or existing and over the "
            "new-build limit (by class and verdict)",
            value=float(flagged),
            unit="count",
            target=0.0,
            target_kind="at-most",
            rule="建科〔2021〕76号: strictly limit / do not build ultra-high-rise above the city's height limits",
            source="建科〔2021〕76号 (C); GB 50352-2019 height classes (S)",
            confidence="C",
            breakdown=breakdown,
        )
    ]


def underground_use(b: Board) -> list[Indicator]:
    """Underground space use ratio (occupied / ground volume) by depth band under the city's extent."""
    import shapely

    from .analysis.underground import underground_use as use

    found = [b.city.store.bounds(c) for c in ("buildings", "underground-structures", "pipes")]
    bounds = [x for x in found if x is not None]
    if not bounds:
        raise _missing("underground-use", "The city holds no buildings, pipes or underground structures.")
    x0, y0 = min(x[0] for x in bounds), min(x[1] for x in bounds)
    x1, y1 = max(x[3] for x in bounds), max(x[4] for x in bounds)
    res = use(b.city.store, shapely.box(x0, y0, x1, y1))
    return [
        row(
            id=f"underground.{band.top:g}-{band.bottom:g}m",
            group="underground-use",
            title=f"Underground space use ratio, {band.top:g}-{band.bottom:g} m below ground",
            value=band.ratio,
            unit="ratio",
            rule="GB/T 51358-2019 depth bands (shallow 0-15, sub-shallow 15-30, sub-deep 30-50, deep > 50 m)",
            source="GB/T 51358-2019 as commonly quoted (M)",
            confidence="M",
            breakdown={k: float(v) for k, v in band.by_category.items()},
            note="" if res.terrain else "no terrain: depths from elevation 0",
        )
        for band in res.bands
    ]


def _living(b: Board):
    from .analysis.registry import get

    return b.cached("living-circles", lambda: get("living-circles").execute(b.city, {}))


def living_circle_coverage(b: Board) -> list[Indicator]:
    """Share of residential buildings (and population) within each circle's walking distance, by facility kind."""
    res = _living(b)
    return [
        row(
            id=f"coverage.{c.circle}.{c.kind}",
            group="living-circle-coverage",
            title=f"{c.circle}: homes within {c.distance_m:g} m of {c.kind}",
            value=c.buildings_share,
            unit="share",
            target=1.0,
            target_kind="at-least",
            rule="GB 50180-2018 living circles: every home within the circle's walking distance",
            source="GB 50180-2018 §2.0.2-2.0.4 (S; facility lists M)",
            confidence="S",
            breakdown=None if c.population_share is None else {"population_share": c.population_share},
        )
        for c in res.coverage
    ]


def complete_communities(b: Board) -> list[Indicator]:
    """Share of communities that pass the complete-community checklist (items 1-6)."""
    from .rules.city_services import complete_community

    res = _living(b)
    n = len(res.communities)
    done = sum(c.complete for c in res.communities)
    cc = complete_community()
    missing: dict[str, float] = {}
    for c in res.communities:
        for k in [*c.missing, *c.too_small]:
            missing[k] = missing.get(k, 0) + 1
    return [
        row(
            id="complete-community.share",
            group="complete-communities",
            title="Complete communities (share of communities)",
            value=done / n if n else None,
            unit="share",
            rule=f"{cc.title}; {cc.target_note}",
            source=f"{cc.document} ({cc.confidence})",
            confidence=cc.confidence,
            breakdown={
                "complete": float(done),
                "communities": float(n),
                **{f"lacking {k}": v for k, v in missing.items()},
            },
            note="" if n else "no communities in the city",
        )
    ]


def shelter_area(b: Board) -> list[Indicator]:
    """Effective shelter area per resident, against 1.5 m² per person."""
    from .analysis.registry import get
    from .rules.city_services import shelter_rules

    res = b.cached("shelters", lambda: get("shelters").execute(b.city, {}))
    r = shelter_rules().area_per_person
    return [
        row(
            id="shelters.area-per-person",
            group="shelters",
            title="Effective emergency-shelter area per resident",
            value=res.area_per_person_m2,
            unit="m²/person",
            target=r.value_m2,
            target_kind="at-least",
            rule=r.wording,
            source=f"{r.clause} ({r.confidence})",
            confidence=r.confidence,
            breakdown={"unserved_population": res.unserved_population, "population": res.population},
        )
    ]


def green_share(b: Board) -> list[Indicator]:
    """Star-rated share of buildings built since 2021, against 40 % by 2030."""
    from .analysis.registry import get

    res = b.cached("green-buildings", lambda: get("green-buildings").execute(b.city, {"since": 2021}))
    return [
        row(
            id="green-buildings.share",
            group="green-buildings",
            title=f"Star-rated green buildings among buildings built since {res.since}",
            value=res.total.share,
            unit="share",
            target=res.target_share,
            target_kind="at-least",
            rule=res.target,
            source=res.rule,
            confidence="S",
            breakdown={(d.district or "(none)"): float(d.share or 0.0) for d in res.districts},
            note="" if res.total.buildings else f"no buildings with year_built >= {res.since}",
        )
    ]


def _missing(what: str, message: str) -> CIMError:
    from .errors import InvalidParameter

    return InvalidParameter(what, message)


# -- writers ------------------------------------------------------------------------------------------------------
def to_csv(rows: list[Indicator]) -> str:
    """The indicator rows as CSV, one row per indicator (value in its ``unit``)."""
    cols = ["id", "group", "title", "value", "unit", "target", "target_kind", "meets", "rule", "source", "note"]
    buf = io.StringIO()
    buf.write(",".join(cols) + "\n")
    for r in rows:
        d = r.model_dump()
        buf.write(",".join(_cell(d[c]) for c in cols) + "\n")
    return buf.getvalue()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    s = f"{v:.6g}" if isinstance(v, float) else str(v)
    return f'"{s.replace(chr(34), chr(34) * 2)}"' if any(c in s for c in ',"\n') else s


def _esc(s: Any) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "share":
        return f"{v * 100:.1f} %"
    if unit == "count":
        return f"{v:.0f}"
    return f"{v:.3g} {unit}" if unit != "ratio" else f"{v:.4f}"


def _bar_svg(rows: list[Indicator]) -> str:
    """Horizontal bars of the rows' values (scaled to the largest of value and target), target as a tick."""
    rows = [r for r in rows if r.value is not None]
    if not rows:
        return ""
    top = max(max(r.value or 0, r.target or 0) for r in rows) or 1.0
    w, lh, label = 640, 22, 300
    h = lh * len(rows) + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img">']
    for i, r in enumerate(rows):
        y = 4 + i * lh
        bw = (w - label - 70) * (r.value or 0) / top
        colour = "#2e7d32" if r.meets else "#c62828" if r.meets is False else "#1565c0"
        parts.append(f'<text x="{label - 6}" y="{y + 14}" text-anchor="end" font-size="11">{_esc(r.title[:48])}</text>')
        parts.append(f'<rect x="{label}" y="{y + 3}" width="{bw:.1f}" height="14" fill="{colour}"/>')
        parts.append(f'<text x="{label + bw + 4:.1f}" y="{y + 14}" font-size="11">{_esc(_fmt(r.value, r.unit))}</text>')
        if r.target is not None:
            tx = label + (w - label - 70) * r.target / top
            parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y}" y2="{y + 20}" stroke="#000" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def _breakdown_svg(r: Indicator) -> str:
    if not r.breakdown:
        return ""
    items = [(k, v) for k, v in r.breakdown.items() if v]
    if not items:
        return ""
    fake = [Indicator(id=k, group="", title=k, value=v, unit="count" if v == int(v) else "ratio") for k, v in items]
    return _bar_svg(fake)


def to_html(rows: list[Indicator], city_name: str = "City") -> str:
    """A printable page: per group a bar chart (inline SVG; target as a black tick) and the table of rows."""
    groups: dict[str, list[Indicator]] = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r)
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Indicator board — {_esc(city_name)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;width:100%;"
        "font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}.ok{color:#2e7d32}"
        ".no{color:#c62828}section{break-inside:avoid;margin-bottom:2em}@media print{body{margin:0}}</style>",
        "</head><body>",
        f"<h1>Indicator board — {_esc(city_name)}</h1>",
        "<p>Each value with its target, rule and source; confidence marks: C read in the source, S secondary, "
        "M commonly quoted. Bars: green meets the target, red misses it, blue has no target; the black tick "
        "is the target.</p>",
    ]
    for group, rs in groups.items():
        out.append(f"<section><h2>{_esc(group)}</h2>")
        out.append(_bar_svg(rs) if len(rs) > 1 or rs[0].target is not None else _breakdown_svg(rs[0]))
        if len(rs) == 1 and rs[0].target is not None and rs[0].breakdown:
            out.append(_breakdown_svg(rs[0]))
        out.append("<table><tr><th>indicator</th><th>value</th><th>target</th><th>meets</th><th>rule</th>")
        out.append("<th>source</th></tr>")
        for r in rs:
            cls = "ok" if r.meets else "no" if r.meets is False else ""
            meets = "yes" if r.meets else "no" if r.meets is False else "—"
            tgt = "—" if r.target is None else ("≥ " if r.target_kind == "at-least" else "≤ ") + _fmt(r.target, r.unit)
            note = f"<br><small>{_esc(r.note)}</small>" if r.note else ""
            out.append(
                f"<tr><td>{_esc(r.title)}{note}</td><td>{_esc(_fmt(r.value, r.unit))}</td><td>{_esc(tgt)}</td>"
                f"<td class='{cls}'>{meets}</td><td>{_esc(r.rule)}</td><td>{_esc(r.source)}</td></tr>"
            )
        out.append("</table></section>")
    out.append("</body></html>")
    return "".join(out)


__all__ = ["Indicator", "Board", "BUILTIN", "board", "register", "unregister", "row", "to_csv", "to_html"]
