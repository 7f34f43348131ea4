"""The CBD around the crossroads of 重工街 and 北二路 (local 900 m, 1200 m) and its threshold towers.

Each threshold tower has an exact height on one side of a threshold of RULES.md §1-§2 (GB 50352,
GB 50016 and 建科〔2021〕76号); see :data:`THRESHOLD_TOWERS` and the README.  Ids are
``B-TWR-P<height>`` for public and commercial buildings (公共建筑) and ``B-TWR-R<height>`` for
residential ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from cim.model import BuildingUse, StructureType

from .layout import block
from .plans import Plan, rect, split_floors

P, C, R = BuildingUse.public, BuildingUse.commercial, BuildingUse.residential
ST = StructureType


@dataclass(frozen=True)
class Tower:
    id: str
    height: float
    use: BuildingUse
    size: tuple[float, float]  # footprint width (E-W) x depth (N-S), metres
    structure: StructureType
    floors_below: int
    year: int
    name: str
    tests: str


def _t(
    code: str,
    h: float,
    use: BuildingUse,
    size: tuple[float, float],
    st: StructureType,
    fb: int,
    year: int,
    name: str,
    tests: str,
) -> Tower:
    return Tower(f"B-TWR-{code}", h, use, size, st, fb, year, name, tests)


THRESHOLD_TOWERS: tuple[Tower, ...] = (
    _t(
        "P024",
        24.0,
        P,
        (50, 30),
        ST.rc_frame,
        1,
        2015,
        "铁西区图书馆 (district library)",
        "GB 50352 public building: 24 m is still multi-storey (<= 24 m)",
    ),
    _t(
        "P025",
        25.0,
        P,
        (50, 30),
        ST.rc_frame,
        1,
        2016,
        "铁西文化馆 (cultural centre)",
        "GB 50352 public building: 25 m is high-rise (> 24 m)",
    ),
    _t(
        "P099",
        99.0,
        P,
        (36, 36),
        ST.frame_core_tube,
        3,
        2014,
        "铁西区政务服务中心 (government service centre)",
        "public < 100 m: high-rise, no fire-rescue consultation (建科〔2021〕76号)",
    ),
    _t(
        "P100",
        100.0,
        P,
        (36, 36),
        ST.frame_core_tube,
        3,
        2015,
        "铁西区行政审批大楼 (administration tower)",
        "public 100 m: still high-rise (<= 100 m, GB 50352) but 100 m 以上 needs the fire-rescue opinion",
    ),
    _t(
        "P101",
        101.0,
        C,
        (36, 36),
        ST.frame_core_tube,
        3,
        2016,
        "铁西会展中心酒店 (expo hotel)",
        "public 101 m: ultra-high-rise (> 100 m, GB 50352); fire-rescue opinion",
    ),
    _t(
        "P149",
        149.0,
        C,
        (40, 40),
        ST.frame_core_tube,
        3,
        2013,
        "北二路商务中心 (Beier Rd business centre)",
        "< 3M cities: below the 150 m strict-limit line",
    ),
    _t(
        "P150",
        150.0,
        P,
        (40, 40),
        ST.frame_core_tube,
        3,
        2014,
        "辽宁电力调度大楼 (power dispatch centre)",
        "< 3M cities: 150 m 以上 strictly limited (inclusive reading)",
    ),
    _t(
        "P151",
        151.0,
        C,
        (40, 40),
        ST.frame_core_tube,
        3,
        2015,
        "铁西国贸中心 (Tiexi trade centre)",
        "< 3M cities: strictly limited; lifelong accountability above 150 m",
    ),
    _t(
        "P249",
        249.0,
        C,
        (46, 46),
        ST.steel,
        4,
        2016,
        "盛京国际中心B座 (Shengjing Intl Centre B)",
        ">= 3M cities: below the 250 m strict-limit line; < 3M: allowed with limits",
    ),
    _t(
        "P250",
        250.0,
        C,
        (46, 46),
        ST.composite,
        4,
        2017,
        "铁西商务大厦 (Tiexi business tower)",
        ">= 3M: 250 m 以上 strictly limited; < 3M: 250 m 以上 not allowed (inclusive reading)",
    ),
    _t(
        "P251",
        251.0,
        C,
        (46, 46),
        ST.steel,
        4,
        2018,
        "重工街金融大厦 (Zhonggong St finance tower)",
        ">= 3M: strictly limited, ministry re-check; < 3M: not allowed",
    ),
    _t(
        "P499",
        499.0,
        C,
        (58, 58),
        ST.composite,
        5,
        2019,
        "盛京国际中心A座 (Shengjing Intl Centre A)",
        ">= 3M: strictly limited, below the 500 m ban",
    ),
    _t(
        "P500",
        500.0,
        C,
        (58, 58),
        ST.composite,
        5,
        2020,
        "沈阳环球金融中心 (Shenyang Global Financial Centre)",
        ">= 3M: 500 m 以上 not allowed (inclusive reading); 2020 notice: > 500 m only",
    ),
    _t(
        "P501",
        501.0,
        C,
        (58, 58),
        ST.composite,
        5,
        2021,
        "北方之门大厦 (Gate of the North)",
        ">= 3M: not allowed (> 500 m, both readings and the 2020 notice)",
    ),
    _t(
        "R027",
        27.0,
        R,
        (40, 14),
        ST.shear_wall,
        1,
        2012,
        "工业新城1号楼",
        "GB 50352 residential: 27 m is still multi-storey (<= 27 m)",
    ),
    _t(
        "R028",
        28.0,
        R,
        (40, 14),
        ST.shear_wall,
        1,
        2012,
        "工业新城2号楼",
        "GB 50352 residential: 28 m is high-rise; GB 50016 class II (> 27 m)",
    ),
    _t("R054", 54.0, R, (36, 16), ST.shear_wall, 2, 2013, "工业新城3号楼", "GB 50016 residential class II (<= 54 m)"),
    _t("R055", 55.0, R, (36, 16), ST.shear_wall, 2, 2013, "工业新城4号楼", "GB 50016 residential class I (> 54 m)"),
    _t(
        "R079",
        79.0,
        R,
        (34, 18),
        ST.shear_wall,
        2,
        2014,
        "工业新城5号楼",
        "residential < 80 m: no fire-rescue consultation",
    ),
    _t(
        "R080",
        80.0,
        R,
        (34, 18),
        ST.shear_wall,
        2,
        2014,
        "工业新城6号楼",
        "residential 80 m 以上: fire-rescue opinion (inclusive reading)",
    ),
    _t("R081", 81.0, R, (34, 18), ST.shear_wall, 2, 2015, "工业新城7号楼", "residential > 80 m: fire-rescue opinion"),
    _t(
        "R100",
        100.0,
        R,
        (36, 20),
        ST.shear_wall,
        2,
        2015,
        "工业新城8号楼",
        "residential 100 m: high-rise (<= 100 m), not ultra-high-rise",
    ),
    _t(
        "R101",
        101.0,
        R,
        (36, 20),
        ST.shear_wall,
        2,
        2016,
        "工业新城9号楼",
        "residential 101 m: ultra-high-rise residential (一般不得新建超高层住宅)",
    ),
)
_BY_ID = {t.id: t for t in THRESHOLD_TOWERS}


def tower_plan(t: Tower, x0: float, y0: float) -> Plan:
    """The plan of threshold tower ``t`` with its south-west corner at (x0, y0)."""
    fmin, fmax = (2.9, 3.0) if t.use == R else (3.6, 4.5)
    floors, fh, parapet = split_floors(t.height, fmin, fmax)
    super_tall = t.height >= 249
    return Plan(
        rect(x0, y0, x0 + t.size[0], y0 + t.size[1]),
        t.use,
        floors,
        fh,
        parapet,
        t.year,
        t.structure,
        "threshold_tower",
        floors_below=t.floors_below,
        name=t.name,
        exact_height=t.height,
        lod2=t.use != R,
        basement="podium" if super_tall else "footprint",
        bid=t.id,
        threshold=t.tests,
    )


# Canonical CBD block (crossroads at its north-east corner): slot -> (x0, y0) of a w x d footprint
# placed against the slot's corner.  Other blocks mirror it so the tallest tower faces the crossroads.
_CBD = {
    (4, 3): {"ne": "P499", "nw": "P249", "se": "P149", "sw": "P024"},
    (5, 3): {"ne": "P500", "nw": "P250", "se": "P150", "sw": "P099"},  # mirrored east-west
    (4, 4): {"ne": "P501", "nw": "P251", "se": "P151", "sw": "P100"},  # mirrored north-south
    (5, 4): {"ne": None, "nw": "P101", "se": None, "sw": "P025"},  # mirrored both ways
}


def cbd_block(ctx, key: tuple[int, int]) -> None:
    bx0, by0, bx1, by1 = block(*key).buildable
    w, h = bx1 - bx0, by1 - by0
    mx, my = key[0] == 5, key[1] == 4

    def place(cx0: float, cy0: float, cw: float, cd: float) -> tuple[float, float]:
        """Canonical lower-left corner -> real lower-left corner of a cw x cd footprint."""
        x = bx0 + (w - cx0 - cw if mx else cx0)
        y = by0 + (h - cy0 - cd if my else cy0)
        return x, y

    slots = _CBD[key]
    for slot, tid in slots.items():
        if tid is None:
            continue
        t = _BY_ID[f"B-TWR-{tid}"]
        tw, td = t.size
        cx0 = w - tw if slot in ("ne", "se") else 0.0
        cy0 = h - td if slot in ("ne", "nw") else 0.0
        ctx.add(tower_plan(t, *place(cx0, cy0, tw, td)))
    if slots["ne"] is None:  # the NE block: a shopping mall faces the crossroads, an office tower beside it
        x, y = place(w - 58, h - 58, 58, 58)
        ctx.add(
            Plan(
                rect(x, y, x + 58, y + 58),
                C,
                5,
                4.5,
                1.0,
                2012,
                ST.rc_frame,
                "mall",
                floors_below=2,
                name="铁西万象汇 (Tiexi mall)",
                basement="footprint",
            )
        )
        x, y = place(w - 40, 0, 40, 40)
        ctx.add(
            Plan(
                rect(x, y, x + 40, y + 40),
                C,
                20,
                4.2,
                1.0,
                2011,
                ST.frame_core_tube,
                "office",
                floors_below=2,
                name="北二路写字楼 (Beier Rd offices)",
                basement="footprint",
            )
        )
    for cx0, cy0, cw, cd, floors in ((62, 48, 38, 30, 6), (62, 10, 30, 26, 3), (10, 60, 30, 36, 8)):
        x, y = place(cx0, cy0, cw, cd)
        ctx.add(
            Plan(
                rect(x, y, x + cw, y + cd),
                C,
                floors,
                4.2,
                ctx.parapet(0.6, 1.2),
                ctx.year(2005, 2020),
                ST.rc_frame,
                "office",
                floors_below=1 if floors > 4 else 0,
                basement="footprint" if floors > 4 else None,
            )
        )


_RES = {
    (6, 3): [("R027", 5, 4), ("R028", 65, 4), ("R054", 5, 58), ("R055", 65, 58), ("R079", 5, 114), ("R080", 65, 114)],
    (6, 4): [("R081", 5, 4), ("R100", 65, 4), ("R101", 5, 66), (None, 65, 66), (None, 5, 128), (None, 65, 128)],
}


def residential_block(ctx, key: tuple[int, int]) -> None:
    """The residential threshold towers in rows, ordinary towers, and an amenity column."""
    from .buildings import amenities  # here, not at the top: buildings imports this module

    bx0, by0, bx1, by1 = block(*key).buildable
    for tid, dx, dy in _RES[key]:
        if tid is not None:
            ctx.add(tower_plan(_BY_ID[f"B-TWR-{tid}"], bx0 + dx, by0 + dy))
        else:
            year = ctx.year(2012, 2020)
            ctx.add(
                Plan(
                    rect(bx0 + dx, by0 + dy, bx0 + dx + 36, by0 + dy + 18),
                    R,
                    int(ctx.rng.integers(26, 34)),
                    2.95,
                    ctx.parapet(0.6, 1.2),
                    year,
                    ST.shear_wall,
                    "tower",
                    floors_below=2,
                    name=ctx.numbered(),
                    basement="footprint",
                )
            )
    amenities(ctx, (bx0 + 119, by0, bx1, by1))
