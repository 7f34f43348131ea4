"""CityJSON 1.0 / 1.1 / 2.0 and CityJSONSeq (``.city.jsonl``) reader: buildings (with their parts) and tunnels.

* The vertices are dequantised (``transform``), checked and reprojected into the city CRS once, as one
  (n, 3) array; every geometry then indexes that array.
* A Building and its BuildingParts become one :class:`~cim.model.Building` (``parts`` lists the part ids,
  each surface says which part carries it); every LOD is kept in ``lods``, the highest for ``surfaces``.
* Footprint: the union of the ground surfaces (semantic, or facing down where there are no semantics),
  else of the projection of every non-vertical surface; ground = the lowest vertex, roof = the highest.
  The height comes from the geometry; a ``measuredHeight`` attribute stays in ``attributes``.
* Tunnel / TunnelPart become an :class:`~cim.model.UndergroundStructure` (kind tunnel, footprint prism).
* Other CityObject types are skipped with one warning counting them per type.

When the importer asks for encoded features (``ImportContext.encode``), buildings go through the array path
(:mod:`cim.io._cityjson_fast`) BATCH at a time, and a CityJSONSeq is read BATCH lines at a time (memory follows
the batch); anything unusual in a batch sends it through the object-by-object path below, which names the fault.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..encoded import Encoded
from ..model import StructureKind
from ._cityjson_fast import encode_buildings, encode_model, object_attributes
from ._seq_pool import SeqPool, WorkerFailed, auto_jobs, pack
from ._surfaces import (
    UNKNOWN,
    Component,
    Geom,
    Polys,
    classify,
    clean,
    derive,
    int_in,
    make_building,
    make_structure,
    pieces_warning,
    semantic_code,
    summarise_skipped,
    use_from_function,
)
from .base import ImportContext, ImportError_, ImportResult
from .buildings import implausible_warning, plausible_attribute, skip_or_raise
from .cityjson_out import from_cim_object
from .registry import register
from .reproject import datum_warning, resolve_crs, to_city

_KINDS = ("Solid", "CompositeSolid", "MultiSolid", "MultiSurface", "CompositeSurface")
_BUILDING = {"Building", "BuildingPart"}
_TUNNEL = {"Tunnel", "TunnelPart"}
_SNIFF = re.compile(rb'"type"\s*:\s*"CityJSON(Feature)?"')
BATCH = 250  # buildings (CityJSONSeq lines) per batch of the array path (cim.io._cityjson_fast)
_HEADER_MAX = 1 << 20  # bytes: a CityJSONSeq header line longer than this is read as a whole file
_YEAR_KEYS = ("yearOfConstruction", "oorspronkelijkbouwjaar", "oorspronkelijk_bouwjaar")


class _Source:
    """The objects of one file (or of every feature of a CityJSONSeq) and the vertices they index."""

    def __init__(self) -> None:
        self.objects: dict[str, dict] = {}
        self.base: dict[str, int] = {}  # object id -> offset of its feature's vertices
        self.count: dict[str, int] = {}  # object id -> number of vertices of its feature
        self.line: dict[str, int] = {}  # object id -> line (CityJSONSeq)
        self.blocks: list[np.ndarray] = []
        self.nverts = 0

    def add(self, objects: dict, verts: np.ndarray, line: int | None, file: str) -> None:
        for oid, obj in objects.items():
            if not isinstance(obj, dict):
                raise ImportError_(
                    f"The CityObject {oid!r} is not a JSON object.", file=file, feature=str(oid), line=line
                )
            if oid in self.objects:
                raise ImportError_(f"The CityObject id {oid!r} occurs twice.", file=file, feature=str(oid), line=line)
            self.objects[oid] = obj
            self.base[oid] = self.nverts
            self.count[oid] = len(verts)
            if line is not None:
                self.line[oid] = line
        self.blocks.append(verts)
        self.nverts += len(verts)


def _loads(data: bytes | str, file: str, line: int | None = None) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:  # the standard library reads what orjson refuses (1e999 = inf) and gives the line of a fault
        return json.loads(data)
    except json.JSONDecodeError as exc:
        where = line if line is not None else exc.lineno
        raise ImportError_(
            f"Invalid JSON: {exc.msg} (line {where}, column {exc.colno}).", file=file, line=where, column=exc.colno
        ) from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ImportError_(f"Invalid JSON: {exc}.", file=file, line=line) from None


def _vertices(raw: Any, transform: dict | None, file: str, line: int | None, feature: str | None) -> np.ndarray:
    if not isinstance(raw, list):
        raise ImportError_(
            f"'vertices' must be an array of [x, y, z] arrays, not {type(raw).__name__}.",
            file=file,
            line=line,
            feature=feature,
        )
    if not raw:
        return np.zeros((0, 3))
    try:
        v = np.asarray(raw, dtype=np.float64)
    except (ValueError, TypeError):
        bad = next(
            (
                k
                for k, v in enumerate(raw)
                if not (
                    isinstance(v, list)
                    and len(v) == 3
                    and all(isinstance(c, int | float) and not isinstance(c, bool) for c in v)
                )
            ),
            None,
        )
        raise ImportError_(
            "'vertices' must be an array of [x, y, z] number arrays"
            + (f"; vertex {bad} is {raw[bad]!r}." if bad is not None else "."),
            file=file,
            line=line,
            feature=feature,
            vertex=bad,
        ) from None
    if v.ndim != 2 or v.shape[1] != 3:
        raise ImportError_(
            f"'vertices' must be an array of [x, y, z] arrays (got shape {v.shape}).",
            file=file,
            line=line,
            feature=feature,
        )
    if transform is not None:
        v = v * transform["scale"] + transform["translate"]
    return v


def _vertex_blocks(raws: list[Any], transform: dict | None) -> list[np.ndarray] | None:
    """The vertices of many CityJSONFeatures with one array conversion, as ``_vertices`` gives them one by
    one; None where any is not a plain non-empty list of [x, y, z] numbers (then ``_vertices`` says which)."""
    if not all(isinstance(r, list) and r for r in raws):
        return None
    lens = [len(r) for r in raws]
    try:
        v = np.asarray(list(chain.from_iterable(raws)), dtype=np.float64)
    except (ValueError, TypeError):
        return None
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] != sum(lens):
        return None
    if transform is not None:
        v = v * transform["scale"] + transform["translate"]
    return np.split(v, np.cumsum(lens)[:-1])


def _transform(doc: dict, file: str) -> dict | None:
    t = doc.get("transform")
    if t is None:
        return None
    try:
        scale = np.asarray(t["scale"], dtype=float).reshape(3)
        translate = np.asarray(t["translate"], dtype=float).reshape(3)
    except (KeyError, TypeError, ValueError):
        raise ImportError_("'transform' needs 'scale' and 'translate', each 3 numbers.", file=file) from None
    if not (np.isfinite(scale).all() and np.isfinite(translate).all()):
        raise ImportError_("'transform' has non-finite numbers.", file=file)
    return {"scale": scale, "translate": translate}


def _declared_crs(doc: dict) -> str | None:
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        return None
    rs = meta.get("referenceSystem")
    if isinstance(rs, dict):  # not in the spec, but seen: {"type": "name", "properties": {"name": ...}}
        rs = (rs.get("properties") or {}).get("name") or rs.get("name")
    return rs if isinstance(rs, str) and rs.strip() else None


def _surfaces_of(geom: dict) -> tuple[list, list | None]:
    """(surfaces, semantic values per surface) of a geometry, flattened over shells and solids."""
    t = geom["type"]
    b = geom["boundaries"]
    sem = geom.get("semantics")
    vals = sem.get("values") if isinstance(sem, dict) else None
    if t in ("MultiSurface", "CompositeSurface"):
        return b, vals
    if t == "Solid":
        return [s for shell in b for s in shell], (
            None if vals is None else [v for shell in vals for v in (shell or [])]
        )
    return [s for solid in b for shell in solid for s in shell], (
        None if vals is None else [v for solid in vals for shell in (solid or []) for v in (shell or [])]
    )


class CityJSONReader:
    """CityJSON 1.1/2.0 files and CityJSONSeq (CityJSONFeature lines)."""

    name = "cityjson"
    extensions = (".city.json", ".json", ".city.jsonl", ".jsonl")
    description = "CityJSON 1.1 / 2.0 and CityJSONSeq (buildings with parts and LODs, tunnels)"

    def sniff(self, head: bytes, path: Path) -> bool:
        return _SNIFF.search(head[:8192]) is not None

    # -- parsing -----------------------------------------------------------------------------
    def _parse(self, path: Path, file: str) -> tuple[dict, _Source, bool]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImportError_(f"Cannot read the file: {exc.strerror}.", file=file) from None
        if not data.strip():
            raise ImportError_("The file is empty.", file=file)
        start = len(data) - len(data.lstrip())
        nl = data.find(b"\n", start)
        header = None
        if nl != -1 and data[nl:].strip():  # more than one line: maybe CityJSONSeq, whose first line is the header
            try:
                header = orjson.loads(data[start:nl])
            except orjson.JSONDecodeError:
                header = None
        if isinstance(header, dict) and header.get("type") == "CityJSON":
            first = data.count(b"\n", 0, start)
            return header, self._seq(header, data.splitlines(), first, file), True
        doc = _loads(data, file)
        if not isinstance(doc, dict):
            raise ImportError_("Not a CityJSON file: the top level is not a JSON object.", file=file)
        if doc.get("type") != "CityJSON":
            raise ImportError_(f"Not a CityJSON file: 'type' is {doc.get('type')!r}, not 'CityJSON'.", file=file)
        objects = doc.get("CityObjects")
        if not isinstance(objects, dict):
            what = "missing" if objects is None else f"a {type(objects).__name__}, not an object"
            raise ImportError_(f"'CityObjects' is {what}.", file=file)
        src = _Source()
        verts = _vertices(doc.get("vertices"), _transform(doc, file), file, None, None)
        src.add(objects, verts, None, file)
        return doc, src, False

    def _seq(self, header: dict, lines: list[bytes], first: int, file: str) -> _Source:
        transform = _transform(header, file)
        src = _Source()
        if isinstance(header.get("CityObjects"), dict) and header["CityObjects"]:
            src.add(
                header["CityObjects"],
                _vertices(header.get("vertices", []), transform, file, first + 1, None),
                first + 1,
                file,
            )
        for k in range(first + 1, len(lines)):
            raw = lines[k]
            if not raw.strip():
                continue
            feat = _loads(raw, file, line=k + 1)
            if not isinstance(feat, dict) or feat.get("type") != "CityJSONFeature":
                raise ImportError_("Expected a CityJSONFeature on this line.", file=file, line=k + 1)
            fid = str(feat.get("id")) if feat.get("id") is not None else None
            objects = feat.get("CityObjects")
            if not isinstance(objects, dict):
                raise ImportError_(
                    "The CityJSONFeature has no 'CityObjects' object.", file=file, line=k + 1, feature=fid
                )
            src.add(objects, _vertices(feat.get("vertices"), transform, file, k + 1, fid), k + 1, file)
        return src

    # -- reading -----------------------------------------------------------------------------
    def read(self, path: Path, ctx: ImportContext) -> ImportResult:
        file = ctx.filename or path.name
        if ctx.encode:  # a CityJSONSeq is read in batches of lines: memory follows the batch, not the file
            n_skipped = len(ctx.skipped)
            try:
                result = self._read_seq_batches(path, file, ctx)
            except (ImportError_, _Restart):  # the whole-file read below says what is wrong, as it always has
                del ctx.skipped[n_skipped:]
                result = None
            if result is not None:
                return result
        doc, src, _ = self._parse(path, file)
        declared = _declared_crs(doc)
        crs = resolve_crs(declared, ctx)
        acc = _Acc()
        self._read_source(src, crs, file, ctx, acc, (0.0, 1.0))
        return acc.result(self.name, declared or ctx.crs, datum_warning(crs, ctx.city), ctx)

    def _read_seq_batches(self, path: Path, file: str, ctx: ImportContext) -> ImportResult | None:
        """A CityJSONSeq read BATCH features at a time (None when the file is not one, or its header holds
        objects); raises _Restart where a batch refers to objects outside it."""
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError:
            return None
        with fh:
            size = max(path.stat().st_size, 1)
            k, head = 0, b""
            while True:  # the first line that is not blank: a sequence's header is short
                head = fh.readline(_HEADER_MAX)
                if not head:
                    return None
                if not head.endswith(b"\n"):  # a long first line (a CityJSON document on one line) or the last
                    return None
                k += 1
                if head.strip():
                    break
            try:
                header = orjson.loads(head)
            except orjson.JSONDecodeError:
                return None
            if not (isinstance(header, dict) and header.get("type") == "CityJSON") or header.get("CityObjects"):
                return None
            nxt, skipped_blank = b"", 0
            for nxt in fh:
                if nxt.strip():
                    break
                skipped_blank += 1
            if not nxt.strip():  # one line only: a CityJSON document, not a sequence
                return None
            k += skipped_blank
            transform = _transform(header, file)
            declared = _declared_crs(header)
            crs = resolve_crs(declared, ctx)
            acc = _Acc()
            seen: set[str] = set()

            batches = _line_batches(nxt, fh, k, size)
            jobs = auto_jobs(size) if ctx.jobs is None else ctx.jobs
            if not (jobs > 1 and self._seq_pooled(batches, jobs, transform, seen, crs, file, ctx, acc)):
                for batch, upto in batches:
                    self._seq_batch(batch, transform, seen, crs, file, ctx, acc, upto)
        return acc.result(self.name, declared or ctx.crs, datum_warning(crs, ctx.city), ctx)

    @staticmethod
    def _seq_pooled(
        batches: Iterator[tuple[list[tuple[int, bytes]], float]],
        jobs: int,
        transform: dict | None,
        seen: set[str],
        crs: Any,
        file: str,
        ctx: ImportContext,
        acc: _Acc,
    ) -> bool:
        """The batches read by ``jobs`` workers, this process one of them (:mod:`cim.io._seq_pool`), merged in order
        into ``acc``; False (nothing read) where no worker process starts; raises _Restart where an id repeats
        across batches or a worker fails (the file is then read whole)."""
        shared = replace(ctx, progress=None, terrain=None, store=None, nodes={}, skipped=[], resolved_crs=None)
        try:
            pool = SeqPool(jobs, (shared, transform, crs, file), local=work_batch)
        except OSError:
            return False
        with pool:
            try:
                for ids, part, skipped, upto in pool.map((b, upto) for b, upto in batches):
                    if not seen.isdisjoint(ids):
                        raise _Restart
                    seen.update(ids)
                    acc.merge(part)
                    ctx.skipped += skipped
                    acc.progress = upto
                    ctx.report(upto)
            except WorkerFailed:
                raise _Restart from None
        peaks = [k for k in pool.peak_kib if k is not None]
        acc.info["workers"] = {  # this process is one of the jobs; the peak memory of the others, summed
            "jobs": jobs,
            "processes": len(pool.procs),
            "peak_rss_mib": round(sum(peaks) / 1024, 1) if peaks else None,
        }
        return True

    def _seq_batch(
        self,
        batch: list[tuple[int, bytes]],
        transform: dict | None,
        seen: set[str],
        crs: Any,
        file: str,
        ctx: ImportContext,
        acc: _Acc,
        upto: float,
    ) -> None:
        src = _Source()
        feats = []
        for line, raw in batch:
            feat = _loads(raw, file, line=line)
            if not isinstance(feat, dict) or feat.get("type") != "CityJSONFeature":
                raise ImportError_("Expected a CityJSONFeature on this line.", file=file, line=line)
            objects = feat.get("CityObjects")
            if not isinstance(objects, dict):
                fid = str(feat.get("id")) if feat.get("id") is not None else None
                raise ImportError_(
                    "The CityJSONFeature has no 'CityObjects' object.", file=file, line=line, feature=fid
                )
            if not seen.isdisjoint(objects):
                raise _Restart
            seen.update(objects)
            feats.append(feat)
        blocks: list[np.ndarray | None] = list(_vertex_blocks([f.get("vertices") for f in feats], transform) or [])
        for (line, _), feat, verts in zip(batch, feats, blocks or [None] * len(feats), strict=True):
            if verts is None:
                fid = str(feat.get("id")) if feat.get("id") is not None else None
                verts = _vertices(feat.get("vertices"), transform, file, line, fid)
            src.add(feat["CityObjects"], verts, line, file)
        objs = src.objects
        for o in objs.values():  # parts and parents must be in the batch, as they are in one feature
            for key in ("parents", "children"):
                refs = o.get(key)
                if refs and not (isinstance(refs, list) and all(isinstance(r, str) and r in objs for r in refs)):
                    raise _Restart
        self._read_source(src, crs, file, ctx, acc, (acc.progress, upto))
        acc.progress = upto

    def _read_source(
        self, src: _Source, crs: Any, file: str, ctx: ImportContext, acc: _Acc, span: tuple[float, float]
    ) -> None:
        """The objects of ``src`` (a file, or a batch of a CityJSONSeq's lines) into ``acc``."""
        raw = np.concatenate(src.blocks) if src.blocks else np.zeros((0, 3))
        finite_in = np.isfinite(raw).all(axis=1)
        xyz = to_city(raw, crs, ctx.city) if len(raw) else raw
        finite_out = np.isfinite(xyz).all(axis=1)
        lo, hi = span
        ctx.report(lo + 0.2 * (hi - lo))

        objs = src.objects
        buildings: list[str] = []
        tunnels: list[str] = []
        for oid, obj in objs.items():
            t = obj.get("type")
            if isinstance(obj.get("attributes"), dict) and "cim:collection" in obj["attributes"]:
                base = src.base[oid]
                try:
                    acc.ours.append(from_cim_object(oid, obj, xyz[base : base + src.count[oid]]))
                except (IndexError, KeyError, TypeError, ValueError) as exc:
                    raise ImportError_(
                        f"The object {oid!r} written by this service cannot be restored: {exc}",
                        file=file,
                        feature=oid,
                        line=src.line.get(oid),
                    ) from None
                continue
            if t == "Building" or t == "Tunnel":
                (buildings if t == "Building" else tunnels).append(oid)
            elif t in ("BuildingPart", "TunnelPart"):
                root = self._root(oid, objs)
                if root is None:  # an orphan part stands on its own
                    (buildings if t == "BuildingPart" else tunnels).append(oid)
                    acc.orphans.append(oid)
            else:
                acc.skipped[str(t)] += 1

        state = _State(file, xyz, finite_in, finite_out, src)  # type: ignore[arg-type]
        total = max(len(buildings) + len(tunnels), 1)
        kids = self._children(objs)
        done = 0
        for start in range(0, len(buildings), BATCH):
            chunk = buildings[start : start + BATCH]
            if ctx.encode:
                n_notes, n_skipped = len(acc.notes), len(ctx.skipped)
                try:
                    feats, pcs, emp, dropped, inst = encode_buildings(
                        chunk, objs, kids, state, self, file, ctx, acc.notes
                    )
                except ImportError_:
                    raise  # a building's own fault, as the object-by-object path raises it
                except Exception:  # noqa: BLE001 - Fallback, or what the array path did not foresee: the slow path reads it
                    del acc.notes[n_notes:], ctx.skipped[n_skipped:]
                else:
                    acc.buildings += feats
                    acc.pieces += pcs
                    acc.empty += emp
                    state.dropped += dropped
                    state.instances += inst
                    done += len(chunk)
                    ctx.report(lo + (hi - lo) * (0.2 + 0.8 * done / total))
                    continue
            self._one_by_one(chunk, objs, kids, state, file, ctx, acc.notes, acc.buildings, acc.pieces, acc.empty)
            done += len(chunk)
            ctx.report(lo + (hi - lo) * (0.2 + 0.8 * done / total))
        self._one_by_one(
            tunnels, objs, kids, state, file, ctx, acc.notes, acc.tunnels, acc.tunnel_pieces, acc.tunnel_empty
        )
        acc.dropped += state.dropped
        acc.instances += state.instances
        ctx.report(hi)

    def _one_by_one(
        self,
        ids: list[str],
        objs: dict[str, dict],
        kids: dict[str, list[str]],
        state: _State,
        file: str,
        ctx: ImportContext,
        warnings: list[str],
        features: list,
        pieces: list[tuple[str, int, float]],
        empty: list[str],
    ) -> None:
        """Buildings (tunnels) ``ids`` read one by one into models (appended to ``features``)."""
        for oid in ids:
            obj = objs[oid]
            parts = self._descendants(oid, kids)
            comps = [state.component(oid, obj, None)] + [state.component(p, objs[p], p) for p in parts]
            if not any(c.geoms for c in comps):
                empty.append(oid)
                continue
            is_tunnel = obj.get("type") in _TUNNEL
            d = derive(oid, comps, file=file, what="tunnel" if is_tunnel else "building")
            if d.pieces > 1:
                pieces.append((oid, d.pieces, d.lost_area))
            attrs, name = object_attributes(obj, parts, objs)
            if is_tunnel:
                features.append(
                    make_structure(oid, d, file=file, attributes=attrs, name=name, kind=StructureKind.tunnel)
                )
                continue
            try:
                kw = self._building_kwargs(oid, d, attrs, parts, [objs[p] for p in parts], name, file, ctx, warnings)
                b = make_building(oid, d, **kw)
            except ImportError_ as exc:
                skip_or_raise(ctx, exc)
                continue
            features.append(encode_model(b) if ctx.encode else b)

    @staticmethod
    def _root(oid: str, objs: dict[str, dict]) -> str | None:
        """The Building (Tunnel) a part belongs to, following ``parents``; None for an orphan."""
        seen = {oid}
        cur = oid
        while True:
            parents = objs[cur].get("parents") or []
            parent = next((p for p in parents if p in objs), None)
            if parent is None or parent in seen:
                return None
            t = objs[parent].get("type")
            if t in ("Building", "Tunnel"):
                return parent
            if t not in ("BuildingPart", "TunnelPart"):
                return None
            seen.add(parent)
            cur = parent

    @staticmethod
    def _children(objs: dict[str, dict]) -> dict[str, list[str]]:
        """Parent id -> ids of its BuildingParts / TunnelParts, from ``children`` and ``parents`` alike."""
        kids: dict[str, list[str]] = {}
        parts = ("BuildingPart", "TunnelPart")
        for oid, o in objs.items():  # the parent's own order first
            for c in o.get("children") or []:
                if c in objs and objs[c].get("type") in parts:
                    kids.setdefault(oid, []).append(c)
        for oid, o in objs.items():
            if o.get("type") in parts:
                for p in o.get("parents") or []:
                    if p in objs and oid not in kids.get(p, []):
                        kids.setdefault(p, []).append(oid)
        return kids

    @staticmethod
    def _descendants(oid: str, kids: dict[str, list[str]]) -> list[str]:
        """Ids of the parts under ``oid``, depth first."""
        out: list[str] = []
        stack, seen = [oid], {oid}
        while stack:
            for c in kids.get(stack.pop(), []):
                if c not in seen:
                    seen.add(c)
                    out.append(c)
                    stack.append(c)
        return out

    @staticmethod
    def _building_kwargs(
        oid: str,
        d,
        attrs: dict,
        parts: list[str],
        part_objs: list[dict],
        name: str | None,
        file: str,
        ctx: ImportContext | None = None,
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        """The keyword arguments of ``make_building(oid, d, **kw)`` for a CityJSON building."""

        def first_int(key: str, lo: int, hi: int) -> int | None:
            vals = [
                int_in(a.get(key), lo, hi)
                for a in [attrs] + [o.get("attributes") or {} for o in part_objs]
                if isinstance(a, dict)
            ]
            vals = [v for v in vals if v is not None]
            return (vals[0] if key.startswith("year") else max(vals)) if vals else None  # type: ignore[type-var]

        year = next((y for y in (first_int(k, 1000, 2100) for k in _YEAR_KEYS) if y is not None), None)
        height = None
        source = None
        if d.roof - d.ground <= 0:  # a flat (LOD0) geometry: fall back on a measured height
            mh = attrs.get("measuredHeight")
            if mh is not None:
                height = plausible_attribute(mh, None)
                if height is not None:
                    source = "attribute"
                elif warnings is not None:
                    warnings.append(implausible_warning("measuredHeight", mh, oid, "floors or --default-height"))
        return dict(
            file=file,
            attributes=attrs,
            name=name,
            parts=parts,
            height=height,
            height_source=source,
            floors_above=first_int("storeysAboveGround", 0, 250),
            floors_below=first_int("storeysBelowGround", 0, 20),
            year_built=year,
            use=use_from_function(attrs.get("function")),
            ctx=ctx,
        )


def work_batch(
    shared: tuple[ImportContext, dict | None, Any, str], task: tuple[list[tuple[int, bytes]], float]
) -> tuple[list[str], _Acc, list[dict[str, str]], float]:
    """A worker's batch (:mod:`cim.io._seq_pool`): (its object ids, what it adds up to, the features it skipped,
    how far into the file it ends), the encoded documents packed."""
    ctx, transform, crs, file = shared
    batch, upto = task
    ctx.skipped = []
    acc, seen = _Acc(), set[str]()
    CityJSONReader()._seq_batch(batch, transform, seen, crs, file, ctx, acc, upto)
    for f in acc.buildings:
        if isinstance(f, Encoded) and not f.packed:
            f.doc, f.packed = pack(f.doc), True
    return list(seen), acc, ctx.skipped, upto


class _Restart(Exception):  # noqa: N818 - a signal, not an error
    """A CityJSONSeq that cannot be read batch by batch (an object refers to one in another batch, or an id
    repeats): it is read whole."""


def _line_batches(first: bytes, fh: Any, k: int, size: int) -> Iterator[tuple[list[tuple[int, bytes]], float]]:
    """The lines of a CityJSONSeq after its header (``first``, then the rest of ``fh``; line numbers after ``k``),
    BATCH non-blank lines at a time as (line number, bytes), each batch with how far into the file it ends."""
    batch: list[tuple[int, bytes]] = []
    line = k
    for raw in _chain_first(first, fh):
        line += 1
        if not raw.strip():
            continue
        batch.append((line, raw))
        if len(batch) >= BATCH:
            yield batch, fh.tell() / size
            batch = []
    if batch:
        yield batch, 1.0


def _chain_first(first: bytes, rest: Any) -> Any:
    if first:
        yield first
    yield from rest


class _Acc:
    """What the sources of one file add up to, in the order the whole-file read gives it."""

    def __init__(self) -> None:
        self.ours: list = []
        self.buildings: list = []
        self.tunnels: list = []
        self.pieces: list[tuple[str, int, float]] = []
        self.tunnel_pieces: list[tuple[str, int, float]] = []
        self.empty: list[str] = []
        self.tunnel_empty: list[str] = []
        self.orphans: list[str] = []
        self.skipped: Counter[str] = Counter()
        self.notes: list[str] = []  # warnings about single objects, in object order
        self.dropped = 0
        self.instances = 0
        self.progress = 0.0
        self.info: dict[str, Any] = {}  # figures for the import report (worker processes)

    def merge(self, other: _Acc) -> None:
        """Add what a later batch adds up to (read by a worker process)."""
        for name in ("ours", "buildings", "tunnels", "pieces", "tunnel_pieces", "empty", "tunnel_empty", "orphans"):
            getattr(self, name).extend(getattr(other, name))
        self.notes += other.notes
        self.skipped.update(other.skipped)
        self.dropped += other.dropped
        self.instances += other.instances

    def result(self, fmt: str, source_crs: str | None, datum: str | None, ctx: ImportContext) -> ImportResult:
        warnings: list[str] = [] if datum is None else [datum]
        orphans = self.orphans
        if orphans:
            warnings.append(
                f"{len(orphans)} parts have no parent Building or Tunnel in the file and were imported "
                f"on their own: {', '.join(orphans[:10])}" + (" ..." if len(orphans) > 10 else "")
            )
        warnings += self.notes
        empty = self.empty + self.tunnel_empty
        if empty:
            warnings.append(
                f"{len(empty)} objects without geometry were skipped: {', '.join(empty[:10])}"
                + (" ..." if len(empty) > 10 else "")
            )
        if self.dropped:
            warnings.append(f"{self.dropped} degenerate polygons (fewer than 3 vertices or no area) were dropped")
        if self.instances:
            warnings.append(f"{self.instances} GeometryInstance geometries (templates) were skipped")
        if (w := pieces_warning(self.pieces + self.tunnel_pieces)) is not None:
            warnings.append(w)
        if (w := summarise_skipped(dict(self.skipped))) is not None:
            warnings.append(w)
        ctx.report(1.0)
        return ImportResult(
            features=self.ours + self.buildings + self.tunnels,
            source_crs=source_crs,
            warnings=warnings,
            format=fmt,
            info=self.info,
        )


class _State:
    """Per-read state: the reprojected vertices and the counters of what was dropped."""

    def __init__(self, file: str, xyz: np.ndarray, finite_in: np.ndarray, finite_out: np.ndarray, src: _Source) -> None:
        self.file, self.xyz, self.finite_in, self.finite_out, self.src = file, xyz, finite_in, finite_out, src
        self.dropped = 0
        self.instances = 0

    def error(self, msg: str, oid: str, **where: Any) -> ImportError_:
        return ImportError_(msg, file=self.file, feature=oid, line=self.src.line.get(oid), **where)

    def component(self, oid: str, obj: dict, part: str | None) -> Component:
        comp = Component(id=oid, part=part)
        geoms = obj.get("geometry") or []
        if not isinstance(geoms, list):
            raise self.error(f"The 'geometry' of {oid!r} is not an array.", oid)
        for g in geoms:
            if not isinstance(g, dict):
                raise self.error(f"A geometry of {oid!r} is not a JSON object.", oid)
            t = g.get("type")
            if t == "GeometryInstance":
                self.instances += 1
                continue
            if t not in _KINDS:
                raise self.error(
                    f"The geometry type {t!r} of {oid!r} is not supported (use one of {', '.join(_KINDS)}).", oid
                )
            lod = g.get("lod")
            lod = str(lod) if lod is not None else "1"
            polys = self._polys(oid, g)
            polys, dropped = clean(polys)
            self.dropped += dropped
            if polys.n == 0:
                raise self.error(f"The LOD {lod} {t} of {oid!r} has no valid surface.", oid, lod=lod)
            comp.geoms.append(Geom(lod=lod, kind=t, polys=classify(polys), part=part))
        return comp

    def _polys(self, oid: str, g: dict) -> Polys:
        try:
            surfaces, vals = _surfaces_of(g)
            if vals is not None and len(vals) != len(surfaces):
                vals = None  # semantics that do not match the surfaces are ignored
            if not all(surfaces):  # a surface with no ring is nothing
                keep = [bool(s) for s in surfaces]
                vals = None if vals is None else [v for v, k in zip(vals, keep, strict=True) if k]
                surfaces = [s for s in surfaces if s]
            rings = [r for s in surfaces for r in s]
            ring_len = np.fromiter(map(len, rings), dtype=np.int64, count=len(rings))
            nrings = np.fromiter(map(len, surfaces), dtype=np.int64, count=len(surfaces))
            idx = np.fromiter(chain.from_iterable(rings), dtype=np.int64, count=int(ring_len.sum()))
        except (KeyError, TypeError, ValueError, OverflowError):
            raise self.error(
                f"The boundaries of a {g.get('type')} geometry of {oid!r} are malformed (expected "
                "nested arrays of vertex indices).",
                oid,
            ) from None
        if len(idx):
            n = self.src.count[oid]
            lo, hi = int(idx.min()), int(idx.max())
            if lo < 0 or hi >= n:
                bad = hi if hi >= n else lo
                raise self.error(
                    f"The object {oid!r} refers to vertex {bad}, but there are only {n} vertices "
                    "(indices 0 to {}).".format(n - 1),
                    oid,
                    vertex=bad,
                )
            idx = idx + self.src.base[oid]
            if not self.finite_in[idx].all():
                bad = int(idx[~self.finite_in[idx]][0]) - self.src.base[oid]
                raise self.error(
                    f"The object {oid!r} uses vertex {bad}, whose coordinates are not finite.", oid, vertex=bad
                )
            if not self.finite_out[idx].all():
                bad = int(idx[~self.finite_out[idx]][0]) - self.src.base[oid]
                raise self.error(f"Vertex {bad} of {oid!r} cannot be transformed into the city CRS.", oid, vertex=bad)
        types = self._types(g, vals, len(surfaces))
        return Polys.from_lengths(self.xyz[idx], ring_len, nrings, types)

    @staticmethod
    def _types(g: dict, vals: list | None, n: int) -> np.ndarray:
        sem = g.get("semantics")
        entries = sem.get("surfaces") if isinstance(sem, dict) else None
        if not isinstance(entries, list) or vals is None or len(vals) != n:
            return np.full(n, UNKNOWN, np.int8)
        codes = [semantic_code(e.get("type")) if isinstance(e, dict) else UNKNOWN for e in entries]
        return np.array(
            [codes[v] if isinstance(v, int) and 0 <= v < len(codes) else UNKNOWN for v in vals], dtype=np.int8
        )


register(CityJSONReader())
