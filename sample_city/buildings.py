"""Buildings: the zoning of the blocks and one filler per kind of block.

Every filler places footprints in disjoint rows or cells of its rectangle with gaps of at least
3 m, so footprints never overlap and stay inside their blocks.  Zoning (column 0-10 west to east,
row 0-7 south to north):

* Tiexi-like industry (1950s-1990s halls, workshops, stores) in the west, columns 0-2, rows 2-5;
* 1950s-70s single- and two-storey workers' housing north of it (columns 0-3, rows 6-7);
* 1980s-90s six-storey slab compounds with rows of storage sheds (仓房) in the middle;
* 2000s slab compounds and 2005-2024 tower compounds in the east and along the river;
* the CBD around the main crossroads of 重工街 and 北二路 (900 m, 1200 m) with the threshold
  towers (:mod:`.towers`), a hospital, schools, a park and three fire stations;
* shops (商业网点) along the main roads in front of the residential compounds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cim.model import BuildingUse, FireStation, StructureType

from . import towers
from .layout import Block, Rect, blocks, origin
from .plans import Plan, l_shape, r1, rect

R, P, C, IND = BuildingUse.residential, BuildingUse.public, BuildingUse.commercial, BuildingUse.industrial
ST = StructureType

_COMPOUNDS = [
    "兴华",
    "艳粉",
    "卫工",
    "保工",
    "重工",
    "勋望",
    "景星",
    "云峰",
    "凌空",
    "轻工",
    "霁虹",
    "贵和",
    "启工",
    "肇工",
    "齐贤",
    "滑翔",
    "南十",
    "惠工",
    "沈辽",
    "建设",
    "爱工",
    "兴顺",
    "笃工",
    "应昌",
    "熙工",
    "宏伟",
    "富工",
    "铁西",
    "北陵",
    "和平",
    "红梅",
    "百合",
    "丁香",
    "玫瑰",
    "向阳",
    "光明",
]
_FACTORIES = [
    "沈阳重型机器厂",
    "沈阳变压器厂",
    "沈阳鼓风机厂",
    "沈阳铸造厂",
    "沈阳第一机床厂",
    "沈阳电缆厂",
    "沈阳低压开关厂",
    "沈阳水泵厂",
    "沈阳拖拉机厂",
    "沈阳化工厂",
    "沈阳冶炼厂",
    "沈阳风动工具厂",
]


@dataclass
class Ctx:
    """What a filler needs: the block, its random stream and the plans placed so far."""

    block: Block
    rng: np.random.Generator
    name: str
    plans: list[Plan] = field(default_factory=list)
    n_named: int = 0

    def uni(self, a: float, b: float) -> float:
        return r1(self.rng.uniform(a, b))

    def year(self, a: int, b: int) -> int:
        return int(self.rng.integers(a, b + 1))

    def parapet(self, a: float = 0.3, b: float = 1.2) -> float:
        return r1(self.rng.uniform(a, b))

    def numbered(self, suffix: str = "号楼") -> str:
        self.n_named += 1
        return f"{self.name}{self.n_named}{suffix}"

    def add(self, plan: Plan) -> Plan:
        self.plans.append(plan)
        return plan


def pack(
    rng: np.random.Generator, a: float, b: float, lmin: float, lmax: float, gap: float
) -> list[tuple[float, float]]:
    """Intervals of random length in [lmin, lmax] separated by ``gap``, centred in [a, b]."""
    lens: list[float] = []
    total = -gap
    while True:
        length = r1(rng.uniform(lmin, lmax))
        if total + gap + length > b - a:
            break
        lens.append(length)
        total += gap + length
    out = []
    p = r1(a + (b - a - total) / 2)
    for length in lens:
        out.append((p, r1(p + length)))
        p = r1(p + length + gap)
    return out


# -- residential -------------------------------------------------------------------------------
def old_slabs(ctx: Ctx, r: Rect) -> None:
    """1980s-90s compound: rows of 5-6 storey masonry slabs with rows of storage sheds between."""
    x0, y0, x1, y1 = r
    depth = float(ctx.rng.choice([10.2, 10.8, 11.4]))
    gap, shed = 21.0, 4.5
    y = y0
    while y + depth <= y1:
        for a, b in pack(ctx.rng, x0, x1, 36, 54, 8):
            ctx.add(
                Plan(
                    rect(a, y, b, y + depth),
                    R,
                    6 if ctx.rng.random() < 0.8 else 5,
                    2.9,
                    ctx.parapet(0.3, 0.9),
                    ctx.year(1980, 1999),
                    ST.masonry,
                    "slab",
                    name=ctx.numbered(),
                )
            )
        ys = y + depth + 6.0
        if ys + shed <= min(y + depth + gap - 6.0, y1):
            for a, b in pack(ctx.rng, x0, x1, 6, 14, 2.5):
                ctx.add(Plan(rect(a, ys, b, ys + shed), R, 1, 2.8, 0.2, ctx.year(1985, 2000), ST.masonry, "shed"))
        y += depth + gap


def new_slabs(ctx: Ctx, r: Rect) -> None:
    """2000s compound: 6-11 storey slabs, garage rows, a kindergarten and a clubhouse."""
    x0, y0, x1, y1 = r
    if x1 - x0 > 140:
        amenities(ctx, (x1 - 36, y0, x1, y1))
        x1 -= 46
    depth, gap = 12.6, 26.0
    y = y0
    while y + depth <= y1:
        for a, b in pack(ctx.rng, x0, x1, 44, 62, 10):
            year = ctx.year(2000, 2012)
            floors = 6 if year < 2006 else int(ctx.rng.choice([7, 11]))
            st = ST.masonry if year < 2006 else (ST.shear_wall if floors > 7 else ST.rc_frame)
            ctx.add(
                Plan(
                    rect(a, y, b, y + depth),
                    R,
                    floors,
                    2.95,
                    ctx.parapet(0.6, 1.2),
                    year,
                    st,
                    "slab",
                    name=ctx.numbered(),
                )
            )
        yg = y + depth + 10.0
        if yg + 6.0 <= min(y + depth + gap - 8.0, y1):
            for a, b in pack(ctx.rng, x0, x1, 20, 34, 6):
                ctx.add(Plan(rect(a, yg, b, yg + 6.0), R, 1, 3.0, 0.3, ctx.year(2000, 2012), ST.rc_frame, "garage"))
        y += depth + gap


def amenities(ctx: Ctx, r: Rect) -> None:
    """A column of compound amenities: kindergarten (L-shaped), clubhouse, substation, shop."""
    x0, y0, x1, y1 = r
    y = y0
    items = [("kindergarten", 30.0), ("clubhouse", 16.0), ("substation", 10.0), ("shop", 14.0)]
    for kind, d in items:
        if y + d > y1:
            break
        if kind == "kindergarten":
            ring = l_shape(x0, y, x1, y + d, "ne", 14.0, 12.0)
            ctx.add(Plan(ring, P, 3, 3.6, 0.9, ctx.year(2003, 2015), ST.rc_frame, kind, name=f"{ctx.name}幼儿园"))
        elif kind == "clubhouse":
            ctx.add(
                Plan(
                    rect(x0, y, x1 - 8, y + d),
                    C,
                    2,
                    4.2,
                    0.8,
                    ctx.year(2003, 2015),
                    ST.rc_frame,
                    kind,
                    name=f"{ctx.name}会所",
                )
            )
        elif kind == "substation":
            ctx.add(Plan(rect(x0 + 10, y, x1 - 10, y + d), P, 1, 4.2, 0.5, ctx.year(2003, 2015), ST.rc_frame, kind))
        else:
            ctx.add(Plan(rect(x0, y, x1, y + d), C, 2, 3.9, 0.6, ctx.year(2003, 2015), ST.rc_frame, kind))
        y += d + 12.0


def tower_compound(ctx: Ctx, r: Rect, *, years: tuple[int, int] = (2005, 2024)) -> None:
    """18-33 storey shear-wall towers in rows, a switch room per tower, maybe a compound garage."""
    x0, y0, x1, y1 = r
    depth = ctx.uni(15, 18)
    pitch = depth + 40.0
    rows: list[float] = []
    y = y0 + 2.0
    while y + depth <= y1:
        rows.append(y)
        for a, b in pack(ctx.rng, x0, x1, 30, 40, 20):
            year = ctx.year(*years)
            floors = int(ctx.rng.integers(18, 34))
            star = int(ctx.rng.integers(1, 4)) if year >= 2015 and ctx.rng.random() < 0.6 else None
            ctx.add(
                Plan(
                    rect(a, y, b, y + depth),
                    R,
                    floors,
                    2.95,
                    ctx.parapet(0.6, 1.2),
                    year,
                    ST.shear_wall,
                    "tower",
                    floors_below=int(ctx.rng.integers(1, 3)),
                    name=ctx.numbered(),
                    green_star=star,
                    basement="footprint",
                )
            )
            ya = y + depth + 12.0
            if ya + 6.0 <= min(y + pitch - 12.0, y1):
                xm = (a + b) / 2
                ctx.add(Plan(rect(xm - 4, ya, xm + 4, ya + 6), P, 1, 3.6, 0.4, year, ST.rc_frame, "switch_room"))
        y += pitch
    if len(rows) >= 2 and ctx.rng.random() < 0.5:
        ctx.add(
            Plan(
                rect(x0 + 3, rows[0] + depth + 3, x1 - 3, rows[1] - 3),
                R,
                0,
                0.0,
                0.0,
                2010,
                ST.rc_frame,
                "garage_podium",
                floors_below=1,
                name=f"{ctx.name}地下车库",
                basement="podium",
            )
        )


def workers_housing(ctx: Ctx, r: Rect) -> None:
    """1950s-70s single- and two-storey masonry houses in dense rows along lanes."""
    x0, y0, x1, y1 = r
    y = y0
    while y + 8.0 <= y1:
        d = ctx.uni(7.0, 8.0)
        for a, b in pack(ctx.rng, x0, x1, 9, 15, 3.0):
            ctx.add(
                Plan(
                    rect(a, y, b, y + d),
                    R,
                    1 if ctx.rng.random() < 0.7 else 2,
                    3.0,
                    ctx.parapet(0.3, 0.6),
                    ctx.year(1955, 1978),
                    ST.masonry,
                    "house",
                )
            )
        y += d + 5.0


def shops(ctx: Ctx, r: Rect, along_x: bool) -> None:
    """Street-front shops (商业网点) in a strip along a main road."""
    x0, y0, x1, y1 = r
    a0, b0 = (x0, x1) if along_x else (y0, y1)
    for a, b in pack(ctx.rng, a0, b0, 12, 28, 4):
        fp = rect(a, y0, b, y1) if along_x else rect(x0, a, x1, b)
        ctx.add(
            Plan(
                fp,
                C,
                int(ctx.rng.integers(2, 5)),
                4.2,
                ctx.parapet(0.6, 1.2),
                ctx.year(1995, 2018),
                ST.rc_frame,
                "shop",
            )
        )


def with_shops(
    filler: Callable[[Ctx, Rect], None], depth: float = 14.0, lane: float = 8.0
) -> Callable[[Ctx, Rect], None]:
    """A filler that first lines the block's main-road sides with shops, then fills the rest."""

    def fill(ctx: Ctx, r: Rect) -> None:
        x0, y0, x1, y1 = r
        sides = ctx.block.main_sides
        ix0, iy0, ix1, iy1 = r
        if "s" in sides:
            shops(ctx, (x0, y0, x1, y0 + depth), True)
            iy0 = y0 + depth + lane
        if "n" in sides:
            shops(ctx, (x0, y1 - depth, x1, y1), True)
            iy1 = y1 - depth - lane
        if "w" in sides and ix1 - ix0 > 60:
            shops(ctx, (x0, iy0, x0 + depth, iy1), False)
            ix0 = x0 + depth + lane
        if "e" in sides and ix1 - ix0 > 60:
            shops(ctx, (x1 - depth, iy0, x1, iy1), False)
            ix1 = x1 - depth - lane
        filler(ctx, (ix0, iy0, ix1, iy1))

    return fill


