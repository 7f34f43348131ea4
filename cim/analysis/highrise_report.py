"""High-rise screening as a planner's documents: a Markdown report and a CSV table.

The CSV has one row per building (ids, use, heights from every source, classes, verdict, and the reasons as
``rule [confidence] verdict`` joined by ``; ``); the report has a summary by height class and verdict, then
every building over the first threshold (verdict not ok) with its reasons and clauses, then the rules applied
with their readings.  Confidence marks S and M are shown in bold as "S"/"M" everywhere.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np

from ..rules import CLASS_LABELS_ZH, HEIGHT_CLASSES, Rule
from .highrise import Screener, ScreeningResult, Verdict, summary

CSV_COLUMNS = [
    "id",
    "name",
    "use",
    "new",
    "height_m",
    "height_source",
    "height_class",
    "fire_class",
    "verdict",
    "attribute_height_m",
    "geometry_height_m",
    "lidar_height_m",
    "lidar_points",
    "height_disagreement_m",
    "heights_flagged",
    "rules_s_or_m",
    "reasons",
    "x",
    "y",
]


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.3f}"


def _threshold(rule_threshold: float | None, inclusive: bool | None, unit: str | None) -> str:
    if rule_threshold is None:
        return "-"
    op = "≥" if inclusive else ">"
    return f"{op} {rule_threshold:g} {unit or ''}".strip()


def csv_rows(results: Sequence[ScreeningResult], xy: np.ndarray | None = None) -> list[list[str]]:
    """Rows of the CSV (without the header); ``xy`` (n, 2) a point per building (e.g. centroid, lon/lat)."""
    rows = []
    for k, r in enumerate(results):
        h = r.heights
        weak = sorted({x.rule for x in r.reasons if x.confidence in ("S", "M")})
        reasons = "; ".join(f"{x.rule} [{x.confidence}] {x.verdict.value}" for x in r.reasons)
        x, y = ("", "") if xy is None else (f"{xy[k, 0]:.8g}", f"{xy[k, 1]:.10g}")
        rows.append(
            [
                r.id,
                r.name or "",
                r.use.value,
                "yes" if r.new else "no",
                f"{r.height:.3f}",
                h.source,
                r.height_class,
                r.fire_class or "",
                r.verdict.value,
                _num(h.attribute),
                _num(h.geometry),
                _num(h.lidar),
                "" if h.lidar_points is None else str(h.lidar_points),
                _num(h.disagreement),
                "yes" if h.flagged else "no",
                " ".join(weak),
                reasons,
                x,
                y,
            ]
        )
    return rows


def to_csv(results: Sequence[ScreeningResult], xy: np.ndarray | None = None) -> str:
    """The CSV text (UTF-8; the CLI writes it with a byte-order mark so that spreadsheets read the Chinese)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    w.writerows(csv_rows(results, xy))
    return buf.getvalue()


def _conf(c: str) -> str:
    return c if c == "C" else f"**{c}**"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_rows(results: Sequence[ScreeningResult]) -> list[list[str]]:
    """The summary table: one row per height class, then the total (for Markdown and rich)."""
    table = summary(results)
    verdicts = [v.value for v in Verdict]
    rows = []
    for c in HEIGHT_CLASSES:
        counts = [table[c][v] for v in verdicts]
        rows.append([f"{c} {CLASS_LABELS_ZH[c]}", *map(str, counts), str(sum(counts))])
    totals = [sum(table[c][v] for c in HEIGHT_CLASSES) for v in verdicts]
    rows.append(["total", *map(str, totals), str(sum(totals))])
    return rows


