"""Ultra-high-rise screening of existing and proposed buildings under the national rules.

The rules are data (``cim/rules/*.toml``): GB 50352-2019 height classes, GB 50016 fire classes, 建科〔2021〕76号
and the 2020 notice.  Each building gets a height, its GB 50352 height class and GB 50016 fire class, a
verdict (``ok`` < ``consult-fire-rescue`` < ``exceeds-new-build-limit`` < ``restricted`` < ``not-allowed``: the most
severe of its reasons; existing buildings get ``exceeds-new-build-limit`` from rules on new construction)
and the reasons, each naming the rule, document, clause, confidence mark, threshold and whether the
threshold itself counts.

What a verdict means
    What the rules would say of the building if it were proposed today.  Existing buildings are screened the
    same way (the register of existing buildings that today's limits would catch; 建科〔2021〕76号 asks for
    existing ultra-high-rise buildings to be checked), plus the rules for existing buildings only
    (``applies_to = "existing"``).  Thresholds are compared with heights rounded to the millimetre.

Heights, from three sources (all reported, metres above ground):
    * ``attribute``: a ``measuredHeight`` / ``measured_height`` / ``height`` attribute kept by an import, or the
      model's height where ``height_source == "attribute"``;
    * ``geometry``: from the LOD2 roof surfaces where there are any, leaving out the highest roof parts while
      together they cover no more than 1/4 of the roof's plan area (GB 50352's rooftop plant rule, rule
      ``gb50352.rooftop-plant``; parts rising more than 8 m are taken as part of the building, not plant); else
      the top of the surfaces; else roof minus ground elevation;
    * ``lidar``: a high percentile (95th) of the LiDAR building points (class 6) inside the footprint minus the
      ground (the terrain at the footprint's centroid, else the building's ground elevation), for footprints
      at least 90 % inside the survey's extent and holding at least 3 points.
    The screening uses geometry, else attribute, else LiDAR, else the model's height.  Sources that differ by
    more than 2 m **or** by more than 5 % of the height are flagged (``heights.flagged``): the issue asks to
    "flag disagreements over 2 m or 5%", read as either condition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import InvalidParameter
from ..model import XY, Building, BuildingUse, City, SurfaceType
from ..rules import (
    CLASS_LABELS_ZH,
    FIRE_CLASSES,
    HEIGHT_CLASSES,
    CityProfile,
    Confidence,
    PopulationClass,
    Rule,
    RuleSet,
    Verdict,
    load_rule_sets,
    population_class,
    resolve_profile,
)
from ..store.base import Region, Store
from ..terrain import Terrain


def _existing_verdict(r: Rule, new: bool) -> Verdict | None:
    """The verdict an existing building gets from a rule on new construction: exceeds-new-build-limit in
    place of restricted / not-allowed (None: the rule's own verdict)."""
    if new or not r.new_construction or r.verdict not in (Verdict.restricted, Verdict.not_allowed):
        return None
    return Verdict.exceeds_new_build_limit


UNKNOWN_USE_NOTE = "use unknown: screened under both the residential and the public rules (the stricter applies)"
DISAGREE_M = 2.0  # metres
DISAGREE_FRACTION = 0.05  # of the screening height
LIDAR_PERCENTILE = 95.0
LIDAR_MIN_POINTS = 3
LIDAR_MIN_COVER = 0.9  # share of a footprint that must lie in the survey's extent
PLANT_MAX_RISE = 8.0  # metres: roof parts rising more than this above the roof are not rooftop plant
MAX_HEIGHT = 1000.0  # metres: a proposal above this is refused as absurd
_CHUNK = 1_000_000


class Reason(BaseModel):
    """Why a verdict was given: one rule that the building meets."""

    model_config = ConfigDict(extra="forbid")
    rule: str = Field(description="Rule id, e.g. 76.ban.ge3m.")
    document: str
    clause: str
    effective: str = Field(description="Effective date of the rule (YYYY, YYYY-MM or YYYY-MM-DD).")
    confidence: Confidence = Field(description="C read in the source; S secondary restatement; M unconfirmed.")
    verdict: Verdict
    threshold: float | None = Field(None, description="The threshold, in `unit`.")
    unit: str | None = None
    measured: float | None = Field(None, description="The building's value compared with the threshold.")
    inclusive: bool | None = Field(None, description="Whether a value equal to the threshold meets the rule.")
    wording: str = Field(description="The rule's wording (the Chinese original where recorded).")
    note: str = ""


class Heights(BaseModel):
    """The building's height from each source (metres above ground) and how far they agree."""

    model_config = ConfigDict(extra="forbid")
    attribute: float | None = None
    geometry: float | None = None
    lidar: float | None = None
    design: float | None = Field(None, description="A proposal's height (given, or floors x storey height).")
    used: float = Field(description="The height screened.")
    source: str = Field(description="Where `used` comes from: geometry, attribute, lidar, design or model.")
    disagreement: float | None = Field(None, description="Largest difference between the sources, metres.")
    flagged: bool = Field(False, description="Sources differ by more than 2 m or more than 5 % of the height.")
    lidar_points: int | None = Field(None, description="LiDAR building points inside the footprint.")
    plant_excluded: float | None = Field(None, description="Share of the roof area left out as rooftop plant.")


class ScreeningResult(BaseModel):
    """The screening of one building or proposal."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str | None = None
    use: BuildingUse
    new: bool = Field(description="A proposed (new) building, or an existing one.")
    height: float = Field(description="Height screened, metres above ground (rounded to the millimetre).")
    height_class: str = Field(description="GB 50352: low-multi-storey, high-rise or ultra-high-rise.")
    fire_class: str | None = Field(
        None, description="GB 50016: single-multi-storey, class-II or class-I; None for industrial buildings."
    )
    verdict: Verdict = Field(
        description="The most severe verdict of the reasons, least to most severe: ok, consult-fire-rescue, "
        "exceeds-new-build-limit, restricted, not-allowed.  Existing buildings (new: false) never get restricted "
        "or not-allowed from a rule on new construction (新建): they get exceeds-new-build-limit, a register "
        "entry naming the rule and clause."
    )
    reasons: list[Reason]
    heights: Heights


class Proposal(BaseModel):
    """A proposed building: its footprint in the city CRS and its height (or floors)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=200)
    name: str | None = None
    footprint: list[list[XY]] = Field(min_length=1, description="Exterior ring then holes, city CRS, metres.")
    height: float | None = Field(None, gt=0, le=MAX_HEIGHT, description="Height above ground, metres.")
    floors: int | None = Field(None, ge=1, le=250, description="Floors above ground (height = floors x storey).")
    storey_height: float = Field(3.0, gt=0, le=20, description="Storey height, metres (with `floors`).")
    use: BuildingUse
    new: bool = True
    attributes: dict[str, Any] = Field(default_factory=dict, description="e.g. kind: hospital (GB 50016).")

    @model_validator(mode="after")
    def _height(self) -> Proposal:
        if self.height is None and self.floors is None:
            raise ValueError("give height (metres) or floors")
        if self.design_height() > MAX_HEIGHT:
            raise ValueError(f"floors x storey_height = {self.design_height():.1f} m is over {MAX_HEIGHT:.0f} m")
        return self

    def design_height(self) -> float:
        return float(self.height) if self.height is not None else self.floors * self.storey_height  # type: ignore