# -- industry ----------------------------------------------------------------------------------
def industry(ctx: Ctx, r: Rect) -> None:
    """A works: rows of large halls, each followed by a row of offices and stores and a row of sheds."""
    x0, y0, x1, y1 = r
    factory = _FACTORIES[(ctx.block.col * 8 + ctx.block.row) % len(_FACTORIES)]
    y, n_hall = y0, 0
    while True:
        d = ctx.uni(24, 36)
        if y + d > y1:
            break
        for a, b in pack(ctx.rng, x0, x1, 50, 110, 12):
            year = ctx.year(1950, 1990)
            st = ST.masonry if year < 1965 else (ST.rc_frame if year < 1980 else ST.steel)
            n_hall += 1
            ctx.add(
                Plan(
                    rect(a, y, b, y + d),
                    IND,
                    int(ctx.rng.integers(1, 3)),
                    4.5,
                    ctx.parapet(0.5, 1.2),
                    year,
                    st,
                    "hall",
                    name=f"{factory}{n_hall}号车间",
                )
            )
        y += d + 8.0
        d = ctx.uni(10, 14)
        if y + d > y1:
            break
        for a, b in pack(ctx.rng, x0, x1, 8, 24, 5):
            kind = str(ctx.rng.choice(["office", "store", "store", "boiler_house"]))
            year = ctx.year(1955, 1995)
            floors = {"office": int(ctx.rng.integers(3, 5)), "store": int(ctx.rng.integers(1, 3)), "boiler_house": 1}
            fh = {"office": 3.6, "store": 4.2, "boiler_house": 4.5}[kind]
            ctx.add(
                Plan(
                    rect(a, y, b, y + d),
                    IND,
                    floors[kind],
                    fh,
                    ctx.parapet(0.3, 0.9),
                    year,
                    ST.masonry if year < 1975 else ST.rc_frame,
                    kind,
                )
            )
        y += d + 8.0
        d = ctx.uni(6, 8)
        if y + d > y1:
            break
        for a, b in pack(ctx.rng, x0, x1, 8, 16, 4):
            ctx.add(
                Plan(rect(a, y, b, y + d), IND, 1, 3.6, ctx.parapet(0.2, 0.5), ctx.year(1960, 1995), ST.masonry, "shed")
            )
        y += d + 8.0


