"""Thresholds and alarms, computed with numpy over a datastream's observations as they arrive.

A Datastream's ``properties["thresholds"]`` is one rule or a list of rules; a rule is a dict with any of
``low`` and ``high`` (result units), ``rate_per_hour`` (result units per hour, absolute change between
consecutive observations), ``severity`` (default ``"warning"``) and ``hours_utc`` ([from, to) hours of
the UTC day the rule watches, e.g. ``[18, 20]`` for 02:00-04:00 China time: minimum night flow).
Each condition of a rule is a detector: consecutive observations outside it form one alarm, opened at the
first and closed by the first observation back inside (``closed_t``); an alarm still outside at the newest
observation is active.  Observations outside a rule's hours, or without a numeric result, neither open
nor close its alarms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import bad

KINDS = ("low", "high", "rate_per_hour")
SEVERITIES = ("info", "warning", "alarm", "critical")


@dataclass(frozen=True)
class Detector:
    """One threshold rule of a Datastream, one kind: rule index, kind, threshold, severity, UTC hours."""

    rule: int
    kind: str  # "low", "high" or "rate_per_hour"
    threshold: float
    severity: str
    hours: tuple[int, int] | None


def detectors(properties: Any) -> list[Detector]:
    """The detectors of a datastream's properties; InvalidParameter naming the rule at fault."""
    if not isinstance(properties, dict) or properties.get("thresholds") is None:
        return []
    rules = properties["thresholds"]
    if isinstance(rules, dict):
        rules = [rules]
    if not isinstance(rules, list):
        raise bad("properties.thresholds", "thresholds is a rule (an object) or a list of rules.")
    out: list[Detector] = []
    for i, r in enumerate(rules):
        where = f"properties.thresholds[{i}]"
        if not isinstance(r, dict):
            raise bad(where, "A threshold rule is an object with low, high, rate_per_hour, severity, hours_utc.")
        unknown = set(r) - {*KINDS, "severity", "hours_utc"}
        if unknown:
            raise bad(
                where, f"Unknown threshold keys {sorted(unknown)}; use low, high, rate_per_hour, severity, hours_utc."
            )
        sev = r.get("severity", "warning")
        if sev not in SEVERITIES:
            raise bad(where, f"severity is one of {', '.join(SEVERITIES)}, not {sev!r}.")
        hours = r.get("hours_utc")
        if hours is not None:
            if (
                not isinstance(hours, list)
                or len(hours) != 2
                or not all(isinstance(h, int) and 0 <= h <= 24 for h in hours)
                or hours[0] == hours[1]
            ):
                raise bad(where, "hours_utc is [from, to), two different whole hours 0..24.")
            hours = (hours[0], hours[1])
        kinds = [k for k in KINDS if k in r]
        if not kinds:
            raise bad(where, "A threshold rule needs low, high or rate_per_hour.")
        for k in kinds:
            v = r[k]
            if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
                raise bad(where, f"{k} is a number, not {v!r}.")
            if k == "rate_per_hour" and v <= 0:
                raise bad(where, "rate_per_hour is positive.")
            out.append(Detector(i, k, float(v), sev, hours))
    return out


def _in_hours(t: np.ndarray, hours: tuple[int, int] | None) -> np.ndarray:
    if hours is None:
        return np.ones(len(t), dtype=bool)
    h = (t // 3_600_000) % 24
    h0, h1 = hours
    return (h >= h0) & (h < h1) if h0 < h1 else (h >= h0) | (h < h1)


def detect(
    d: Detector,
    t: np.ndarray,
    v: np.ndarray,
    prev: tuple[int, float] | None = None,
    open_alarm: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Alarms of one detector over new observations ``t`` (int64 ms, (n,), ascending) and ``v`` (float64, (n,)).

    ``prev`` is the (t, result) just before them (rates); ``open_alarm`` the detector's active alarm, which
    the new observations extend or close.  Returns (alarm dicts: first_t, last_t, closed_t, peak, peak_t;
    whether the first of them continues ``open_alarm``).
    """
    if d.kind == "rate_per_hour":
        tt = np.concatenate([[prev[0]], t]) if prev is not None else t
        vv = np.concatenate([[prev[1]], v]) if prev is not None else v
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.diff(vv) / (np.diff(tt) / 3_600_000.0)
        value = rate if prev is not None else np.concatenate([[np.nan], rate])
        score = np.abs(value)
        breach = score > d.threshold
    else:
        value = v
        score = v if d.kind == "high" else -v
        breach = (v > d.threshold) if d.kind == "high" else (v < d.threshold)
    keep = _in_hours(t, d.hours) & np.isfinite(v) & np.isfinite(value)
    t, value, score, breach = t[keep], value[keep], score[keep], breach[keep]
    if len(t) == 0:
        return [], False
    edges = np.diff(np.concatenate([[0], breach.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)  # exclusive
    out: list[dict[str, Any]] = []
    continues = False
    if open_alarm is not None and not breach[0]:
        closed = dict(open_alarm)
        closed["closed_t"] = int(t[0])
        out.append(closed)
        continues = True
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        k = s + int(np.argmax(score[s:e]))
        a = {
            "first_t": int(t[s]),
            "last_t": int(t[e - 1]),
            "closed_t": int(t[e]) if e < len(t) else None,
            "peak": float(value[k]),
            "peak_t": int(t[k]),
        }
        if s == 0 and open_alarm is not None:
            old_score = open_alarm["peak"] if d.kind == "high" else -open_alarm["peak"]
            if d.kind == "rate_per_hour":
                old_score = abs(open_alarm["peak"])
            if old_score >= score[k]:
                a["peak"], a["peak_t"] = open_alarm["peak"], open_alarm["peak_t"]
            a = {**open_alarm, **a, "first_t": open_alarm["first_t"]}
            continues = True
        out.append(a)
    return out, continues
