"""District water balance (CJJ 92-2016 §5.2) and minimum night flow from the districts' meter datastreams."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from .registry import Analysis

if TYPE_CHECKING:
    from ..city import LocalCity


class Corrections(BaseModel):
    """CJJ 92-2016 §5.2.3 corrections, percentage points (their formulas are not in the standard's text we
    hold, so they are inputs: M)."""

    model_config = ConfigDict(extra="forbid")
    R1: float = Field(0.0, description="Resident meter-to-household reading correction, %.")
    R2: float = Field(0.0, description="Pipe length per unit supply correction, %.")
    R3: float = Field(0.0, description="Annual mean outlet pressure correction, %.")
    R4: float = Field(0.0, description="Maximum frost depth correction, %.")


class BalanceRequest(BaseModel):
    """A balance: one district or all, the period, registered consumption (m³), corrections and night use (m³/h)."""

    model_config = ConfigDict(extra="forbid")
    district: str | None = Field(None, description="Water district id; default: every district, ranked.")
    start: datetime | None = Field(None, description="Start of the period (ISO 8601; default: the first sample).")
    end: datetime | None = Field(None, description="End of the period (ISO 8601; default: the last sample).")
    registered_m3: float | None = Field(
        None, ge=0, description="Registered consumption Q_a, m³ (one district); default: its customer meters."
    )
    corrections: Corrections | None = None
    legitimate_night_use_m3_per_h: float | None = Field(
        None, ge=0, description="Legitimate night use; default: the district's, else its residents x 0.65 L/h (M)."
    )
    utc_offset_h: float = Field(8.0, ge=-12, le=14, description="Local time of the night window (02:00-04:00).")


class BalanceQuery(BaseModel):
    """GET /analysis/water-balance: every district (or one), ranked; scalar fields of :class:`BalanceRequest`."""

    model_config = ConfigDict(extra="forbid")
    district: str | None = Field(None, description="Water district id; default: every district, ranked.")
    start: datetime | None = Field(None, description="Start of the period (ISO 8601; default: the first sample).")
    end: datetime | None = Field(None, description="End of the period (ISO 8601; default: the last sample).")
    utc_offset_h: float = Field(8.0, ge=-12, le=14, description="Local time of the night window (02:00-04:00).")


class Night(BaseModel):
    """One night's minimum flow (02:00-04:00 local) and that flow less the legitimate night use, m³/h."""

    date: str
    minimum_m3_per_h: float
    net_m3_per_h: float


class DistrictBalance(BaseModel):
    """One district's water balance over the period: supply, registered use and loss (m³), rates (%), grade and night
    flows."""

    district: str
    inlets: list[int | str]
    supply_m3: float = Field(description="Q_s: inlet volume less outlet volume over the period, m³.")
    registered_m3: float | None = Field(description="Q_a, m³.")
    loss_m3: float | None
    gross_loss_rate_pct: float | None = Field(description="综合漏损率 R_WL = (Q_s - Q_a) / Q_s, %.")
    corrections_pct: float = Field(description="R1 + R2 + R3 + R4, percentage points.")
    loss_rate_pct: float | None = Field(description="漏损率 R_BL = R_WL - (R1 + R2 + R3 + R4), %.")
    grade: Literal["一级", "二级", "超二级"] | None = Field(description="CJJ 92-2016 §5.1.2: ≤ 10 %, ≤ 12 %, above.")
    meets_national_target: bool | None = Field(description="R_BL ≤ 9 % (建办城〔2022〕2号, by 2025).")
    population: float
    legitimate_night_use_m3_per_h: float
    nights: list[Night] = Field(description="Minimum night flow (02:00-04:00 local) per night.")
    night_flow_trend_m3_per_h_per_day: float | None = Field(description="Least-squares slope of the net MNF.")


class BalanceResult(BaseModel):
    """The period balanced (ISO 8601) and the districts' balances, highest loss first."""

    start: str | None
    end: str | None
    without_meters: list[str] = Field(
        default_factory=list, description="Districts left out of the ranking: no inlet meter data."
    )
    districts: list[DistrictBalance] = Field(
        description="By loss rate (else by the latest net night flow), highest first."
    )


def run(city: LocalCity, req: BalanceRequest) -> BalanceResult:
    """The registered analysis: each district's balance from its meter datastreams, ranked by loss rate."""
    from ..errors import InvalidParameter
    from ..store.typed import get_typed, iter_typed
    from ..water.district import WaterDistrict
    from ..water.district_balance import district_balance, has_inlet_data

    store = city.store
    if req.district is not None:
        districts = [get_typed(store, "water-districts", req.district, WaterDistrict)]
    else:
        districts = list(iter_typed(store, "water-districts", WaterDistrict))
        if req.registered_m3 is not None:
            raise InvalidParameter("registered_m3", "registered_m3 is for one district: name the district.")
    corr = req.corrections.model_dump() if req.corrections else {}
    out: list[DistrictBalance] = []
    span: list[str | None] = [None, None]
    skipped: list[str] = []
    for d in districts:
        if req.district is None and not has_inlet_data(store, d):
            skipped.append(d.id)
            continue
        res, s, e = district_balance(
            store,
            d,
            req.start,
            req.end,
            req.registered_m3,
            corr,
            req.legitimate_night_use_m3_per_h,
            req.utc_offset_h,
            city.store.city().persons_per_m2,
        )
        out.append(DistrictBalance(**res))
        span = [s if span[0] is None else min(span[0], s), e if span[1] is None else max(span[1], e)]

    def key(b: DistrictBalance) -> tuple:
        last = b.nights[-1].net_m3_per_h if b.nights else float("-inf")
        return (b.loss_rate_pct if b.loss_rate_pct is not None else float("-inf"), last)

    out.sort(key=key, reverse=True)
    return BalanceResult(start=span[0], end=span[1], districts=out, without_meters=skipped)


ANALYSIS = Analysis(
    id="water-balance",
    title="District water balance and minimum night flow",
    description="For a district metered area (or every one, ranked): supply from the inlet meters, registered "
    "consumption, 综合漏损率 and 漏损率 per CJJ 92-2016 §5.2, the grade (一级 ≤ 10 %, 二级 ≤ 12 %) and the "
    "national 9 % target, and the minimum night flow (02:00-04:00 local, less the legitimate night use) per "
    "night with its trend.",
    request=BalanceRequest,
    result=BalanceResult,
    run=run,
    method="POST",
    get_request=BalanceQuery,
    heavy=False,
    keywords=("water", "leakage", "DMA", "water balance", "night flow", "CJJ 92"),
)
