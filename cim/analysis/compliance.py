"""Pipeline rule compliance: GB 50289-2016 (RULES.md §4) and GB 50838-2015 (RULES.md §5).

The rules are data (``cim/rules/pipelines.toml``, :class:`PipelineRules`); this module measures and
compares.  Checks, each vectorised over all pipes (shapely STRtree pairs, numpy):

* **cover** (table 4.1.1 by utility, lane and conduit, and the frost depth of §4.1.1 for water,
  drainage, reclaimed water, direct-buried power and wet gas): cover = ground - (axis z + outer height
  / 2), at every vertex and every metre along the pipe; the least cover is reported, with the larger
  of the table's value and the frost depth as required (both rules listed when both fail).
* **horizontal clearance** between pipes (table 4.1.9): plan distance between centre lines less both
  outer half widths, for pairs the table gives a value for; pipes crossing in plan and pipes sharing a
  node are skipped.  **Building clearance**: footprint to centre line less the half width.
* **vertical clearance** at plan crossings (table 4.1.14): bottom of the upper pipe less top of the
  lower one at the crossing point (axis elevations interpolated along each centre line).
* **crossing order** (§4.1.12): of two pipes of different utilities crossing, the one earlier in
  telecom, power, gas, heat, water, reclaimed, storm, sewer must pass above; the measured value is the
  signed clearance (negative: it passes below) against the pair's vertical clearance.
* **utility tunnel compartments** (GB 50838 §4.3.4, §4.3.6, §4.3.9): gas alone, heat apart from power,
  storm apart from sewer.

Pipes sharing a node, or of one utility meeting end to end or end on line, are connected, never
crossing.  A pipe with no ``lane`` is checked against the motor-lane column (stricter) and the
violation says so; a gas pipe with no pressure class is read as low pressure (said likewise).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field

from ..crs import OutputCRS
from ..errors import InvalidParameter
from ..model import Building, LaneType, PipeSegment, StructureKind, UndergroundStructure
from ..store.base import Region, Store
from .params import city_bbox, output_crs
from .regions import check_area
from .registry import Analysis
from .solids import ground_sampler, sample_points

if TYPE_CHECKING:
    from ..city import LocalCity

Confidence = Literal["C", "S", "M"]
ViolationKind = Literal[
    "cover", "horizontal_clearance", "building_clearance", "vertical_clearance", "crossing_order", "compartment"
]
KINDS: tuple[str, ...] = (
    "cover",
    "horizontal_clearance",
    "building_clearance",
    "vertical_clearance",
    "crossing_order",
    "compartment",
)
COVER_STEP = 1.0  # metres between cover samples along a pipe (and every vertex)
TOL = 1e-6  # metres: a measured value this close to the required one complies


# -- rules -------------------------------------------------------------------------------------------------
def _norm_pressure(p: str | None) -> str | None:
    return None if p is None else " ".join(p.lower().replace("_", " ").replace("-", " ").split())


@dataclass(frozen=True)
class Selector:
    """Which pipes (or "building") one side of a rule applies to."""

    utilities: frozenset[str]
    d_max: float | None = None  # d <= d_max
    d_min: float | None = None  # d > d_min
    pressure: frozenset[str] | None = None
    conduit: bool | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any], side: str) -> Selector | None:
        if side not in data:
            return None
        pressure = data.get(f"{side}_pressure")
        return cls(
            frozenset(data[side]),
            data.get(f"{side}_d_max"),
            data.get(f"{side}_d_min"),
            None if pressure is None else frozenset(_norm_pressure(p) for p in pressure),
            data.get(f"{side}_conduit"),
        )

    def matches(self, pipe: PipeClass) -> bool:
        if pipe.utility not in self.utilities:
            return False
        if self.d_max is not None and not pipe.size <= self.d_max + 1e-9:
            return False
        if self.d_min is not None and not pipe.size > self.d_min + 1e-9:
            return False
        if self.pressure is not None and pipe.pressure not in self.pressure:
            return False
        return self.conduit is None or self.conduit == pipe.conduit


@dataclass(frozen=True)
class PipeClass:
    """What the rules look at in a pipe: utility ("building" for a building), outer size, pressure, conduit."""

    utility: str
    size: float = 0.0
    pressure: str | None = None
    conduit: bool = False


BUILDING = PipeClass("building")


@dataclass(frozen=True)
class Threshold:
    """One rule of ``pipelines.toml`` with its citation."""

    id: str
    section: str
    document: str
    clause: str
    confidence: Confidence
    effective: str | None
    value: float | None
    unit: str | None
    a: Selector | None = None
    b: Selector | None = None
    lane: str | None = None
    wording: str | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def pair_matches(self, p: PipeClass, q: PipeClass) -> bool:
        assert self.a is not None and self.b is not None
        return (self.a.matches(p) and self.b.matches(q)) or (self.a.matches(q) and self.b.matches(p))


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def read_overrides(path: str | Path) -> dict[str, float]:
    """``{rule id: value}`` from a TOML file (``"cover.frost" = 1.4``, or dotted keys unquoted; an
    ``[overrides]`` table is also accepted) or a JSON object."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".json":
            import json

            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise InvalidParameter("rules", f"Cannot read the rule overrides {p.name}: {exc}") from None
    if not isinstance(data, Mapping):
        raise InvalidParameter("rules", f"{p.name} must hold rule id = value pairs.")
    return _flatten(data.get("overrides", data))