# -- public ------------------------------------------------------------------------------------
def school(ctx: Ctx, r: Rect) -> tuple[float, float, float, float]:
    """A school in the west 112 m of ``r``: L-shaped teaching building, gym, canteen, playground.

    Returns the playground rectangle (kept free of buildings)."""
    x0, y0, x1, y1 = r
    name = f"{ctx.name}中学" if ctx.block.col % 2 else f"{ctx.name}小学"
    ctx.add(
        Plan(
            l_shape(x0, y1 - 40, x0 + 64, y1, "se", 44, 22),
            P,
            5,
            3.9,
            0.9,
            ctx.year(1995, 2015),
            ST.rc_frame,
            "school",
            name=f"{name}教学楼",
            lod2=True,
        )
    )
    ctx.add(
        Plan(
            rect(x0 + 74, y1 - 24, x0 + 110, y1),
            P,
            2,
            4.5,
            0.6,
            ctx.year(1995, 2015),
            ST.steel,
            "gym",
            name=f"{name}体育馆",
        )
    )
    ctx.add(
        Plan(
            rect(x0 + 74, y1 - 56, x0 + 104, y1 - 40),
            P,
            2,
            4.2,
            0.6,
            ctx.year(1995, 2015),
            ST.rc_frame,
            "canteen",
            name=f"{name}食堂",
        )
    )
    ctx.add(
        Plan(
            rect(x0 + 30, y1 - 58, x0 + 62, y1 - 46),
            P,
            4,
            3.6,
            0.6,
            ctx.year(1995, 2015),
            ST.rc_frame,
            "office",
            name=f"{name}办公楼",
        )
    )
    return (x0 + 6, y0 + 6, x0 + 106, y1 - 70)


