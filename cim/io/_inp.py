"""The sectioned text format shared by EPANET and SWMM input files (``.inp``), and geometry helpers.

A file is a sequence of ``[SECTION]`` headers, each followed by rows of whitespace-separated fields
(tabs or spaces; ``"quoted strings"`` may hold spaces).  ``;`` starts a comment; blank and comment lines
are skipped.  Line endings may be LF or CRLF.  Section names are matched case-insensitively
(SWMM writes ``[Polygons]``) and a section may appear more than once (EPANET writes ``[REACTIONS]``
twice): its rows are then concatenated.  Every row keeps its 1-based line number for error messages.

Which of the two formats a file is follows from the section names (:func:`classify`); the readers in
:mod:`cim.io.epanet` and :mod:`cim.io.swmm` both register ``.inp`` and let their ``sniff`` decide.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from ..model import City, Utility
from ..typed import FloatArray
from .base import ImportContext, ImportError_
from .reproject import resolve_crs, to_city

_TOKEN = re.compile(r'"([^"]*)"|([^\s"]+)')
_HEADER = re.compile(rb"^[ \t]*\[([A-Za-z_]+)\]", re.M)

# section names found in one format only (EPANET 2.2 and SWMM 5.2 manuals)
EPANET_ONLY = frozenset(
    {
        "PIPES",
        "RESERVOIRS",
        "TANKS",
        "VALVES",
        "EMITTERS",
        "DEMANDS",
        "ENERGY",
        "QUALITY",
        "MIXING",
        "SOURCES",
        "REACTIONS",
        "STATUS",
    }
)
SWMM_ONLY = frozenset(
    {
        "CONDUITS",
        "SUBCATCHMENTS",
        "OUTFALLS",
        "STORAGE",
        "XSECTIONS",
        "RAINGAGES",
        "SUBAREAS",
        "INFILTRATION",
        "DIVIDERS",
        "ORIFICES",
        "WEIRS",
        "OUTLETS",
        "LOSSES",
        "TRANSECTS",
        "EVAPORATION",
        "POLYGONS",
        "DWF",
        "INFLOWS",
        "LID_CONTROLS",
        "AQUIFERS",
        "GROUNDWATER",
    }
)


def classify(head: bytes) -> str | None:
    """``"epanet"``, ``"swmm"`` or None for the first bytes of a file, from its section names.

    SWMM wins on any SWMM-only section or a ``FLOW_UNITS`` option; EPANET needs an EPANET-only section or,
    failing that, ``[JUNCTIONS]`` (the usual first section of an EPANET file, whose long list may fill the
    whole head).
    """
    names = {m.upper() for m in (g.decode("ascii") for g in _HEADER.findall(head))}
    if not names:
        return None
    if names & SWMM_ONLY or re.search(rb"^[ \t]*FLOW_UNITS\b", head, re.M | re.I):
        return "swmm"
    if names & EPANET_ONLY or "JUNCTIONS" in names or "PIPES" in names:
        return "epanet"
    return None


@dataclass(frozen=True, slots=True)
class Row:
    """One data line: its 1-based line number, section and fields (comments removed, quotes stripped)."""

    line: int
    section: str
    fields: list[str]
    text: str


@dataclass
class InpFile:
    """A parsed ``.inp`` file: rows per upper-case section name, in file order."""

    filename: str
    sections: dict[str, list[Row]] = field(default_factory=dict)
    header_lines: dict[str, int] = field(default_factory=dict)  # first header line of each section
    n_lines: int = 0

    # -- access --------------------------------------------------------------------------------------
    def rows(self, name: str) -> list[Row]:
        return self.sections.get(name.upper(), [])

    def has(self, name: str) -> bool:
        return name.upper() in self.header_lines

    def option(self, *words: str) -> Row | None:
        """The last ``[OPTIONS]`` row whose leading fields are ``words`` (case-insensitive), or None."""
        n = len(words)
        want = [w.upper() for w in words]
        found = None
        for row in self.rows("OPTIONS"):
            if len(row.fields) > n and [f.upper() for f in row.fields[:n]] == want:
                found = row
        return found

    # -- errors and checked fields -------------------------------------------------------------------
    def error(
        self, message: str, row: Row | None = None, *, feature: str | None = None, line: int | None = None
    ) -> ImportError_:
        where = {"section": row.section} if row is not None else {}
        return ImportError_(
            message,
            file=self.filename,
            feature=feature,
            line=line if line is not None else (row.line if row is not None else None),
            **where,
        )

    def need(self, row: Row, n: int, columns: str) -> None:
        """Raise unless ``row`` has at least ``n`` fields (``columns`` names them for the message)."""
        if len(row.fields) < n:
            raise self.error(
                f"[{row.section}] needs at least {n} columns ({columns}); line {row.line} has "
                f"{len(row.fields)}: {row.text.strip()!r}.",
                row,
                feature=row.fields[0] if row.fields else None,
            )

    def number(
        self,
        row: Row,
        col: int,
        what: str,
        *,
        feature: str | None = None,
        positive: bool = False,
        nonnegative: bool = False,
    ) -> float:
        """Field ``col`` of ``row`` as a finite float; ``what`` names it in the message."""
        fid = feature if feature is not None else row.fields[0]
        text = row.fields[col]
        try:
            if "_" in text:
                raise ValueError(text)
            value = float(text)
        except ValueError:
            raise self.error(
                f"[{row.section}] {fid!r}: {what} {text!r} is not a number (line {row.line}).", row, feature=fid
            ) from None
        if not math.isfinite(value):
            raise self.error(
                f"[{row.section}] {fid!r}: {what} {text!r} is not a finite number (line {row.line}).", row, feature=fid
            )
        if positive and value <= 0:
            raise self.error(
                f"[{row.section}] {fid!r}: {what} must be positive, got {text} (line {row.line}).", row, feature=fid
            )
        if nonnegative and value < 0:
            raise self.error(
                f"[{row.section}] {fid!r}: {what} must not be negative, got {text} (line {row.line}).", row, feature=fid
            )
        return value

    def truncation_hint(self, last: str = "END") -> str:
        """A hint for errors about missing data when the file lacks section ``last`` (cut short?)."""
        return "" if self.has(last) else f" The file has no [{last}] section: is it truncated?"


def parse(path: Path, filename: str, *, what: str) -> InpFile:
    """Read ``path`` into sections.  ``what`` names the format in messages ("EPANET input file")."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportError_(f"Cannot read the file: {exc.strerror}.", file=filename) from None
    if not data.strip():
        raise ImportError_("The file is empty.", file=filename)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # EPANET and SWMM GUIs write the Windows code page
    inp = InpFile(filename)
    current: list[Row] | None = None
    name = ""
    # lines end at \n only (as EPANET's and SWMM's own readers): a lone \r inside a line is whitespace
    lines = text.replace("\r\n", "\n").replace("\r", " ").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    inp.n_lines = len(lines)
    for k, raw in enumerate(lines, start=1):
        body = raw.split(";", 1)[0] if '"' not in raw else _uncomment(raw)
        stripped = body.strip()
        if not stripped:
            continue
        if stripped.startswith("["):
            end = stripped.find("]")
            if end < 0 or not stripped[1:end].strip():
                raise ImportError_(f"Malformed section header {stripped!r} on line {k}.", file=filename, line=k)
            name = stripped[1:end].strip().upper()
            inp.header_lines.setdefault(name, k)
            current = inp.sections.setdefault(name, [])
            continue
        if current is None:
            raise ImportError_(
                f"Line {k} comes before any [SECTION] header: {stripped[:60]!r}; this is not a valid {what}.",
                file=filename,
                line=k,
            )
        fields = [a or q for q, a in _TOKEN.findall(body)]
        current.append(Row(k, name, fields, body))
    if not inp.header_lines:
        raise ImportError_(f"No [SECTION] headers found; this is not a valid {what}.", file=filename)
    return inp