def markdown_report(
    results: Sequence[ScreeningResult], screener: Screener, *, title: str | None = None, source: str | None = None
) -> str:
    """The Markdown report of a screening (see the module docstring)."""
    city = screener.profile
    short = {s.id: s.short for s in screener.rule_sets}
    rules: dict[str, Rule] = screener.rules
    lines = [f"# {title or 'High-rise screening'}: {city.name}", ""]
    n_new = sum(r.new for r in results)
    what = f"{len(results)} buildings screened" + (f" ({n_new} proposed)" if n_new else " (existing)")
    lines.append(what + (f" from `{source}`." if source else "."))
    stations = city.fire_stations or []
    reach = sorted({s.ladder_reach for s in stations})
    lines += [
        "",
        f"* **City profile**: {screener.population_note()}.",
        f"* **Fire stations**: {len(stations)}"
        + (
            f" (aerial ladder reach {', '.join(f'{r:g}' for r in reach)} m)"
            if stations
            else " (none in the profile: no ladder check)"
        )
        + f"; ventilation corridors {len(city.ventilation_corridors)}, historic districts "
        f"{len(city.historic_districts)}.",
        "* **Verdicts**, least to most severe: ok < consult-fire-rescue < exceeds-new-build-limit < restricted < "
        "not-allowed; a building gets the most severe of its reasons. Restricted and not-allowed are for proposals: "
        "an existing building that a rule on new construction (新建) would catch gets exceeds-new-build-limit, a "
        "register entry naming the rule and clause, not an order.",
        "* **Confidence marks**: C = read in the source text; **S** = secondary restatement only; **M** = commonly "
        "quoted, unconfirmed. Reasons resting on S or M rules must be read as such.",
        "* **Thresholds**: `≥` counts the threshold itself (以上), `>` does not (大于, 超过); heights are compared "
        "to the millimetre.",
    ]
    if screener.overrides:
        lines.append(
            "* **Overrides** of this city: " + ", ".join(f"{k} = {v:g}" for k, v in screener.overrides.items())
        )
    lines += ["", "## Summary by height class and verdict", ""]
    head = ["height class (GB 50352)", *[v.value for v in Verdict], "total"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in summary_rows(results)]
    with_lidar = sum(r.heights.lidar is not None for r in results)
    flagged = [r for r in results if r.heights.flagged]
    lines += [
        "",
        f"Heights: LiDAR for {with_lidar} of {len(results)} buildings; {len(flagged)} with sources "
        "disagreeing by more than 2 m or 5 %"
        + (": " + ", ".join(r.id for r in flagged[:20]) + (" ..." if len(flagged) > 20 else "") if flagged else "."),
    ]
    over = sorted((r for r in results if r.verdict != Verdict.ok), key=lambda r: (-r.height, r.id))
    lines += [
        "",
        f"## Buildings over the first threshold ({len(over)})",
        "",
        "Every building whose verdict is not ok, tallest first.",
        "",
    ]
    for r in over:
        h = r.heights
        srcs = ", ".join(
            f"{k} {v:.2f} m"
            for k, v in (("attribute", h.attribute), ("geometry", h.geometry), ("LiDAR", h.lidar), ("design", h.design))
            if v is not None
        )
        flag = f" — **sources disagree by {h.disagreement:.2f} m**" if h.flagged else ""
        fire = f", GB 50016 {r.fire_class} {CLASS_LABELS_ZH.get(r.fire_class, '')}" if r.fire_class else ""
        lines += [
            f"### {r.id}{' ' + r.name if r.name else ''}: **{r.verdict.value}**",
            "",
            f"{r.use.value}, {r.height:.2f} m ({h.source}; {srcs or 'no measured source'}){flag}; "
            f"{r.height_class} {CLASS_LABELS_ZH.get(r.height_class, '')}{fire}.",
            "",
            "| verdict | rule | document, clause | threshold | conf. | wording | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for x in r.reasons:
            rs = rules.get(x.rule)
            doc = short.get(rs.rule_set, x.document) if rs else x.document
            lines.append(
                "| "
                + " | ".join(
                    _cell(c)
                    for c in (
                        x.verdict.value,
                        x.rule,
                        f"{doc}, {x.clause}",
                        _threshold(x.threshold, x.inclusive, x.unit),
                        _conf(x.confidence),
                        x.wording,
                        x.note,
                    )
                )
                + " |"
            )
        lines.append("")
    lines += [
        "## Rules applied",
        "",
        "| rule | document | clause | effective | conf. | threshold | reading |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in screener.rule_sets:
        for r in s.rules:
            lines.append(
                "| "
                + " | ".join(
                    _cell(c)
                    for c in (
                        r.id,
                        s.short,
                        r.clause,
                        r.effective,
                        _conf(r.confidence or s.confidence),
                        _threshold(r.threshold, r.inclusive, r.unit),
                        r.reading or r.wording,
                    )
                )
                + " |"
            )
    lines += ["", "Sources of the rule sets: " + " ".join(f"{s.short}: {s.source}" for s in screener.rule_sets), ""]
    return "\n".join(lines)


__all__ = ["CSV_COLUMNS", "csv_rows", "to_csv", "summary_rows", "markdown_report"]
