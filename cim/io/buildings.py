"""Buildings as they come: height sources in order, implausible heights, and --skip-invalid.

A building's height comes from, in order: the file's height attribute (``measuredHeight``, ``height``), the
floor count x storey height (``--storey-height``, 3.0 m by default; ``building:levels``, ``storeysAboveGround``),
the geometry (top minus bottom of a 3-D geometry), then ``--default-height``.  The source is kept in
``Building.height_source`` (attribute, floors, geometry, default).  An attribute height that is not plausible
(not a number, not above 0 m, over :data:`MAX_HEIGHT`, or more than :data:`MAX_RATIO` times a 3-D geometry's
height) is not used: the next source is, with a warning naming the attribute and the feature.

``--skip-invalid``: :func:`skip_or_raise` records an invalid feature in ``ctx.skipped`` (the import lists
them) instead of failing; without the flag the error names the flag.
"""

from __future__ import annotations

import math
from typing import Any

from .base import ImportContext, ImportError_

MAX_HEIGHT = 1000.0  # metres: the model's limit
MAX_RATIO = 5.0  # an attribute height this many times the geometry's (and 50 m more) is taken as a mistake
SKIP_HINT = " Use --skip-invalid to import the other features and list the skipped ones."


def plausible_attribute(value: Any, geometry_height: float | None) -> float | None:
    """``value`` as a height in metres if it is plausible (see the module docstring), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    h = float(value)
    if not math.isfinite(h) or not 0 < h <= MAX_HEIGHT:
        return None
    if (
        geometry_height is not None
        and geometry_height > 0
        and h > max(MAX_RATIO * geometry_height, geometry_height + 50)
    ):
        return None
    return h


def implausible_warning(attr: str, value: Any, fid: str, fallback: str) -> str:
    return f"{attr} = {value!r} of {fid!r} is not a plausible height: the height was taken from the {fallback}"


def fallback_height(
    fid: str, floors: float | None, ctx: ImportContext | None, *, file: str, have: str = "no height"
) -> tuple[float, str]:
    """(height, source) from the floor count, else ``--default-height``; else ImportError_ naming both."""
    storey = ctx.storey_height if ctx is not None else 3.0
    if floors is not None and floors > 0:
        return float(floors) * storey, "floors"
    if ctx is not None and ctx.default_height is not None:
        return float(ctx.default_height), "default"
    raise ImportError_(
        f"The building {fid!r} has {have}: no height attribute, floor count or 3-D geometry; give one "
        "with --default-height H (metres), or set the heights in the file.",
        file=file,
        feature=fid,
    )


def skip_or_raise(ctx: ImportContext | None, exc: ImportError_) -> None:
    """With ``--skip-invalid`` record ``exc``'s feature in ``ctx.skipped`` and return; else raise ``exc``
    with a hint naming the flag."""
    if ctx is not None and ctx.skip_invalid:
        ctx.skipped.append({"feature": str(exc.where.get("feature") or "?"), "reason": exc.message})
        return
    if SKIP_HINT not in exc.message:
        exc.message += SKIP_HINT
        exc.args = (exc.message,)
    raise exc