# -- heights ------------------------------------------------------------------------------------------------


def attribute_height(b: Building) -> float | None:
    """A height kept in the attributes by an import, or the model's height when its source is an attribute."""
    for key in ("measuredHeight", "measured_height", "height"):
        v = b.attributes.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= MAX_HEIGHT:
            return float(v)
    return float(b.height) if b.height_source == "attribute" else None


def _ring_area(ring: Sequence[Sequence[float]]) -> float:
    xy = np.asarray(ring, dtype=float)[:, :2]
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def roof_top(b: Building, plant_fraction: float = 0.25, inclusive: bool = True) -> tuple[float | None, float]:
    """Top of the roof (absolute elevation, metres) from LOD2 roof surfaces by GB 50352's rooftop plant rule.

    Roof surfaces are grouped by their top elevation (to the millimetre); from the highest group down, groups
    are left out while together they cover no more than ``plant_fraction`` of the roof's plan area (``<`` when
    not ``inclusive``), provided they rise no more than ``PLANT_MAX_RISE`` above the roof kept: a slender tower
    on a wide podium is not rooftop plant.  Returns (top of the highest group kept, share of the roof area left
    out), or (None, 0) when the building has no roof surfaces.
    """
    roofs = [s for s in (b.surfaces or []) if s.type == SurfaceType.roof]
    if not roofs:
        return None, 0.0
    tops = np.array([max(p[2] for p in s.rings[0]) for s in roofs])
    areas = np.array([max(_ring_area(s.rings[0]) - sum(_ring_area(h) for h in s.rings[1:]), 0.0) for s in roofs])
    total = areas.sum()
    levels, inverse = np.unique(np.round(tops, 3), return_inverse=True)
    level_area = np.bincount(inverse, weights=areas, minlength=len(levels))
    if total <= 0 or len(levels) == 1:
        return float(tops.max()), 0.0
    left_out, keep = 0.0, 0
    for k in range(len(levels) - 1, 0, -1):  # highest first; the lowest level always stays
        share = (left_out + level_area[k]) / total
        if not (share <= plant_fraction * (1 + 1e-9) if inclusive else share < plant_fraction * (1 - 1e-9)):
            keep = k
            break
        left_out += level_area[k]
    if levels[-1] - levels[keep] > PLANT_MAX_RISE:
        return float(levels[-1]), 0.0
    return float(levels[keep]), left_out / total