def hospital(ctx: Ctx, r: Rect) -> None:
    x0, y0, x1, y1 = r
    name = "铁西区中心医院"
    ctx.add(
        Plan(
            rect(x0 + 10, y1 - 22, x0 + 70, y1),
            P,
            16,
            3.9,
            1.0,
            2009,
            ST.frame_core_tube,
            "hospital",
            floors_below=2,
            name=f"{name}住院楼",
            lod2=True,
            basement="footprint",
        )
    )
    ctx.add(
        Plan(
            l_shape(x0 + 10, y0 + 40, x0 + 100, y0 + 90, "ne", 60, 30),
            P,
            5,
            4.5,
            0.8,
            2006,
            ST.rc_frame,
            "hospital",
            floors_below=1,
            name=f"{name}门诊楼",
            basement="footprint",
        )
    )
    ctx.add(
        Plan(
            rect(x0 + 84, y1 - 48, x0 + 134, y1 - 24),
            P,
            4,
            4.2,
            0.8,
            2006,
            ST.rc_frame,
            "hospital",
            name=f"{name}医技楼",
        )
    )
    ctx.add(
        Plan(
            rect(x0 + 112, y0 + 50, x0 + 148, y0 + 64),
            P,
            4,
            3.6,
            0.6,
            1998,
            ST.rc_frame,
            "office",
            name=f"{name}行政楼",
        )
    )
    ctx.add(Plan(rect(x0 + 112, y0 + 10, x0 + 132, y0 + 22), P, 1, 4.5, 0.6, 1998, ST.masonry, "boiler_house"))
    ctx.add(Plan(rect(x0 + 10, y0 + 10, x0 + 40, y0 + 22), P, 2, 3.6, 0.5, 1998, ST.masonry, "logistics"))
    ctx.add(Plan(rect(x0 + 50, y0 + 10, x0 + 62, y0 + 20), P, 1, 3.6, 0.4, 1998, ST.masonry, "mortuary"))