def _uncomment(line: str) -> str:
    """``line`` up to the first ``;`` outside double quotes."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            return line[:i]
    return line


def unique_ids(inp: InpFile, groups: Iterable[tuple[str, Sequence[Row]]], what: str) -> dict[str, Row]:
    """Map id -> row over several sections; a repeated id is an error at its later line, naming both."""
    seen: dict[str, Row] = {}
    for row in sorted((r for _, rows in groups for r in rows), key=lambda r: r.line):
        fid = row.fields[0]
        if fid in seen:
            first = seen[fid]
            raise inp.error(
                f"Duplicate {what} id {fid!r}: line {row.line} in [{row.section}] repeats line "
                f"{first.line} in [{first.section}].",
                row,
                feature=fid,
            )
        seen[fid] = row
    return seen


# -- geometry ----------------------------------------------------------------------------------------


@dataclass
class Plan:
    """All 2-D positions of a file, reprojected in one call.

    ``node_xy[id]`` -> (2,) city metres; ``link_vertices[id]`` -> (k, 2) city metres (k may be 0).
    """

    node_xy: dict[str, FloatArray]
    link_vertices: dict[str, FloatArray]
    source_crs: str
    warnings: list[str]


def plan(inp: InpFile, ctx: ImportContext, nodes: dict[str, Row], links: dict[str, Row], *, what: str) -> Plan:
    """Read ``[COORDINATES]`` and ``[VERTICES]`` and reproject them into the city CRS (one ``to_city`` call).

    Coordinates of unknown nodes and vertices of unknown links are skipped with a warning.  A node without
    coordinates is not an error here: the readers decide (a node that a link uses must have them).
    """
    warnings: list[str] = []
    crs = resolve_crs(None, ctx, what=what)
    node_ids: list[str] = []
    node_rows: list[Row] = []
    seen: dict[str, Row] = {}
    unknown_nodes = 0
    for row in inp.rows("COORDINATES"):
        inp.need(row, 3, "node, x, y")
        fid = row.fields[0]
        if fid not in nodes:
            unknown_nodes += 1
            continue
        if fid in seen:
            raise inp.error(
                f"[COORDINATES] gives node {fid!r} twice (lines {seen[fid].line} and {row.line}).", row, feature=fid
            )
        seen[fid] = row
        node_ids.append(fid)
        node_rows.append(row)
    vert_ids: list[str] = []
    vert_rows: list[Row] = []
    unknown_links: set[str] = set()
    for row in inp.rows("VERTICES"):
        inp.need(row, 3, "link, x, y")
        if row.fields[0] not in links:
            unknown_links.add(row.fields[0])
            continue
        vert_ids.append(row.fields[0])
        vert_rows.append(row)
    if unknown_nodes:
        warnings.append(f"skipped {unknown_nodes} [COORDINATES] rows for nodes the file does not define")
    if unknown_links:
        warnings.append(f"skipped [VERTICES] of {len(unknown_links)} links the file does not define")
    rows = node_rows + vert_rows
    xy = np.empty((len(rows), 2))
    for i, row in enumerate(rows):
        fid = row.fields[0]
        xy[i, 0] = inp.number(row, 1, "x coordinate", feature=fid)
        xy[i, 1] = inp.number(row, 2, "y coordinate", feature=fid)
    out = to_city(xy, crs, ctx.city) if len(xy) else xy
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        row = rows[int(np.flatnonzero(bad)[0])]
        raise inp.error(
            f"[{row.section}] {row.fields[0]!r}: coordinates ({row.fields[1]}, {row.fields[2]}) cannot "
            f"be transformed from {crs.to_string()} to EPSG:{ctx.city.crs_epsg} (line {row.line}).",
            row,
            feature=row.fields[0],
        )
    node_xy = {fid: out[i] for i, fid in enumerate(node_ids)}
    link_vertices: dict[str, list[int]] = {}
    base = len(node_ids)
    for j, fid in enumerate(vert_ids):
        link_vertices.setdefault(fid, []).append(base + j)
    return Plan(node_xy, {fid: out[idx] for fid, idx in link_vertices.items()}, crs.to_string(), warnings)


def path_z(xy: FloatArray, z0: float, z1: float) -> FloatArray:
    """Elevations along a 2-D path, linear in horizontal distance from ``z0`` at the first point to ``z1``.

    ``xy``: (n, 2) float metres; returns (n,) float metres.
    """
    seg = np.hypot(*np.diff(xy, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = s[-1]
    t = s / total if total > 0 else np.linspace(0.0, 1.0, len(xy))
    return z0 + (z1 - z0) * t


def midpoint(xy: FloatArray) -> FloatArray:
    """The point halfway along a 2-D path (by length); (n, 2) -> (2,)."""
    seg = np.hypot(*np.diff(xy, axis=0).T)
    total = float(seg.sum())
    if total == 0:
        return xy[0].copy()
    s = np.concatenate([[0.0], np.cumsum(seg)])
    i = int(np.searchsorted(s, total / 2, side="right") - 1)
    i = min(i, len(seg) - 1)
    t = (total / 2 - s[i]) / seg[i] if seg[i] > 0 else 0.0
    return xy[i] + t * (xy[i + 1] - xy[i])


def default_cover(ctx: ImportContext) -> tuple[float, str]:
    """Cover (ground to pipe crown) for files that give no burial depth, metres, and the rule used."""
    given = getattr(ctx, "default_cover", None)
    if given is not None:
        return float(given), "given"
    return frost_cover(ctx.city), "frost depth + 0.1 m"


def frost_cover(city: City) -> float:
    """GB 50289 §4.1.1: in frost regions water pipes lie below the frost depth; 0.1 m of margin."""
    return float(city.frost_depth) + 0.1


def flow_units(
    inp: InpFile, option: str, default: str, us: frozenset[str], si: frozenset[str], program: str, warnings: list[str]
) -> tuple[str, bool]:
    """The file's ``[OPTIONS]`` flow units and whether they are US units (feet, inches); an unknown unit
    raises ImportError_ naming the line, a missing one takes the program's default with a warning."""
    row = inp.option(option)
    if row is None:
        warnings.append(f"no [OPTIONS] {option}: {program}'s default {default} (US units: feet) assumed")
        return default, default in us
    units = row.fields[1].upper()
    if units not in us | si:
        raise inp.error(
            f"Unknown flow units {row.fields[1]!r} in [OPTIONS] (line {row.line}); {program} knows "
            f"{', '.join(sorted(us | si))}.",
            row,
        )
    return units, units in us


def utility_of(ctx: ImportContext, default: Utility) -> Utility:
    """``ImportContext.default_utility`` when given (checked), else the reader's ``default``."""
    given = getattr(ctx, "default_utility", None)
    if given is None:
        return default
    try:
        return Utility(str(given).lower())
    except ValueError:
        raise ImportError_(
            f"Unknown utility {given!r}; one of: {', '.join(u.value for u in Utility)}.", file=ctx.filename
        ) from None


def build(inp: InpFile, row: Row, cls, **values):
    """``cls(**values)``; a validation failure becomes an ImportError_ naming the row and feature."""
    try:
        return cls(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or cls.__name__
        raise inp.error(
            f"[{row.section}] {values['id']!r} (line {row.line}) is invalid: {loc}: {err['msg']}.",
            row,
            feature=values["id"],
        ) from None