def geometry_height(b: Building, plant_fraction: float = 0.25, inclusive: bool = True) -> tuple[float | None, float]:
    """Height from the geometry (see :func:`roof_top`), and the share of roof left out as plant."""
    top, excluded = roof_top(b, plant_fraction, inclusive)
    if top is None and b.surfaces:
        top = max(p[2] for s in b.surfaces for r in s.rings for p in r)
    if top is None:
        if b.height_source not in (None, "geometry", "design"):
            return None, 0.0
        top = b.roof_elevation
    h = float(top) - b.ground_elevation
    return (h, excluded) if h > 0 else (None, 0.0)


def _shapes(footprints: Iterable[list[list[tuple[float, float]]]]) -> np.ndarray:
    return np.array([shapely.Polygon(f[0], f[1:]) for f in footprints], dtype=object)


def lidar_heights(
    shapes: np.ndarray,
    points: np.ndarray,
    ground: np.ndarray,
    *,
    q: float = LIDAR_PERCENTILE,
    min_points: int = LIDAR_MIN_POINTS,
) -> tuple[np.ndarray, np.ndarray]:
    """Heights from LiDAR building points, vectorised.

    Parameters
    ----------
    shapes : (n,) shapely Polygons, footprints, city CRS.
    points : (m, 3) float, building-class points, metres, city CRS and height datum.
    ground : (n,) float, ground elevation of each building, metres.
    q : percentile of the points' z inside each footprint (robust against a stray high point).

    Returns
    -------
    heights : (n,) float, metres above ground; NaN where less than 90 % of the footprint lies inside the
        survey's extent (the points' convex hull grown by the mean point spacing, sqrt(hull area / points)) or
        the footprint holds fewer than ``min_points`` points.
    counts : (n,) int, points inside each footprint.
    """
    n = len(shapes)
    heights = np.full(n, np.nan)
    counts = np.zeros(n, dtype=np.int64)
    if n == 0 or points is None or len(points) == 0:
        return heights, counts
    pts = np.asarray(points, dtype=float)
    hull = shapely.convex_hull(shapely.multipoints(pts[:, :2]))
    spacing = float(np.sqrt(hull.area / len(pts))) if hull.area > 0 else 0.0
    extent = hull.buffer(spacing)  # the survey's extent, give or take a point
    covered = shapely.area(shapely.intersection(shapes, extent)) >= LIDAR_MIN_COVER * shapely.area(shapes)
    lo = np.min(shapely.bounds(shapes)[:, :2], axis=0)
    hi = np.max(shapely.bounds(shapes)[:, 2:], axis=0)
    near = np.all((pts[:, :2] >= lo) & (pts[:, :2] <= hi), axis=1)
    pts = pts[near]
    shapely.prepare(shapes)
    tree = shapely.STRtree(shapes)
    owners, zs = [], []
    for k in range(0, len(pts), _CHUNK):
        chunk = pts[k : k + _CHUNK]
        pi, bi = tree.query(shapely.points(chunk[:, :2]))  # candidates by bounding box
        inside = shapely.contains_xy(shapes[bi], chunk[pi, 0], chunk[pi, 1])
        owners.append(bi[inside])
        zs.append(chunk[pi[inside], 2])
    owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    z = np.concatenate(zs) if zs else np.zeros(0)
    order = np.lexsort((z, owner))
    owner, z = owner[order], z[order]
    counts = np.bincount(owner, minlength=n).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ok = (counts >= max(min_points, 1)) & covered
    pos = starts[ok] + q / 100.0 * (counts[ok] - 1)  # numpy's default (linear) percentile, per group
    below = np.floor(pos).astype(np.int64)
    above = np.minimum(below + 1, starts[ok] + counts[ok] - 1)
    frac = pos - below
    heights[ok] = z[below] * (1 - frac) + z[above] * frac - ground[ok]
    return heights, counts


