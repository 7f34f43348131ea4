"""GeoJSON (RFC 7946) buildings, pipes and manholes: the profile.

A FeatureCollection (or a single Feature); the geometry type says what a feature is.  Property
names are matched case-insensitively, through the aliases given in brackets; lengths are metres.

**Buildings**: ``Polygon`` or ``MultiPolygon`` (the largest polygon becomes the footprint, with a warning).

* ``height`` [``building_height``]: metres above ground; or ``floors`` [``levels``, ``storeys``,
  ``stories``, ``building:levels``]: height = floors x 3.0 m, marked ``height_source="floors"`` (an
  estimate).  One of the two is required.
* ``ground_z`` [``ground_elevation``, ``surface_elevation``]: optional; else the terrain's elevation at the
  footprint's centroid; else 0 m, with a warning.
* ``use`` (residential, public, commercial, industrial, mixed), ``year_built``, ``name``: optional.

**Pipes**: ``LineString`` (or a one-part ``MultiLineString``).

* ``utility``: water, reclaimed, sewer, storm, gas, heat, power, telecom; else the import's default
  utility (``--utility``, ``ImportContext.default_utility``); else an error.
* ``diameter`` [``diam``, ``dia``], or ``width`` and ``height`` for a box section: metres; the same
  names ending in ``_mm`` (``diameter_mm``) are millimetres.  A size over 20 m is refused: a size in
  millimetres must say so in its name.
* The axis elevation, the first that applies:
  1. ``LineString`` Z: z is the centreline (axis) elevation (unless every z is 0 and ``depth`` is
     given: a 2-D line exported with zeros);
  2. ``depth`` [``cover``]: cover from the ground to the pipe's *top*, metres; axis z = ground - depth
     - outer height / 2 at every vertex, the ground from the terrain (the store's, or one imported
     before in the same import); an error without a terrain;
  3. ``invert_z_start`` and ``invert_z_end`` [``start_invert``/``end_invert``, ``upstream_invert``/
     ``downstream_invert``]: axis z = invert + outer height / 2 at the ends, linear along the line;
  4. the end manholes ``from_node`` [``u``, ``start_node``] and ``to_node`` [``v``, ``end_node``], when
     they are manholes of this file or of a file listed before it in the same import: axis z =
     the manhole's invert + outer height / 2 at each end, linear along the line.
  Otherwise the pipe is refused.
* ``material``, ``year``, ``lane`` (footway, motor_lane, green), ``pressure_class``, ``in_conduit``.

**Manholes and other nodes**: ``Point``.

* ``kind``: manhole (the default), valve, junction, hydrant, inlet, outfall ...; ``utility`` as for pipes.
* ``ground_z`` [``surface_elevation``, ``ground_elevation``, ``elevation``, ``elev``, ``z``]; else the
  point's z coordinate; else the terrain; else an error.
* ``invert_z`` [``chamber_floor_elevation``, ``invert_elevation``, ``invert``], or ``depth``:
  the node's depth = ground_z - invert_z.  A manhole needs one of them.  ``diameter``: the chamber's.
* The node becomes a ``PipeNode`` with ``position`` z = ground_z.

The ``id`` member of the feature, else an ``id`` property, is the feature id (else one is made from
the file name and the feature's number, with a warning).  Properties not used above are kept in
``attributes``.  Several spellings of one property with different values are refused.

**CRS**: RFC 7946 coordinates are CRS84 longitude, latitude.  A legacy ``crs`` member
(``{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32632"}}``) overrides that.
Without one, coordinates outside longitude/latitude range (|x| > 180 or |y| > 90) need ``--crs``.
z coordinates are converted with the CRS's vertical unit and taken in the city's height datum.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..model import Building, BuildingUse, LaneType, NodeKind, PipeNode, PipeSegment, Utility
from .base import ImportContext, ImportError_, ImportResult
from .buildings import fallback_height, plausible_attribute, skip_or_raise
from .registry import register
from .reproject import datum_warning, resolve_crs, to_city

STOREY_HEIGHT = 3.0  # metres per floor when only a floor count is given
MAX_SIZE = 20.0  # metres: a larger diameter, width or height is taken as a unit mistake
_SNIFF = re.compile(rb'"type"\s*:\s*"(FeatureCollection|Feature)"')

# canonical name -> accepted property names (lower case), per geometry
_COMMON = {"id": ("id",), "name": ("name",), "utility": ("utility",)}
_POLYGON = {
    **_COMMON,
    "height": ("height", "building_height"),
    "floors": ("floors", "levels", "storeys", "stories", "building:levels"),
    "ground_z": ("ground_z", "ground_elevation", "surface_elevation"),
    "use": ("use",),
    "year_built": ("year_built",),
}
_SIZES = {"diameter": ("diameter", "diam", "dia"), "width": ("width",), "height": ("height",)}
_LINE = {
    **_COMMON,
    **_SIZES,
    **{f"{k}_mm": tuple(f"{a}_mm" for a in v) for k, v in _SIZES.items()},
    "depth": ("depth", "cover"),
    "invert_z_start": ("invert_z_start", "start_invert", "upstream_invert"),
    "invert_z_end": ("invert_z_end", "end_invert", "downstream_invert"),
    "from_node": ("from_node", "u", "start_node"),
    "to_node": ("to_node", "v", "end_node"),
    "material": ("material",),
    "year": ("year",),
    "lane": ("lane",),
    "pressure_class": ("pressure_class",),
    "in_conduit": ("in_conduit",),
}
_POINT = {
    **_COMMON,
    "kind": ("kind",),
    "ground_z": ("ground_z", "surface_elevation", "ground_elevation", "elevation", "elev", "z"),
    "invert_z": ("invert_z", "chamber_floor_elevation", "invert_elevation", "invert"),
    "depth": ("depth",),
    "diameter": ("diameter", "diam", "dia"),
    "diameter_mm": ("diameter_mm",),
}


class GeoJSONReader:
    """GeoJSON buildings (polygons), pipes (lines) and manholes (points)."""

    name = "geojson"
    extensions = (".geojson",)
    description = "GeoJSON: buildings (Polygon + height/floors), pipes (LineString), manholes (Point)"

    def sniff(self, head: bytes, path: Path) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return text[:1] == b"{" and _SNIFF.search(head) is not None

    def read(self, path: Path, ctx: ImportContext) -> ImportResult:
        return _Reader(path, ctx).run()


class _Feature:
    """One parsed feature: its id, kind, properties and coordinates (rows of the file's big array)."""

    __slots__ = ("index", "fid", "kind", "props", "raw", "used", "parts", "start", "stop", "has_z")

    def __init__(
        self, index: int, fid: str, kind: str, props: dict[str, Any], raw: dict[str, Any], used: set[str]
    ) -> None:
        self.index, self.fid, self.kind, self.props, self.raw, self.used = index, fid, kind, props, raw, used
        self.parts: list[list[int]] = []  # polygons: ring lengths per polygon; lines/points: [n]
        self.start = self.stop = 0
        self.has_z = False


class _Reader:
    def __init__(self, path: Path, ctx: ImportContext) -> None:
        self.path, self.ctx = path, ctx
        self.file = ctx.filename or path.name
        self.warn: dict[str, list[str]] = {}

    # -- errors and warnings ----------------------------------------------------------------------
    def error(self, message: str, fid: str | None = None) -> ImportError_:
        return ImportError_(message, file=self.file, feature=fid)

    def note(self, what: str, fid: str) -> None:
        self.warn.setdefault(what, []).append(fid)

    # -- the whole file ---------------------------------------------------------------------------
    def run(self) -> ImportResult:
        doc = self._load()
        feats_json = self._features(doc)
        feats: list[_Feature] = []
        coords: list[np.ndarray] = []
        n = 0
        for k, fj in enumerate(feats_json):
            f = self._parse(k, fj, coords, n)
            if f is not None:
                feats.append(f)
                n = f.stop
        self.ctx.report(0.3)
        src, label = self._crs(doc, np.concatenate(coords) if coords else np.zeros((0, 3)), feats)
        xyz = self._to_city(np.concatenate(coords) if coords else np.zeros((0, 3)), src, feats)
        self.ctx.report(0.5)
        out: list[Any] = []
        # points first: manholes of this file serve the pipes of this file
        out += [self._node(f, xyz[f.start : f.stop]) for f in feats if f.kind == "Point"]
        out += self._buildings([f for f in feats if f.kind == "Polygon"], xyz)
        out += [self._pipe(f, xyz[f.start : f.stop]) for f in feats if f.kind == "LineString"]
        warnings = self._warnings()
        w = datum_warning(src, self.ctx.city)
        if w and any(f.has_z for f in feats):
            warnings.append(w)
        self.ctx.report(1.0)
        return ImportResult(
            features=out,
            source_crs=label,
            warnings=warnings,
            info={
                "buildings": sum(isinstance(o, Building) for o in out),
                "pipes": sum(isinstance(o, PipeSegment) for o in out),
                "nodes": sum(isinstance(o, PipeNode) for o in out),
            },
        )

    def _load(self) -> Any:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise self.error(f"Cannot read the file: {exc.strerror}.") from None
        if not data.strip():
            raise self.error("The file is empty.")
        try:
            return json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise self.error(f"Not UTF-8 text (byte {exc.start}): GeoJSON must be UTF-8.") from None
        except json.JSONDecodeError as exc:
            raise self.error(f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
        except RecursionError:
            raise self.error("Not valid GeoJSON: nested too deeply.") from None

    def _features(self, doc: Any) -> list[Any]:
        kind = doc.get("type") if isinstance(doc, dict) else None
        if kind == "FeatureCollection":
            feats = doc.get("features")
            if not isinstance(feats, list):
                raise self.error("The FeatureCollection has no `features` array.")
            return feats
        if kind == "Feature":
            return [doc]
        raise self.error(
            f"Not a GeoJSON FeatureCollection or Feature (type {kind!r}); bare geometries carry "
            "no properties: wrap them in features."
        )

    # -- one feature ------------------------------------------------------------------------------
    def _parse(self, k: int, fj: Any, coords: list[np.ndarray], n: int) -> _Feature | None:
        if not isinstance(fj, dict) or fj.get("type") != "Feature":
            raise self.error(f"Feature #{k + 1} is not a GeoJSON Feature.", f"#{k + 1}")
        raw = fj.get("properties") or {}
        if not isinstance(raw, dict):
            raise self.error(f"Feature #{k + 1}: `properties` must be an object.", f"#{k + 1}")
        fid = fj.get("id")
        if fid is None:
            fid = next((v for key, v in raw.items() if key.lower() == "id" and v is not None), None)
        label = str(fid) if fid is not None else f"#{k + 1}"
        geom = fj.get("geometry")
        if geom is None:
            self.note("features without geometry were skipped", label)
            return None
        if not isinstance(geom, dict):
            raise self.error(f"Feature {label}: `geometry` must be an object.", label)
        gtype, c = geom.get("type"), geom.get("coordinates")
        if gtype == "MultiLineString" and isinstance(c, list) and len(c) == 1:
            gtype, c = "LineString", c[0]
        table = {"Polygon": _POLYGON, "MultiPolygon": _POLYGON, "LineString": _LINE, "Point": _POINT}.get(gtype)
        if table is None:
            hint = " (split it into LineStrings, one per pipe)" if gtype == "MultiLineString" else ""
            raise self.error(
                f"Feature {label}: geometry type {gtype!r} is not part of the profile{hint}; use "
                "Polygon or MultiPolygon (buildings), LineString (pipes), Point (manholes).",
                label,
            )
        props, used = self._props(raw, table, label)
        if fid is None:
            fid = f"{Path(self.file).stem}-{k + 1}"
            self.note("features without an id were named after the file and their number", fid)
        f = _Feature(k, str(fid), "Polygon" if gtype == "MultiPolygon" else gtype, props, raw, used)
        try:
            # as polygons -> rings -> positions
            if gtype == "Point":
                rings = [[[c]]]
            elif gtype == "LineString":
                rings = [[c]]
            elif gtype == "Polygon":
                rings = [c]
            else:
                rings = list(c)
                if len(rings) > 1:
                    self.note("MultiPolygon buildings: the largest polygon was kept as the footprint", f.fid)
            arrays = []
            for poly in rings:
                lens = []
                for ring in poly:
                    a = _array(ring)
                    arrays.append(a)
                    lens.append(len(a))
                f.parts.append(lens)
        except (TypeError, ValueError) as exc:
            raise self.error(f"Feature {f.fid}: bad {gtype} coordinates ({exc}).", f.fid) from None
        a = np.concatenate(arrays) if arrays else np.zeros((0, 3))
        if len(a) == 0:
            raise self.error(f"Feature {f.fid}: empty {gtype}.", f.fid)
        finite = np.isfinite(a[:, :2]).all() and not np.isinf(a[:, 2]).any()
        if not finite:
            raise self.error(f"Feature {f.fid}: coordinates must be finite numbers (found NaN or infinity).", f.fid)
        f.has_z = bool(np.isfinite(a[:, 2]).all())
        if gtype == "LineString" and len(a) < 2:
            raise self.error(f"Feature {f.fid}: a LineString needs at least 2 positions.", f.fid)
        coords.append(a)
        f.start, f.stop = n, n + len(a)
        return f

    def _props(
        self, raw: dict[str, Any], table: dict[str, tuple[str, ...]], fid: str
    ) -> tuple[dict[str, Any], set[str]]:
        """Canonical name -> value for the properties the profile knows; and the source keys used."""
        lower: dict[str, list[str]] = {}
        for key in raw:
            lower.setdefault(key.lower(), []).append(key)
        out: dict[str, Any] = {}
        used: set[str] = set()
        for canon, names in table.items():
            found = [(key, raw[key]) for nm in names for key in lower.get(nm, ()) if raw[key] is not None]
            if not found:
                continue
            values = {json.dumps(v, sort_keys=True) for _, v in found}
            if len(values) > 1:
                raise self.error(
                    f"Feature {fid}: {', '.join(f'{k}={v!r}' for k, v in found)} disagree; give one `{canon}`.", fid
                )
            out[canon] = found[0][1]
            used.update(k for k, _ in found)
        for canon in ("diameter", "width", "height"):
            mm = out.pop(f"{canon}_mm", None)
            if mm is not None:
                if canon in out:
                    raise self.error(f"Feature {fid}: both `{canon}` and `{canon}_mm` are given; give one.", fid)
                out[canon] = self._num(mm, f"{canon}_mm", fid) / 1000.0
        return out, used

    def _num(self, v: Any, what: str, fid: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise self.error(f"Feature {fid}: `{what}` must be a number, not {v!r}.", fid)
        try:
            x = float(v)
        except ValueError:
            raise self.error(f"Feature {fid}: `{what}` must be a number, not {v!r}.", fid) from None
        if not math.isfinite(x):
            raise self.error(f"Feature {fid}: `{what}` must be a finite number, not {v!r}.", fid)
        return x

    def _opt(self, f: _Feature, key: str) -> float | None:
        v = f.props.get(key)
        return None if v is None else self._num(v, key, f.fid)

    # -- CRS ---------------------------------------------------------------------------------------
    def _crs(self, doc: dict, coords: np.ndarray, feats: list[_Feature]):
        crs = doc.get("crs")
        if crs is not None:
            name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
            if not isinstance(name, str) or (isinstance(crs, dict) and crs.get("type") != "name"):
                raise self.error(
                    f"The legacy `crs` member {json.dumps(crs)[:120]} is not understood; only "
                    '{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::<code>"}} is.'
                )
            src = resolve_crs(name, self.ctx, what="GeoJSON file")
            return src, _label(src)
        lonlat = len(coords) == 0 or (np.abs(coords[:, 0]).max() <= 180 and np.abs(coords[:, 1]).max() <= 90)
        if lonlat:
            if self.ctx.crs is not None:
                self.warn.setdefault(
                    f"the coordinates are longitude/latitude (RFC 7946 CRS84); --crs {self.ctx.crs} was not used", []
                )
            return resolve_crs("OGC:CRS84", self.ctx, what="GeoJSON file"), "OGC:CRS84"
        if self.ctx.crs is None:
            big = int(np.argmax((np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90)))
            fid = next(f.fid for f in feats if f.start <= big < f.stop)
            raise self.error(
                "The coordinates are not longitude/latitude (RFC 7946) and the file has no `crs` "
                "member: give the CRS with --crs (for example --crs EPSG:32632).",
                fid,
            )
        src = resolve_crs(None, self.ctx, what="GeoJSON file")
        return src, _label(src)

    def _to_city(self, coords: np.ndarray, src, feats: list[_Feature]) -> np.ndarray:
        if len(coords) == 0:
            return coords
        try:
            out = to_city(coords, src, self.ctx.city)
        except Exception as exc:  # pyproj errors
            raise self.error(f"Cannot transform the coordinates to EPSG:{self.ctx.city.crs_epsg}: {exc}.") from None
        bad = ~np.isfinite(out[:, :2]).all(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            fid = next(f.fid for f in feats if f.start <= i < f.stop)
            raise self.error(
                f"Feature {fid}: coordinates ({coords[i, 0]:g}, {coords[i, 1]:g}) cannot be placed in "
                f"EPSG:{self.ctx.city.crs_epsg}: wrong CRS?",
                fid,
            )
        return out

    # -- features ---------------------------------------------------------------------------------
    def _build(self, cls, f: _Feature, **values):
        values = {k: v for k, v in values.items() if v is not None}
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or cls.__name__
            raise self.error(
                f"Feature {f.fid} is not a valid {cls.__name__.lower()}: {loc}: {err['msg']}.", f.fid
            ) from None

    def _utility(self, f: _Feature) -> Utility:
        v = f.props.get("utility")
        if v is None:
            v = self.ctx.default_utility
            if v is None:
                raise self.error(
                    f"Feature {f.fid} has no utility: add a `utility` property (one of "
                    f"{', '.join(u.value for u in Utility)}) or give a default utility "
                    "(--utility).",
                    f.fid,
                )
        try:
            return Utility(str(v).strip().lower())
        except ValueError:
            raise self.error(
                f"Feature {f.fid}: unknown utility {v!r}; one of: {', '.join(u.value for u in Utility)}.", f.fid
            ) from None

    def _enum(self, f: _Feature, key: str, enum):
        v = f.props.get(key)
        if v is None:
            return None
        try:
            return enum(str(v).strip().lower())
        except ValueError:
            raise self.error(
                f"Feature {f.fid}: unknown {key} {v!r}; one of: {', '.join(e.value for e in enum)}.", f.fid
            ) from None

    def _int(self, f: _Feature, key: str) -> int | None:
        x = self._opt(f, key)
        if x is None:
            return None
        if not x.is_integer():
            raise self.error(f"Feature {f.fid}: `{key}` must be a whole number, not {f.props[key]!r}.", f.fid)
        return int(x)

    def _size(self, f: _Feature, key: str) -> float | None:
        x = self._opt(f, key)
        if x is not None and x > MAX_SIZE:
            raise self.error(
                f"Feature {f.fid}: {key} {x:g} m is implausible; sizes are metres (a size in "
                f"millimetres must say so in its name, e.g. `{key}_mm`).",
                f.fid,
            )
        return x

    def _buildings(self, feats: list[_Feature], xyz: np.ndarray) -> list[Building]:
        if not feats:
            return []
        footprints, grounds = [], []
        for f in feats:
            rings, k = [], f.start
            for lens in f.parts:
                poly = []
                for m in lens:
                    poly.append(xyz[k : k + m, :2])
                    k += m
                rings.append(poly)
            best = max(rings, key=lambda p: abs(_area(p[0])))
            footprints.append(best)
            grounds.append(self._opt(f, "ground_z"))
        missing = [i for i, g in enumerate(grounds) if g is None]
        if missing:
            centroids = np.array([_centroid(footprints[i][0]) for i in missing])
            t = self.ctx.terrain
            z = t.sample(centroids) if t is not None else np.full(len(missing), np.nan)
            for i, zi in zip(missing, z, strict=True):
                if np.isfinite(zi):
                    grounds[i] = float(zi)
                else:
                    grounds[i] = 0.0
                    self.note("buildings with no ground_z and no terrain under them were set on 0 m", feats[i].fid)
        out = []
        for f, fp, ground in zip(feats, footprints, grounds, strict=True):
            try:
                out.append(self._building(f, fp, ground))
            except ImportError_ as exc:
                skip_or_raise(self.ctx, exc)
        return out

    def _building(self, f: _Feature, fp: list, ground: float) -> Building:
        """One building: height from `height`, else floors x storey height, else --default-height."""
        height, floors = self._opt(f, "height"), self._opt(f, "floors")
        source = "attribute"
        if height is not None and plausible_attribute(height, None) is None:
            self.note(f"implausible `height` ({height:g} m) not used (floors or --default-height instead)", f.fid)
            height = None
        if height is None:
            try:
                height, source = fallback_height(f.fid, floors, self.ctx, file=self.ctx.filename)
            except ImportError_ as exc:
                raise self.error(
                    f"Building {f.fid} has neither `height` nor `floors`; give one of them, or a height for "
                    "all such buildings with --default-height H (metres).",
                    f.fid,
                ) from exc
        return self._build(
            Building,
            f,
            id=f.fid,
            name=_str(f.props.get("name")),
            footprint=[[(float(x), float(y)) for x, y in ring] for ring in fp],
            ground_elevation=ground,
            height=height,
            height_source=source,
            floors_above=int(floors) if floors is not None and floors.is_integer() and floors >= 0 else None,
            use=self._enum(f, "use", BuildingUse) or BuildingUse.unknown,
            year_built=self._int(f, "year_built"),
            attributes=self._kept(f),
        )

    def _section(self, f: _Feature) -> tuple[float | None, float | None, float | None, float]:
        d, w, h = self._size(f, "diameter"), self._size(f, "width"), self._size(f, "height")
        if d is None and (w is None or h is None):
            raise self.error(f"Pipe {f.fid} has no size: give `diameter`, or `width` and `height` (metres).", f.fid)
        if d is not None and (w is not None or h is not None):
            raise self.error(f"Pipe {f.fid}: give either `diameter` or `width` and `height`, not both.", f.fid)
        outer = d if d is not None else h
        if not outer > 0:
            raise self.error(f"Pipe {f.fid}: the section size must be positive.", f.fid)
        return d, w, h, float(outer)

    def _pipe(self, f: _Feature, xyz: np.ndarray) -> PipeSegment:
        utility = self._utility(f)
        d, w, h, outer = self._section(f)
        depth = self._opt(f, "depth")
        inv0, inv1 = self._opt(f, "invert_z_start"), self._opt(f, "invert_z_end")
        u, v = _str(f.props.get("from_node")), _str(f.props.get("to_node"))
        xy = xyz[:, :2]
        if f.has_z and not (depth is not None and np.all(xyz[:, 2] == 0)):
            z = xyz[:, 2]
        elif depth is not None:
            t = self.ctx.terrain
            if t is None:
                raise self.error(
                    f"Pipe {f.fid} gives a `depth` but there is no terrain to measure it from: import "
                    "a terrain first (LAS/LAZ, before this file or earlier) or give z coordinates.",
                    f.fid,
                )
            ground = t.sample(xy)
            if not np.isfinite(ground).all():
                raise self.error(
                    f"Pipe {f.fid} lies (partly) outside the terrain: its `depth` cannot be placed.", f.fid
                )
            z = ground - depth - outer / 2
        elif inv0 is not None or inv1 is not None:
            if inv0 is None or inv1 is None:
                raise self.error(f"Pipe {f.fid}: give both `invert_z_start` and `invert_z_end`.", f.fid)
            z = _along(xy, inv0 + outer / 2, inv1 + outer / 2)
        elif (
            u is not None
            and v is not None
            and u in self.ctx.nodes
            and v in self.ctx.nodes
            and math.isfinite(self.ctx.nodes[u][3])
            and math.isfinite(self.ctx.nodes[v][3])
        ):
            z = _along(xy, self.ctx.nodes[u][3] + outer / 2, self.ctx.nodes[v][3] + outer / 2)
        else:
            known = (
                ""
                if u is None or v is None
                else (
                    f" (its end manholes {u!r} and {v!r} are not known with an invert: import their file before this "
                    "one, in the same import)"
                )
            )
            raise self.error(
                f"Pipe {f.fid} has 2-D coordinates and no elevation: give z coordinates, a `depth`, "
                f"`invert_z_start` and `invert_z_end`, or end manholes with inverts{known}.",
                f.fid,
            )
        return self._build(
            PipeSegment,
            f,
            id=f.fid,
            name=_str(f.props.get("name")),
            utility=utility,
            centreline=[(float(a), float(b), float(c)) for (a, b), c in zip(xy, z, strict=True)],
            diameter=d,
            width=w,
            section_height=h,
            from_node=u,
            to_node=v,
            material=_str(f.props.get("material")),
            year=self._int(f, "year"),
            lane=self._enum(f, "lane", LaneType),
            pressure_class=_str(f.props.get("pressure_class")),
            in_conduit=_bool(f.props.get("in_conduit")),
            attributes=self._kept(f),
        )

    def _node(self, f: _Feature, xyz: np.ndarray) -> PipeNode:
        x, y, zc = (float(c) for c in xyz[0])
        kind = self._enum(f, "kind", NodeKind) or NodeKind.manhole
        utility = self._utility(f)
        ground = self._opt(f, "ground_z")
        if ground is None and f.has_z:
            ground = zc
        if ground is None and self.ctx.terrain is not None:
            g = float(self.ctx.terrain.sample(np.array([[x, y]]))[0])
            ground = g if math.isfinite(g) else None
        if ground is None:
            raise self.error(
                f"Node {f.fid} has no ground elevation: give `ground_z` (or a z coordinate), or import "
                "a terrain first.",
                f.fid,
            )
        invert, depth = self._opt(f, "invert_z"), self._opt(f, "depth")
        if invert is not None:
            depth = ground - invert
        elif depth is not None:
            invert = ground - depth
        elif kind == NodeKind.manhole:
            raise self.error(f"Manhole {f.fid} has no `invert_z` and no `depth`; give one of them.", f.fid)
        if depth is not None and depth < 0:
            raise self.error(f"Node {f.fid}: the invert ({invert:g} m) lies above the ground ({ground:g} m).", f.fid)
        node = self._build(
            PipeNode,
            f,
            id=f.fid,
            name=_str(f.props.get("name")),
            kind=kind,
            utility=utility,
            position=(x, y, ground),
            depth=depth,
            diameter=self._size(f, "diameter"),
            attributes=self._kept(f),
        )
        self.ctx.nodes[f.fid] = (x, y, ground, math.nan if invert is None else invert)
        return node

    def _kept(self, f: _Feature) -> dict[str, Any]:
        """The source properties the profile did not use, kept as ``attributes``."""
        return {k: v for k, v in f.raw.items() if k not in f.used}

    def _warnings(self) -> list[str]:
        out = []
        for what, ids in self.warn.items():
            if not ids:
                out.append(what)
                continue
            shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            out.append(f"{len(ids)} {what}: {shown}")
        return out


def _array(ring: Any) -> np.ndarray:
    """A list of GeoJSON positions -> (n, 3) float (z NaN where absent)."""
    if not isinstance(ring, list):
        raise TypeError("positions must be arrays")
    out = np.full((len(ring), 3), np.nan)
    for i, p in enumerate(ring):
        if (
            not isinstance(p, list)
            or len(p) < 2
            or any(isinstance(c, bool) or not isinstance(c, (int, float)) for c in p[:3])
        ):
            raise ValueError(f"position {i} is {json.dumps(p)[:60]}, not [x, y] or [x, y, z]")
        out[i, : min(len(p), 3)] = p[:3]
    return out


def _area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _centroid(ring: np.ndarray) -> tuple[float, float]:
    x, y = ring[:, 0], ring[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    a = cross.sum() / 2
    if abs(a) < 1e-12:
        return float(x.mean()), float(y.mean())
    return (
        float(((x + np.roll(x, -1)) * cross).sum() / (6 * a)),
        float(((y + np.roll(y, -1)) * cross).sum() / (6 * a)),
    )


def _along(xy: np.ndarray, z0: float, z1: float) -> np.ndarray:
    """z0 at the first vertex to z1 at the last, linear in 2-D length along the line."""
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    return z0 + (z1 - z0) * (s / s[-1] if s[-1] > 0 else np.zeros_like(s))


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def _bool(v: Any) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    return str(v).strip().lower() in ("1", "true", "yes", "y")


def _label(crs) -> str:
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.name


register(GeoJSONReader())