class PipelineRules:
    """The rules of ``cim/rules/pipelines.toml``, with a city's overrides applied.

    >>> rules = PipelineRules.load(overrides={"cover.gas.motor_lane": 1.0})
    >>> rules.get("cover.gas.motor_lane").value, rules.get("v.drainage.water").confidence
    (1.0, 'S')
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.documents: dict[str, dict[str, Any]] = dict(data.get("documents", {}))
        self.thresholds: dict[str, Threshold] = {}
        for section in ("cover", "horizontal", "vertical", "compartments"):
            sec = data[section]
            for r in sec["rules"]:
                self._add(section, {**{k: v for k, v in sec.items() if k != "rules"}, **r})
        self._add("frost", dict(data["frost"]))
        self._add("order", dict(data["order"]))
        self.order: list[str] = list(data["order"]["top_to_bottom"])

    def _add(self, section: str, r: dict[str, Any]) -> None:
        doc = self.documents.get(r.get("document", ""), {})
        known = {"id", "document", "clause", "confidence", "unit", "value", "a", "b", "lane", "wording", "note"}
        known |= {f"{s}_{k}" for s in "ab" for k in ("d_max", "d_min", "pressure", "conduit")}
        t = Threshold(
            id=r["id"],
            section=section,
            document=r["document"],
            clause=r["clause"],
            confidence=r["confidence"],
            effective=doc.get("effective"),
            value=None if r.get("value") is None else float(r["value"]),
            unit=r.get("unit"),
            a=Selector.parse(r, "a"),
            b=Selector.parse(r, "b"),
            lane=r.get("lane"),
            wording=r.get("wording"),
            note=r.get("note"),
            extra={k: v for k, v in r.items() if k not in known},
        )
        if t.id in self.thresholds:
            raise ValueError(f"duplicate rule id {t.id!r} in pipelines.toml")
        if t.confidence not in ("C", "S", "M"):
            raise ValueError(f"rule {t.id}: confidence must be C, S or M")
        self.thresholds[t.id] = t

    @classmethod
    def load(cls, overrides: Mapping[str, float] | str | Path | None = None) -> PipelineRules:
        """The shipped rules; ``overrides`` (rule id -> value, or a file of them) replace values.

        An unknown rule id or a non-numeric value raises InvalidParameter naming ``rules``.
        """
        text = resources.files("cim.rules").joinpath("pipelines.toml").read_text(encoding="utf-8")
        rules = cls(tomllib.loads(text))
        if isinstance(overrides, str | Path):
            overrides = read_overrides(overrides)
        for rid, value in (overrides or {}).items():
            t = rules.thresholds.get(rid)
            if t is None or t.section in ("order", "compartments"):
                known = ", ".join(k for k, v in rules.thresholds.items() if v.section not in ("order", "compartments"))
                raise InvalidParameter("rules", f"No rule {rid!r} with a value to override; the rules are: {known}.")
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
                raise InvalidParameter("rules", f"The override of {rid!r} must be a number >= 0, got {value!r}.")
            rules.thresholds[rid] = Threshold(**{**t.__dict__, "value": float(value)})
        return rules

    def get(self, rid: str) -> Threshold:
        return self.thresholds[rid]

    def section(self, name: str) -> list[Threshold]:
        return [t for t in self.thresholds.values() if t.section == name]

    def pair(self, section: str, p: PipeClass, q: PipeClass) -> Threshold | None:
        """The rule of ``section`` (horizontal, vertical) for two pipes (or a pipe and BUILDING): the
        largest value where several match; None where the table gives none."""
        hits = [t for t in self.section(section) if t.pair_matches(p, q)]
        return max(hits, key=lambda t: t.value or 0.0) if hits else None


# -- the report --------------------------------------------------------------------------------------------
class FeatureRef(BaseModel):
    id: str
    collection: str


class ViolationProperties(BaseModel):
    """What a violation says (the GeoJSON feature's properties)."""

    kind: ViolationKind
    rule: str = Field(description="Id of the governing rule in cim/rules/pipelines.toml.")
    document: str
    clause: str
    confidence: Confidence = Field(
        description="C read in the source, S secondary restatement, M commonly quoted and unconfirmed (RULES.md)."
    )
    effective: str | None = None
    measured: float | None = Field(None, description="Measured value (metres), rounded to the millimetre.")
    required: float | None = Field(None, description="Required value (metres).")
    unit: str | None = "m"
    comparison: str = Field(
        description="'>=' (measured must be at least required), 'above' (signed clearance: "
        "the first pipe must pass above the second by required), "
        "'not together'."
    )
    description: str
    features: list[FeatureRef]
    also: list[str] = Field(default_factory=list, description="Other rules the same measurement breaks.")
    notes: list[str] = Field(
        default_factory=list, description="Assumptions made (lane, pressure class) and the standing of S/M values."
    )


class Violation(ViolationProperties):
    id: str = Field(description="<kind>:<feature ids>, unique in a report.")
    location: dict[str, Any] = Field(
        description="GeoJSON geometry in the city CRS (the API writes it in the response CRS)."
    )


class ComplianceReport(BaseModel):
    violations: list[Violation]
    counts: dict[str, int] = Field(description="Violations by kind.")
    by_rule: dict[str, int] = Field(description="Violations by governing rule id.")
    checked: dict[str, int] = Field(description="What was checked: pipes, crossings, pairs, compartments.")
    skipped: list[str] = Field(default_factory=list, description="Checks that could not run, and why.")

    def feature_collection(self, out: OutputCRS) -> dict[str, Any]:
        """The report as a GeoJSON FeatureCollection (violations as features), coordinates in ``out``."""
        feats = []
        for v in self.violations:
            props = v.model_dump(exclude={"location", "id"})
            feats.append(
                {"type": "Feature", "id": v.id, "geometry": _geometry_to(v.location, out), "properties": props}
            )
        return {
            "type": "FeatureCollection",
            "features": feats,
            "numberMatched": len(feats),
            "numberReturned": len(feats),
            "counts": self.counts,
            "by_rule": self.by_rule,
            "checked": self.checked,
            "skipped": self.skipped,
        }


def _geometry_to(geom: dict[str, Any], out: OutputCRS) -> dict[str, Any]:
    c = np.asarray(geom["coordinates"], dtype=float)
    flat = np.atleast_2d(c)
    xy = out.xy(flat[:, :2])
    new = np.column_stack([xy, np.round(flat[:, 2], 3)]) if flat.shape[1] == 3 else xy
    return {"type": geom["type"], "coordinates": (new[0] if c.ndim == 1 else new).tolist()}


def _point(x: float, y: float, z: float | None = None) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [x, y] if z is None else [x, y, z]}