def park(ctx: Ctx, r: Rect) -> None:
    """Central park: a museum of workers' life (hip roof, LOD2) and a few pavilions."""
    x0, y0, x1, y1 = r
    ctx.add(
        Plan(
            rect(x0 + 10, y1 - 30, x0 + 50, y1 - 6),
            P,
            2,
            4.5,
            0.0,
            2011,
            ST.rc_frame,
            "museum",
            name="工人村生活馆 (Workers' Village Museum)",
            roof="hip",
            lod2=True,
        )
    )
    for i, (px, py) in enumerate([(0.35, 0.2), (0.7, 0.25), (0.8, 0.6), (0.2, 0.5), (0.55, 0.85)]):
        cx, cy = x0 + px * (x1 - x0), y0 + py * (y1 - y0)
        ctx.add(
            Plan(
                rect(cx - 4, cy - 4, cx + 4, cy + 4),
                P,
                1,
                3.6,
                0.3,
                2011,
                ST.rc_frame,
                "pavilion",
                name=f"中央公园 {i + 1}号亭",
            )
        )


def fire_station(ctx: Ctx, r: Rect, name: str) -> Plan:
    """Station building (hip roof, LOD2) and drill tower in the south-west corner of ``r``."""
    x0, y0, _, _ = r
    st = ctx.add(
        Plan(
            rect(x0, y0, x0 + 42, y0 + 18),
            P,
            3,
            4.5,
            0.0,
            2012,
            ST.rc_frame,
            "fire_station",
            name=name,
            roof="hip",
            lod2=True,
        )
    )
    ctx.add(
        Plan(rect(x0 + 50, y0, x0 + 58, y0 + 8), P, 6, 3.6, 0.5, 2012, ST.rc_frame, "drill_tower", name=f"{name}训练塔")
    )
    return st


# -- zoning ------------------------------------------------------------------------------------
FIRE_STATIONS = {  # block -> (id, name, ladder reach m, response radius m)
    (2, 5): ("FS-1", "铁西消防站 (Tiexi fire station)", 54.0, 4000.0),
    (6, 2): ("FS-2", "重工街特勤消防站 (Zhonggong special-service station)", 101.0, 3000.0),
    (8, 0): ("FS-3", "细河消防站 (Xihe fire station)", 60.0, 5000.0),
}
SCHOOLS = {(1, 1), (3, 2), (8, 6), (9, 2)}
CBD = {(4, 3), (5, 3), (4, 4), (5, 4)}
RESIDENTIAL_TOWERS = {(6, 3), (6, 4)}
HOSPITAL = (7, 4)
PARK = (5, 5)
HERITAGE_HALLS = {(1, 3): ("沈阳铸造厂翻砂车间 (1956)", 1956), (2, 4): ("沈阳重型机器厂金工车间 (1958)", 1958)}