def _ground(terrain: Terrain | None, shapes: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    if terrain is None or len(shapes) == 0:
        return fallback
    g = terrain.sample(shapely.get_coordinates(shapely.centroid(shapes)))
    return np.where(np.isfinite(g), g, fallback)


def _disagreement(values: list[float | None], used: float) -> tuple[float | None, bool]:
    vals = [v for v in values if v is not None]
    if len(vals) < 2:
        return None, False
    d = round(max(vals) - min(vals), 3)
    return d, bool(d > DISAGREE_M or d > DISAGREE_FRACTION * used)


def measure_heights(
    buildings: Sequence[Building],
    shapes: np.ndarray,
    *,
    terrain: Terrain | None = None,
    points: np.ndarray | None = None,
    plant_rule: Rule | None = None,
) -> list[Heights]:
    """The heights of ``buildings`` from every source (see the module docstring)."""
    frac = plant_rule.threshold if plant_rule is not None else 0.25
    incl = plant_rule.inclusive if plant_rule is not None else True
    ground = np.array([b.ground_elevation for b in buildings], dtype=float)
    if points is not None and len(points):
        lidar, counts = lidar_heights(shapes, points, _ground(terrain, shapes, ground))
    else:
        lidar, counts = np.full(len(buildings), np.nan), None
    out = []
    for k, b in enumerate(buildings):
        attr = attribute_height(b)
        geom, excluded = geometry_height(b, frac, bool(incl))
        lid = None if np.isnan(lidar[k]) else float(lidar[k])
        vals = {"geometry": geom, "attribute": attr, "lidar": lid}
        source = next((s for s, v in vals.items() if v is not None), "model")
        used = round(vals[source] if source != "model" else float(b.height), 3)
        d, flagged = _disagreement([attr, geom, lid], used)
        out.append(
            Heights.model_construct(
                attribute=None if attr is None else round(attr, 3),
                geometry=None if geom is None else round(geom, 3),
                lidar=None if lid is None else round(lid, 3),
                design=None,
                used=used,
                source=source,
                disagreement=d,
                flagged=flagged,
                lidar_points=None if counts is None else int(counts[k]),
                plant_excluded=round(excluded, 4) if excluded else None,
            )
        )
    return out


# -- the rule engine ----------------------------------------------------------------------------------------


@dataclass
class Subjects:
    """Buildings or proposals to screen, as parallel arrays (n of each)."""

    ids: list[str]
    names: list[str | None]
    uses: list[BuildingUse]
    new: np.ndarray  # (n,) bool
    floors: np.ndarray  # (n,) int, -1 where unknown
    kinds: list[str | None]  # attributes.kind
    shapes: np.ndarray  # (n,) shapely footprints, city CRS
    heights: list[Heights]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def height(self) -> np.ndarray:
        return np.array([h.used for h in self.heights], dtype=float)


class Screener:
    """The rules for one city, ready to screen buildings and proposals.

    ``profile`` (a :class:`~cim.rules.CityProfile`, a shipped profile's name or a profile file) tunes the rules:
    population class, fire stations, siting polygons, threshold overrides; by default the city model's own
    population and fire stations are used.  ``overrides`` (rule id -> value) are applied after the profile's.
    """

    def __init__(
        self, city: City, profile: CityProfile | str | None = None, overrides: dict[str, float] | None = None
    ) -> None:
        self.city = city
        self.profile = resolve_profile(city, profile)
        self.overrides = {**self.profile.overrides, **(overrides or {})}
        self.rule_sets: list[RuleSet] = load_rule_sets(overrides=self.overrides)
        self.rules: dict[str, Rule] = {r.id: r for s in self.rule_sets for r in s.rules}
        self.split = self.rules["76.population-split"]
        pc = population_class(self.profile, self.split)
        self.population_known = pc is not None
        self.population_class: PopulationClass = pc or "lt_3m"  # unknown: the stricter thresholds

    # -- descriptions used in notes and reports

    def population_note(self) -> str:
        p = self.profile
        if not self.population_known:
            return (
                "urban population unknown: the < 3M thresholds (the stricter) applied; set the city's "
                "urban_population or a profile"
            )
        label = "≥ 3M (300万以上)" if self.population_class == "ge_3m" else "< 3M (300万以下)"
        if p.urban_population is not None:
            conf = f", {p.confidence}" if p.confidence else ""
            return f"city class {label}: urban population {p.urban_population:,}{conf}"
        return f"city class {label} ({p.name}{', ' + p.confidence if p.confidence else ''})"

    # -- screening

    def screen_buildings(
        self,
        buildings: Sequence[Building],
        *,
        terrain: Terrain | None = None,
        points: np.ndarray | None = None,
        new: bool = False,
    ) -> list[ScreeningResult]:
        """Screen model buildings (existing unless ``new``), measuring their heights from every source."""
        shapes = _shapes(b.footprint for b in buildings)
        heights = measure_heights(
            buildings, shapes, terrain=terrain, points=points, plant_rule=self.rules.get("gb50352.rooftop-plant")
        )
        subj = Subjects(
            ids=[b.id for b in buildings],
            names=[b.name for b in buildings],
            uses=[b.use for b in buildings],
            new=np.full(len(buildings), bool(new)),
            floors=np.array([b.floors_above if b.floors_above is not None else -1 for b in buildings], dtype=int),
            kinds=[b.attributes.get("kind") if isinstance(b.attributes.get("kind"), str) else None for b in buildings],
            shapes=shapes,
            heights=heights,
        )
        return self.screen(subj)

    def screen_proposals(self, proposals: Sequence[Proposal]) -> list[ScreeningResult]:
        """Screen proposals (their footprints in the city CRS), checking each footprint first."""
        shapes = np.empty(len(proposals), dtype=object)
        for i, p in enumerate(proposals):
            shapes[i] = _valid_footprint(p.footprint, f"proposals.{i}.footprint")
        heights = [
            Heights(design=round(p.design_height(), 3), used=round(p.design_height(), 3), source="design")
            for p in proposals
        ]
        subj = Subjects(
            ids=[p.id for p in proposals],
            names=[p.name for p in proposals],
            uses=[p.use for p in proposals],
            new=np.array([p.new for p in proposals], dtype=bool),
            floors=np.array([p.floors if p.floors is not None else -1 for p in proposals], dtype=int),
            kinds=[p.attributes.get("kind") if isinstance(p.attributes.get("kind"), str) else None for p in proposals],
            shapes=shapes,
            heights=heights,
        )
        return self.screen(subj)

    def screen(self, s: Subjects) -> list[ScreeningResult]:
        """Apply every rule to the subjects: one vectorised mask per rule."""
        n = len(s.ids)
        h = s.height
        reasons: list[list[Reason]] = [[] for _ in range(n)]
        classes: dict[str, np.ndarray] = {}
        class_rule: dict[str, list[Rule | None]] = {}
        hc_rank = np.zeros(n, dtype=int)
        for rs in self.rule_sets:  # class rule sets first (the files are in that order): min_class needs them
            cats = [set(rs.categories(u)) for u in s.uses]
            has_any = np.array([bool(c) for c in cats])
            if rs.classes:
                rank = np.where(has_any, 0, -1)
                winner: list[Rule | None] = [None] * n
            for r in rs.rules:
                if r.kind in ("parameter", "plant-room"):
                    continue
                m = has_any.copy() if r.category == "any" else np.array([r.category in c for c in cats], dtype=bool)
                if r.population != "any":
                    m &= r.population == self.population_class
                if r.applies_to == "new":
                    m &= s.new
                elif r.applies_to == "existing":
                    m &= ~s.new
                if r.exempt_single_storey:
                    m &= s.floors != 1
                if r.kinds:
                    m &= np.array([k in r.kinds for k in s.kinds], dtype=bool)
                if r.min_class is not None:
                    m &= hc_rank >= HEIGHT_CLASSES.index(r.min_class)
                if r.kind == "class":
                    m &= r.passes(h)
                    cr = rs.classes.index(r.assigns)  # type: ignore[arg-type]
                    up = m & (cr > rank)
                    rank = np.where(up, cr, rank)
                    for i in np.flatnonzero(up):
                        winner[i] = r
                    continue
                if r.kind in ("verdict", "note"):
                    m &= r.passes(h)
                    for i in np.flatnonzero(m):
                        reasons[i].append(self._reason(r, h[i], verdict=_existing_verdict(r, bool(s.new[i]))))
                elif r.kind == "ladder":
                    self._ladder(r, s, m, reasons)
                elif r.kind == "siting":
                    self._siting(r, s, m, reasons)
            if rs.classes:
                names = np.array([None, *rs.classes], dtype=object)[rank + 1]
                classes[rs.id] = names
                class_rule[rs.id] = winner
                if rs.id == "gb50352":
                    hc_rank = np.maximum(rank, 0)
        out = []
        hclass = classes.get("gb50352", np.full(n, HEIGHT_CLASSES[0], dtype=object))
        fclass = classes.get("gb50016", np.full(n, None, dtype=object))
        plant = self.rules.get("gb50352.rooftop-plant")
        for i in range(n):
            rs_reasons = []
            for sid in ("gb50352", "gb50016"):
                r = class_rule.get(sid, [None] * n)[i]
                if r is not None:
                    label = classes[sid][i]
                    rs_reasons.append(self._reason(r, h[i], f"class: {label} ({CLASS_LABELS_ZH.get(label, '')})"))
            if plant is not None and s.heights[i].plant_excluded:
                rs_reasons.append(
                    self._reason(
                        plant,
                        s.heights[i].plant_excluded,
                        f"rooftop plant left out of the height: {s.heights[i].plant_excluded:.0%} of the roof area",
                        verdict=Verdict.ok,
                    )
                )
            all_reasons = rs_reasons + reasons[i]
            if s.uses[i] == BuildingUse.unknown:
                for r in all_reasons:
                    r.note = "; ".join(filter(None, [r.note, UNKNOWN_USE_NOTE]))
            verdict = max((r.verdict for r in all_reasons), key=lambda v: v.rank, default=Verdict.ok)
            out.append(
                ScreeningResult.model_construct(
                    id=s.ids[i],
                    name=s.names[i],
                    use=s.uses[i],
                    new=bool(s.new[i]),
                    height=float(h[i]),
                    height_class=str(hclass[i]),
                    fire_class=None if fclass[i] is None else str(fclass[i]),
                    verdict=verdict,
                    reasons=all_reasons,
                    heights=s.heights[i],
                )
            )
        return out

    def _reason(
        self,
        r: Rule,
        measured: float | None,
        note: str = "",
        *,
        verdict: Verdict | None = None,
        threshold: float | None = None,
    ) -> Reason:
        parts = [note] if note else []
        if r.consequence:
            parts.append(r.consequence.rstrip("."))
        if r.population != "any":
            parts.append(self.population_note())
        if r.confidence in ("S", "M"):
            parts.append(
                f"confidence {r.confidence}: "
                + ("secondary restatement only" if r.confidence == "S" else "commonly quoted, unconfirmed")
            )
        return Reason.model_construct(
            rule=r.id,
            document=r.document,
            clause=r.clause,
            effective=r.effective,
            confidence=r.confidence,
            verdict=verdict or r.verdict or Verdict.ok,
            threshold=r.threshold if threshold is None else threshold,
            unit=r.unit,
            measured=None if measured is None else round(float(measured), 3),
            inclusive=r.inclusive,
            wording=r.text,
            note="; ".join(parts),
        )

    def _ladder(self, r: Rule, s: Subjects, m: np.ndarray, reasons: list[list[Reason]]) -> None:
        stations = self.profile.fire_stations or []
        if not stations or not m.any():
            return
        idx = np.flatnonzero(m)
        c = shapely.get_coordinates(shapely.centroid(s.shapes[idx]))
        pos = np.array([st.position for st in stations], dtype=float)
        radius = np.array([st.response_radius for st in stations])
        reach = np.array([st.ladder_reach for st in stations])
        dist = np.hypot(c[:, None, 0] - pos[None, :, 0], c[:, None, 1] - pos[None, :, 1])
        covers = dist <= radius[None, :]
        best = np.where(covers, reach[None, :], -np.inf).max(axis=1)
        h = s.height[idx]
        for j, i in enumerate(idx):
            if not covers[j].any():
                note = (
                    "exceeds aerial ladder reach: no fire station's response radius covers it; a warning "
                    "(ladder reach stands in for rescue capacity)"
                )
                reasons[i].append(self._reason(r, h[j], note, threshold=0.0))
            elif h[j] > best[j]:
                k = int(np.argmax(np.where(covers[j], reach, -np.inf)))
                note = (
                    f"exceeds aerial ladder reach: the highest ladder of the stations covering it is "
                    f"{best[j]:g} m ({stations[k].id} {stations[k].name}); a warning (ladder reach stands in for "
                    "rescue capacity)"
                )
                reasons[i].append(self._reason(r, h[j], note, threshold=float(best[j])))

    def _siting(self, r: Rule, s: Subjects, m: np.ndarray, reasons: list[list[Reason]]) -> None:
        zones = getattr(self.profile, r.layer or "", []) or []
        if not zones or not m.any():
            return
        polys = _shapes(z.rings for z in zones)
        idx = np.flatnonzero(m)
        zi, bi = shapely.STRtree(s.shapes[idx]).query(polys, predicate="intersects")
        hits: dict[int, list[str]] = {}
        for z, b in zip(zi.tolist(), bi.tolist(), strict=True):
            hits.setdefault(int(idx[b]), []).append(zones[z].name or zones[z].id)
        what = "ventilation corridor" if r.layer == "ventilation_corridors" else "historic district"
        for i, names in hits.items():
            reasons[i].append(
                self._reason(
                    r, s.height[i], f"inside {what} {', '.join(names)}", verdict=_existing_verdict(r, bool(s.new[i]))
                )
            )


def _valid_footprint(rings: list[list[tuple[float, float]]], parameter: str) -> shapely.Polygon:
    try:
        poly = shapely.Polygon(rings[0], rings[1:])
    except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
        raise InvalidParameter(parameter, f"{parameter} is not a polygon: {exc}") from None
    if not (np.isfinite(shapely.get_coordinates(poly)).all()):
        raise InvalidParameter(parameter, f"{parameter} has coordinates that are not finite (outside the CRS?).")
    if not poly.is_valid:
        raise InvalidParameter(parameter, f"{parameter} is not a valid polygon: {shapely.is_valid_reason(poly)}.")
    if poly.area <= 0:
        raise InvalidParameter(parameter, f"{parameter} has no area.")
    return poly


# -- the library API ----------------------------------------------------------------------------------------


def screen_buildings(
    store: Store,
    *,
    region: Region | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    profile: CityProfile | str | None = None,
    overrides: dict[str, float] | None = None,
    new: bool = False,
    lidar: bool = True,
) -> list[ScreeningResult]:
    """Screen the store's buildings (in ``region``, or ``bbox`` in the city CRS, else all).

    Buildings are taken as existing (``new=False``); LiDAR heights come from ``store.building_points()``
    where the store has any (``lidar=False`` skips them).  Results are in the store's order.
    """
    if region is None and bbox is not None:
        region = Region.box(*bbox)
    screener = Screener(store.city(), profile, overrides)
    buildings = list(store.iter_features("buildings", region=region))
    points = store.building_points() if lidar else None
    return screener.screen_buildings(buildings, terrain=store.terrain(), points=points, new=new)  # type: ignore


def screen_proposals(
    city: City | None,
    proposals: Sequence[Proposal | dict[str, Any]],
    *,
    store: Store | None = None,
    profile: CityProfile | str | None = None,
    overrides: dict[str, float] | None = None,
) -> list[ScreeningResult]:
    """Screen proposed buildings for ``city`` (footprints in the city CRS, metres).

    Dicts are validated as :class:`Proposal`; a bad field raises InvalidParameter naming it
    (``proposals.<i>.<field>``).  ``store`` is only read for its city when ``city`` is None.
    """
    if city is None:
        if store is None:
            raise InvalidParameter("city", "screen_proposals needs a city or a store.")
        city = store.city()
    checked = []
    for i, p in enumerate(proposals):
        if isinstance(p, Proposal):
            checked.append(p)
            continue
        try:
            checked.append(Proposal.model_validate(p))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"]) or ("floors" if "floors x" in err["msg"] else "height")
            raise InvalidParameter(f"proposals.{i}.{loc}", f"proposals.{i}.{loc}: {err['msg']}") from None
    return Screener(city, profile, overrides).screen_proposals(checked)


def summary(results: Iterable[ScreeningResult]) -> dict[str, dict[str, int]]:
    """Counts by height class (rows) and verdict (columns)."""
    table = {c: {v.value: 0 for v in Verdict} for c in HEIGHT_CLASSES}
    for r in results:
        table[r.height_class][r.verdict.value] += 1
    return table


__all__ = [
    "Reason",
    "Heights",
    "ScreeningResult",
    "Proposal",
    "Screener",
    "Subjects",
    "Verdict",
    "screen_buildings",
    "screen_proposals",
    "summary",
    "measure_heights",
    "lidar_heights",
    "geometry_height",
    "attribute_height",
    "roof_top",
    "HEIGHT_CLASSES",
    "FIRE_CLASSES",
]