def _notes(*thresholds: Threshold | None) -> list[str]:
    out = []
    for t in thresholds:
        if t is None:
            continue
        if t.confidence == "S":
            out.append(f"{t.id}: value from a secondary restatement (S), not read in the standard")
        elif t.confidence == "M":
            out.append(f"{t.id}: commonly quoted value, unconfirmed (M)")
        if t.note:
            out.append(f"{t.id}: {t.note}")
    return out


# -- pipes as arrays ---------------------------------------------------------------------------------------
@dataclass
class _Pipes:
    feats: list[PipeSegment]
    lines: np.ndarray  # 2-D LineStrings
    lines3: np.ndarray  # 3-D LineStrings
    hw: np.ndarray  # plan half width
    hh: np.ndarray  # half outer height
    util: np.ndarray  # utility value (object)
    nodes: np.ndarray  # (n, 2) node id codes (ints; unique negatives where none)
    classes: list[PipeClass]
    pressure_assumed: np.ndarray  # gas without a pressure class

    @classmethod
    def of(cls, feats: list[PipeSegment]) -> _Pipes:
        coords = [p.coords() for p in feats]
        lines3 = np.array([shapely.LineString(c) for c in coords], dtype=object)
        lines = np.array([shapely.LineString(c[:, :2]) for c in coords], dtype=object)
        hw = np.array([(p.diameter if p.diameter is not None else p.width) / 2 for p in feats], dtype=float)
        hh = np.array([p.outer_height / 2 for p in feats], dtype=float)
        util = np.array([p.utility.value for p in feats], dtype=object)
        codes: dict[str, int] = {}
        nodes = np.zeros((len(feats), 2), dtype=np.int64)
        for i, p in enumerate(feats):
            for k, nid in enumerate((p.from_node, p.to_node)):
                nodes[i, k] = codes.setdefault(nid, len(codes)) if nid else -(2 * i + k + 1)
        classes, assumed = [], np.zeros(len(feats), bool)
        for i, p in enumerate(feats):
            pressure = _norm_pressure(p.pressure_class)
            if p.utility.value == "gas" and pressure is None:
                pressure, assumed[i] = "low", True
            classes.append(
                PipeClass(
                    p.utility.value,
                    float(p.diameter if p.diameter is not None else p.width),
                    pressure,
                    bool(p.in_conduit),
                )
            )
        return cls(feats, lines, lines3, hw, hh, util, nodes, classes, assumed)

    def share_node(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        a, b = self.nodes[i], self.nodes[j]
        return (a[:, :1] == b).any(axis=1) | (a[:, 1:] == b).any(axis=1)

    def ref(self, i: int) -> FeatureRef:
        return FeatureRef(id=self.feats[i].id, collection="pipes")


def _z_at(lines3: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Axis elevation of 3-D lines at plan points on them (vectorised)."""
    p = shapely.points(pts)
    s = shapely.line_locate_point(lines3, p)
    return shapely.get_coordinates(shapely.line_interpolate_point(lines3, s), include_z=True)[:, 2]


# -- the checks --------------------------------------------------------------------------------------------
def check_cover(pipes: _Pipes, idx: np.ndarray, ground, rules: PipelineRules, frost_depth: float) -> list[Violation]:
    """Least cover of the pipes ``idx`` against table 4.1.1 and the frost depth."""
    if len(idx) == 0:
        return []
    a = np.concatenate([pipes.feats[i].coords()[:-1] for i in idx])
    b = np.concatenate([pipes.feats[i].coords()[1:] for i in idx])
    owner = np.repeat(idx, [len(pipes.feats[i].centreline) - 1 for i in idx])
    pts, _, seg = sample_points(a, b, COVER_STEP)
    own = owner[seg]
    cover = ground(pts[:, :2]) - (pts[:, 2] + pipes.hh[own])
    order = np.lexsort((cover, own))
    first = order[np.r_[True, own[order][1:] != own[order][:-1]]]
    frost = rules.get("cover.frost")
    frost_value = frost.value if frost.value is not None else frost_depth
    out = []
    for k in first.tolist():
        i = int(own[k])
        p = pipes.feats[i]
        cls = pipes.classes[i]
        notes: list[str] = []
        lane = p.lane.value if p.lane is not None else None
        if lane is None:
            lane = "motor_lane"
            notes.append("no lane recorded: the motor-lane column is assumed")
        elif lane == LaneType.green.value:
            lane = "footway"
        table = [t for t in rules.section("cover") if t.lane == lane and t.a is not None and t.a.matches(cls)]
        needs: list[Threshold] = table[:1]
        if frost.a is not None and cls.utility in frost.a.utilities:
            applies = True
            if cls.utility == "power" and frost.extra.get("power_direct_only") and cls.conduit:
                applies = False
            if cls.utility == "gas" and frost.extra.get("gas_wet_only") and not p.attributes.get("wet_gas"):
                applies = False
            if applies:
                needs.append(Threshold(**{**frost.__dict__, "value": frost_value}))
        if not needs:
            continue
        measured = float(cover[k])
        failed = [t for t in needs if measured < (t.value or 0.0) - TOL]
        if not failed:
            continue
        gov = max(failed, key=lambda t: t.value or 0.0)
        required = max(t.value or 0.0 for t in needs)
        if pipes.pressure_assumed[i]:
            notes.append("no pressure class recorded: low pressure assumed")
        x, y, z = pts[k].tolist()
        what = "under a motor lane" if lane == "motor_lane" else "under a footway"
        out.append(
            Violation(
                id=f"cover:{p.id}",
                kind="cover",
                rule=gov.id,
                document=gov.document,
                clause=gov.clause,
                confidence=gov.confidence,
                effective=gov.effective,
                measured=round(measured, 3),
                required=round(required, 3),
                unit="m",
                comparison=">=",
                description=f"{cls.utility} pipe {what} with {measured:.2f} m cover (min "
                + ", ".join(f"{t.value:.2f} {t.clause}" for t in needs)
                + ")",
                features=[pipes.ref(i)],
                also=[t.id for t in failed if t is not gov],
                notes=notes + _notes(*needs),
                location=_point(x, y, z + float(pipes.hh[i])),
            )
        )
    return out


def _crossings(pipes: _Pipes, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plan crossing points of pipes: (i, j, points (k, 2)), connected pairs removed."""
    tree = shapely.STRtree(pipes.lines[cand])
    a, b = tree.query(pipes.lines[cand], predicate="intersects")
    keep = a < b
    i, j = cand[a[keep]], cand[b[keep]]
    keep = ~pipes.share_node(i, j)
    i, j = i[keep], j[keep]
    inter = shapely.intersection(pipes.lines[i], pipes.lines[j])
    pts, k = shapely.get_coordinates(inter, return_index=True)
    ci, cj = i[k], j[k]
    # one utility meeting end to end or end on line: a connection without node ids, not a crossing
    ends = np.stack(
        [
            shapely.get_coordinates(shapely.get_point(pipes.lines, 0)),
            shapely.get_coordinates(shapely.get_point(pipes.lines, -1)),
        ],
        axis=1,
    )  # (n, 2, 2)
    ends_i, ends_j = ends[ci], ends[cj]
    at_end = (np.linalg.norm(ends_i - pts[:, None, :], axis=2).min(axis=1) < 1e-3) | (
        np.linalg.norm(ends_j - pts[:, None, :], axis=2).min(axis=1) < 1e-3
    )
    connected = at_end & (pipes.util[ci] == pipes.util[cj])
    return ci[~connected], cj[~connected], pts[~connected]


def check_crossings(
    pipes: _Pipes, cand: np.ndarray, inside: np.ndarray, rules: PipelineRules
) -> tuple[list[Violation], int]:
    """Vertical clearance (table 4.1.14) and order (§4.1.12) at every plan crossing; returns the
    violations and the number of crossing points checked."""
    ci, cj, pts = _crossings(pipes, cand)
    if len(ci) == 0:
        return [], 0
    zi, zj = _z_at(pipes.lines3[ci], pts), _z_at(pipes.lines3[cj], pts)
    i_up = zi >= zj
    up, lo = np.where(i_up, ci, cj), np.where(i_up, cj, ci)
    z_up, z_lo = np.where(i_up, zi, zj), np.where(i_up, zj, zi)
    clear = (z_up - pipes.hh[up]) - (z_lo + pipes.hh[lo])
    rank = {u: k for k, u in enumerate(rules.order)}
    order_rule = rules.get("order.crossing")
    worst: dict[tuple[str, int, int], tuple[float, Violation]] = {}

    def put(key: tuple[str, int, int], score: float, v: Violation) -> None:
        if key not in worst or score < worst[key][0]:
            worst[key] = (score, v)

    for k in range(len(ci)):
        u, w = int(up[k]), int(lo[k])
        if not (inside[u] or inside[w]):
            continue
        cu, cw = pipes.classes[u], pipes.classes[w]
        vr = rules.pair("vertical", cu, cw)
        x, y = pts[k].tolist()
        pair = (min(u, w), max(u, w))
        if vr is not None and clear[k] < (vr.value or 0.0) - TOL:
            put(
                ("vertical_clearance", *pair),
                float(clear[k]),
                Violation(
                    id=f"vertical_clearance:{pipes.feats[u].id}+{pipes.feats[w].id}",
                    kind="vertical_clearance",
                    rule=vr.id,
                    document=vr.document,
                    clause=vr.clause,
                    confidence=vr.confidence,
                    effective=vr.effective,
                    measured=round(float(clear[k]), 3),
                    required=vr.value,
                    unit="m",
                    comparison=">=",
                    description=f"{cu.utility} pipe crosses {clear[k]:.2f} m above {cw.utility} "
                    f"pipe (min {vr.value:.2f})",
                    features=[pipes.ref(u), pipes.ref(w)],
                    notes=_notes(vr),
                    location=_point(x, y, float(z_up[k] - pipes.hh[u])),
                ),
            )
        ru, rw = rank.get(cu.utility), rank.get(cw.utility)
        if ru is not None and rw is not None and ru > rw:  # the pipe that should be lower passes above
            e, o = w, u  # e should be the upper one
            signed = -float(max(clear[k], 0.0))
            need = vr.value if vr is not None else 0.0
            put(
                ("crossing_order", *pair),
                signed,
                Violation(
                    id=f"crossing_order:{pipes.feats[e].id}+{pipes.feats[o].id}",
                    kind="crossing_order",
                    rule=order_rule.id,
                    document=order_rule.document,
                    clause=order_rule.clause,
                    confidence=order_rule.confidence,
                    effective=order_rule.effective,
                    measured=round(signed, 3),
                    required=need,
                    unit="m",
                    comparison="above",
                    description=f"{cw.utility} pipe crosses {max(clear[k], 0.0):.2f} m below {cu.utility} pipe "
                    f"({cw.utility} must pass above {cu.utility}"
                    + (f", by at least {need:.2f} m ({vr.clause})" if vr is not None else "")
                    + ")",
                    features=[pipes.ref(e), pipes.ref(o)],
                    also=[vr.id] if vr is not None and clear[k] < need else [],
                    notes=_notes(order_rule, vr),
                    location=_point(x, y, float(z_lo[k])),
                ),
            )
    return [v for _, v in worst.values()], len(ci)


def check_horizontal(
    pipes: _Pipes, cand: np.ndarray, inside: np.ndarray, rules: PipelineRules
) -> tuple[list[Violation], int]:
    """Clearances between pipes that do not cross or connect (table 4.1.9)."""
    hr = rules.section("horizontal")
    reach = max((t.value or 0.0) for t in hr) + 2 * float(pipes.hw[cand].max(initial=0.0))
    tree = shapely.STRtree(pipes.lines[cand])
    a, b = tree.query(pipes.lines[cand], predicate="dwithin", distance=reach)
    keep = a < b
    i, j = cand[a[keep]], cand[b[keep]]
    keep = (inside[i] | inside[j]) & ~pipes.share_node(i, j) & ~shapely.intersects(pipes.lines[i], pipes.lines[j])
    i, j = i[keep], j[keep]
    cache: dict[tuple[PipeClass, PipeClass], Threshold | None] = {}
    req = np.full(len(i), np.nan)
    rule_of: list[Threshold | None] = []
    for k in range(len(i)):
        key = (pipes.classes[i[k]], pipes.classes[j[k]])
        if key not in cache:
            cache[key] = rules.pair("horizontal", *key)
        t = cache[key]
        rule_of.append(t)
        if t is not None:
            req[k] = t.value
    has = np.flatnonzero(np.isfinite(req))
    clear = shapely.distance(pipes.lines[i[has]], pipes.lines[j[has]]) - pipes.hw[i[has]] - pipes.hw[j[has]]
    bad = has[clear < req[has] - TOL]
    out = []
    for k, c in zip(bad.tolist(), clear[np.isin(has, bad)].tolist(), strict=True):
        u, w = int(i[k]), int(j[k])
        t = rule_of[k]
        assert t is not None
        if t.a is not None and not t.a.matches(pipes.classes[u]):
            u, w = w, u  # name the pipes in the rule's order
        line = shapely.shortest_line(pipes.lines[u], pipes.lines[w])
        notes = _notes(t) + (
            ["no pressure class recorded: low pressure assumed"]
            if pipes.pressure_assumed[u] or pipes.pressure_assumed[w]
            else []
        )
        out.append(
            Violation(
                id=f"horizontal_clearance:{pipes.feats[u].id}+{pipes.feats[w].id}",
                kind="horizontal_clearance",
                rule=t.id,
                document=t.document,
                clause=t.clause,
                confidence=t.confidence,
                effective=t.effective,
                measured=round(c, 3),
                required=t.value,
                unit="m",
                comparison=">=",
                description=f"{pipes.classes[u].utility} pipe {c:.2f} m (clear) from {pipes.classes[w].utility} pipe "
                f"(min {t.value:.2f})",
                features=[pipes.ref(u), pipes.ref(w)],
                notes=notes,
                location={"type": "LineString", "coordinates": shapely.get_coordinates(line).tolist()},
            )
        )
    return out, len(has)


def check_buildings(
    pipes: _Pipes, cand: np.ndarray, inside: np.ndarray, buildings: list[Building], rules: PipelineRules
) -> tuple[list[Violation], int]:
    """Clearances between pipes and building footprints (table 4.1.9)."""
    if not buildings or len(cand) == 0:
        return [], 0
    polys = np.array([shapely.Polygon(b.footprint[0], b.footprint[1:]) for b in buildings], dtype=object)
    br = [t for t in rules.section("horizontal") if t.b is not None and "building" in t.b.utilities]
    reach = max((t.value or 0.0) for t in br) + float(pipes.hw[cand].max(initial=0.0))
    tree = shapely.STRtree(polys)
    a, b = tree.query(pipes.lines[cand], predicate="dwithin", distance=reach)
    i = cand[a]
    keep = inside[i]
    i, bi = i[keep], b[keep]
    cache: dict[PipeClass, Threshold | None] = {}
    out, checked = [], 0
    dist = shapely.distance(pipes.lines[i], polys[bi]) - pipes.hw[i]
    for k in range(len(i)):
        cls = pipes.classes[i[k]]
        if cls not in cache:
            cache[cls] = rules.pair("horizontal", cls, BUILDING)
        t = cache[cls]
        if t is None:
            continue
        checked += 1
        if dist[k] >= (t.value or 0.0) - TOL:
            continue
        u, bld = int(i[k]), buildings[int(bi[k])]
        line = shapely.shortest_line(polys[bi[k]], pipes.lines[u])
        out.append(
            Violation(
                id=f"building_clearance:{pipes.feats[u].id}+{bld.id}",
                kind="building_clearance",
                rule=t.id,
                document=t.document,
                clause=t.clause,
                confidence=t.confidence,
                effective=t.effective,
                measured=round(float(dist[k]), 3),
                required=t.value,
                unit="m",
                comparison=">=",
                description=f"{cls.utility} pipe {dist[k]:.2f} m (clear) from building {bld.id} (min {t.value:.2f})",
                features=[pipes.ref(u), FeatureRef(id=bld.id, collection="buildings")],
                notes=_notes(t),
                location={"type": "LineString", "coordinates": shapely.get_coordinates(line).tolist()},
            )
        )
    return out, checked


def check_compartments(structures: list[UndergroundStructure], rules: PipelineRules) -> tuple[list[Violation], int]:
    """Utility tunnel compartments against GB 50838 §4.3 (gas alone, heat apart from power, ...)."""
    out, checked = [], 0
    for s in structures:
        if s.kind != StructureKind.utility_tunnel or not s.compartments:
            continue
        geom = (
            {"type": "LineString", "coordinates": [list(p) for p in s.centreline]}
            if s.centreline
            else {"type": "Polygon", "coordinates": [[list(p) for p in r + [r[0]]] for r in s.footprint or []]}
        )
        for c in s.compartments:
            checked += 1
            contents = {u.value for u in c.contents}
            for t in rules.section("compartments"):
                alone, apart = t.extra.get("alone"), set(t.extra.get("apart", []))
                if alone and alone in contents and len(contents) > 1:
                    what = f"{alone} shares the compartment {c.name} with {', '.join(sorted(contents - {alone}))}"
                elif apart and apart <= contents:
                    what = f"{' and '.join(sorted(apart))} share the compartment {c.name}"
                else:
                    continue
                out.append(
                    Violation(
                        id=f"compartment:{s.id}:{t.id}:{c.name}",
                        kind="compartment",
                        rule=t.id,
                        document=t.document,
                        clause=t.clause,
                        confidence=t.confidence,
                        effective=t.effective,
                        measured=None,
                        required=None,
                        unit=None,
                        comparison="not together",
                        description=f"{what} ({t.wording})",
                        features=[FeatureRef(id=s.id, collection="underground-structures")],
                        notes=_notes(t),
                        location=geom,
                    )
                )
    return out, checked


# -- from a store ------------------------------------------------------------------------------------------
def pipe_compliance(
    store: Store,
    polygon: shapely.Geometry | None = None,
    *,
    rules: PipelineRules | None = None,
    max_area_km2: float | None = None,
) -> ComplianceReport:
    """Every violation of the pipeline rules by pipes (and tunnels) in ``polygon`` (city CRS; None: the
    whole city).  Neighbours just outside the polygon are loaded for the pair checks; a violation is
    reported when one of its pipes lies in the polygon."""
    rules = rules or PipelineRules.load()
    if polygon is not None:
        check_area(polygon, max_area_km2, "bbox")
    city = store.city()
    hr = rules.section("horizontal")
    margin = max((t.value or 0.0) for t in hr) + 30.0  # widest clearance + sections up to 28 m wide together
    big = None if polygon is None else Region(polygon.buffer(margin))
    feats: list[PipeSegment] = list(store.iter_features("pipes", region=big))  # type: ignore[arg-type]
    buildings: list[Building] = list(store.iter_features("buildings", region=big))  # type: ignore[arg-type]
    structures: list[UndergroundStructure] = list(
        store.iter_features(  # type: ignore[arg-type]
            "underground-structures", region=None if polygon is None else Region(polygon)
        )
    )
    pipes = _Pipes.of(feats)
    cand = np.arange(len(feats))
    inside = np.ones(len(feats), bool) if polygon is None else shapely.intersects(polygon, pipes.lines)
    out: list[Violation] = []
    skipped: list[str] = []
    ground = ground_sampler(store.terrain())
    if ground is None:
        skipped.append("cover: the city has no terrain, so cover cannot be measured")
    else:
        out += check_cover(pipes, np.flatnonzero(inside), ground, rules, city.frost_depth)
    crossing, n_cross = check_crossings(pipes, cand, inside, rules) if len(feats) else ([], 0)
    horizontal, n_pairs = check_horizontal(pipes, cand, inside, rules) if len(feats) else ([], 0)
    near_b, n_b = check_buildings(pipes, cand, inside, buildings, rules)
    comp, n_comp = check_compartments(structures, rules)
    out += crossing + horizontal + near_b + comp
    out.sort(key=lambda v: (KINDS.index(v.kind), v.id))
    counts = {k: sum(v.kind == k for v in out) for k in KINDS}
    by_rule: dict[str, int] = {}
    for v in out:
        by_rule[v.rule] = by_rule.get(v.rule, 0) + 1
    return ComplianceReport(
        violations=out,
        counts=counts,
        by_rule=dict(sorted(by_rule.items())),
        checked={
            "pipes": int(inside.sum()),
            "crossings": n_cross,
            "pipe_pairs": n_pairs,
            "pipe_building_pairs": n_b,
            "compartments": n_comp,
        },
        skipped=skipped,
    )


# -- the registered analysis (GET /analysis/pipe-compliance, /processes/pipe-compliance, cim analyse) ----------
class PipeComplianceRequest(BaseModel):
    """Pipes to check: those in ``bbox`` (default the whole city); coordinates out in ``crs``.  (Query
    parameters: others are ignored, as the route always did.)"""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    bbox: str | None = Field(
        None,
        description="minx,miny,maxx,maxy in bbox-crs axis order; default: the whole city",
        examples=["123.41,41.79,123.42,41.80"],
    )
    bbox_crs: str | None = Field(None, alias="bbox-crs", description="CRS of bbox (URI); default CRS84.")
    crs: str | None = Field(
        None,
        description="CRS of the returned coordinates (URI); default CRS84. "
        "Coordinates are written in the CRS's official axis order.",
    )


class ViolationFeature(BaseModel):
    """One violation as a GeoJSON Feature."""

    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any]
    properties: ViolationProperties


class ComplianceCollection(BaseModel):
    """GeoJSON FeatureCollection of violations; the report's tallies as foreign members."""

    type: Literal["FeatureCollection"]
    features: list[ViolationFeature]
    numberMatched: int
    numberReturned: int
    counts: dict[str, int]
    by_rule: dict[str, int]
    checked: dict[str, int]
    skipped: list[str]


def run(city: LocalCity, req: PipeComplianceRequest) -> ComplianceCollection:
    """The registered analysis: :func:`pipe_compliance` with the city's rules, as GeoJSON in ``crs``."""
    out = output_crs(city, req.crs)
    region = city_bbox(city, req.bbox, req.bbox_crs, flat=True)
    report = pipe_compliance(
        city.store,
        None if region is None else region.polygon,
        rules=city.pipeline_rules,
        max_area_km2=city.limits.max_area_km2,
    )
    return ComplianceCollection.model_validate(report.feature_collection(out))


ANALYSIS = Analysis(
    id="pipe-compliance",
    title="Pipeline rule compliance",
    description="Violations of GB 50289-2016 (cover by utility and lane with the frost depth, horizontal "
    "clearances between pipes and from buildings, vertical clearance and order at crossings) and GB 50838-2015 "
    "(utility tunnel compartments) by pipes in the box, as GeoJSON features with the rule, its clause and "
    "confidence mark, measured and required values and the features involved.",
    request=PipeComplianceRequest,
    result=ComplianceCollection,
    run=run,
    method="GET",
    keywords=("underground", "GB 50289-2016", "GB 50838-2015", "compliance"),
)