def zone(col: int, row: int) -> str:
    if col <= 2 and 2 <= row <= 5:
        return "industry"
    if (col <= 2 and row >= 6) or col in (0, 10):
        return "workers_housing"
    if row == 0 or (col >= 7 and row <= 3):
        return "towers"
    if (col >= 6 and row >= 5) or (col in (4, 5) and row in (1, 2)):
        return "new_slabs"
    return "old_slabs"


FILLERS: dict[str, Callable[[Ctx, Rect], None]] = {
    "industry": industry,
    "workers_housing": with_shops(workers_housing),
    "towers": with_shops(tower_compound),
    "new_slabs": with_shops(new_slabs),
    "old_slabs": with_shops(old_slabs),
}


@dataclass
class BuildingPlan:
    """All building plans of the district, and what other stages need to know about them."""

    plans: list[Plan]
    fire_stations: list[FireStation]
    civil_defence: list[tuple[str, Rect]]  # (name, local rectangle) under playgrounds and the park
    garages: list[Plan]  # compound garages: basements with no building above


def plan_buildings(seed: int) -> BuildingPlan:
    out = BuildingPlan([], [], [], [])
    x0g, y0g = origin()
    for i, blk in enumerate(blocks()):
        key = (blk.col, blk.row)
        kind = zone(*key)
        suffix = {"old_slabs": "小区", "new_slabs": "家园", "towers": "花园", "workers_housing": "工人村"}.get(kind, "")
        ctx = Ctx(blk, np.random.default_rng([seed, 1, blk.col, blk.row]), _COMPOUNDS[i % len(_COMPOUNDS)] + suffix)
        bx0, by0, bx1, by1 = blk.buildable
        if key in CBD:
            towers.cbd_block(ctx, key)
        elif key in RESIDENTIAL_TOWERS:
            towers.residential_block(ctx, key)
        elif key == HOSPITAL:
            hospital(ctx, blk.buildable)
        elif key == PARK:
            park(ctx, blk.buildable)
            out.civil_defence.append(
                (
                    "中央公园人防工程 (civil-defence shelter under the central park)",
                    (bx0 + 40, by0 + 30, bx1 - 30, by0 + 90),
                )
            )
        elif key in SCHOOLS:
            pg = school(ctx, (bx0, by0, bx0 + 112, by1))
            if key in {(3, 2), (8, 6)}:
                out.civil_defence.append(
                    (
                        f"{ctx.name}人防工程 (shelter under the school playground)",
                        (pg[0] + 10, pg[1] + 10, pg[2] - 10, pg[1] + 60),
                    )
                )
            if bx1 - bx0 > 124 + 30:
                FILLERS[kind](ctx, (bx0 + 124, by0, bx1, by1))
        elif key in FIRE_STATIONS:
            fid, name, reach, radius = FIRE_STATIONS[key]
            st = fire_station(ctx, blk.buildable, name)
            cx, cy = np.mean(np.asarray(st.ring), axis=0)
            out.fire_stations.append(
                FireStation(
                    id=fid,
                    name=name,
                    position=(round(x0g + float(cx), 3), round(y0g + float(cy), 3)),
                    ladder_reach=reach,
                    response_radius=radius,
                )
            )
            FILLERS[kind](ctx, (bx0, by0 + 30, bx1, by1))
        else:
            FILLERS[kind](ctx, blk.buildable)
        if key in HERITAGE_HALLS:
            hall = next(p for p in ctx.plans if p.kind == "hall")
            hall.name, hall.year = HERITAGE_HALLS[key]
            hall.roof, hall.lod2, hall.structure, hall.floors = "hip", True, ST.masonry, 2
        k = 0
        for p in ctx.plans:
            if p.kind == "garage_podium":
                p.bid = f"U-GAR-{blk.key}"
            elif p.bid is None:
                k += 1
                p.bid = f"B-{blk.key}-{k:03d}"
        out.plans += [p for p in ctx.plans if p.kind != "garage_podium"]
        out.garages += [p for p in ctx.plans if p.kind == "garage_podium"]
    out.fire_stations.sort(key=lambda s: s.id)
    return out
