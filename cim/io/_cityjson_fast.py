"""The batch path of the CityJSON reader: many buildings at once, as arrays, encoded for the store.

:func:`encode_buildings` does for a batch of Building ids what the object-by-object path
(``CityJSONReader._one_by_one``: ``_State.component``, :func:`~cim.io._surfaces.derive`, ``make_building``)
does for each, with one set of numpy / shapely calls over every ring of the batch: vertex indices
checked and gathered at once, Newell normals, cleaning and semantic classification of all polygons,
the footprint polygons built and validated by shapely's vectorised functions, unions only where a
building has several ground polygons.  It returns :class:`~cim.encoded.Encoded` features whose
documents are byte for byte those the pydantic models would give (tests/io/test_import_fast.py); the
checks pydantic would make (id length, finite and positive heights, footprint rings) are made on the
values, and a building that fails them is validated by pydantic so that the error is the same.

Anything unusual in a batch (a malformed geometry, a bad vertex index, a geometry left without a
surface, a footprint that does not project) raises :class:`Fallback` before any state is changed: the
caller then reads that batch object by object, which raises the error naming the object.
"""

from __future__ import annotations

import math
from itertools import chain
from typing import Any

import numpy as np
import orjson
import shapely

from ..encoded import Encoded
from ..model import Building
from ._surfaces import (
    _HORIZONTAL,
    _MIN_HOLE,
    _SURFACE_TYPE,
    _VERTICAL,
    GROUND,
    MIN_AREA,
    ROOF,
    UNKNOWN,
    WALL,
    Derived,
    _checked,
    _lodf,
    _newell,
    building_fields,
    semantic_code,
)
from .base import ImportContext, ImportError_
from .buildings import skip_or_raise

_KINDS = ("Solid", "CompositeSolid", "MultiSolid", "MultiSurface", "CompositeSurface")
_TYPE_NAME = {code: t.value for code, t in _SURFACE_TYPE.items()}


class Fallback(Exception):  # noqa: N818 - a signal, not an error
    """The batch holds something the batch path leaves to the object-by-object path."""


def _offsets(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def object_attributes(obj: dict, parts: list[str], objs: dict) -> tuple[dict[str, Any], str | None]:
    """A city object's attributes (a copy), with its parts' attributes under ``part_attributes``, and its
    ``name`` attribute where it is a string."""
    attrs = dict(obj.get("attributes") or {}) if isinstance(obj.get("attributes"), dict) else {}
    part_attrs = {
        p: objs[p]["attributes"] for p in parts if isinstance(objs[p].get("attributes"), dict) and objs[p]["attributes"]
    }
    if part_attrs:
        attrs["part_attributes"] = part_attrs
    return attrs, attrs.get("name") if isinstance(attrs.get("name"), str) else None


def encode_model(b: Building) -> Encoded:
    """An Encoded of a validated Building (what ``prepare_rows`` would make of it)."""
    from ..collections import get_spec

    spec = get_spec("buildings")
    xy = np.asarray([p for ring in b.footprint for p in ring], dtype=float).reshape(-1, 2)
    return Encoded(
        "buildings",
        b.id,
        orjson.dumps(b.model_dump(mode="json", exclude_none=True)),
        spec.shape(b),
        spec.bounds(b),
        xy,
        (b.ground_elevation, b.roof_elevation or b.ground_elevation),
    )


def encode_buildings(  # noqa: C901 - one pass over the batch, in the order of the slow path
    roots: list[str],
    objs: dict[str, dict],
    kids: dict[str, list[str]],
    state: Any,
    reader: Any,
    file: str,
    ctx: ImportContext,
    warnings: list[str],
) -> tuple[list[Any], list[tuple[str, int, float]], list[str], int, int]:
    """Buildings ``roots`` (Building or orphan BuildingPart ids) of one CityJSON source, encoded.

    ``state`` is the reader's ``_State`` (reprojected vertices (n, 3), finiteness, per-object vertex
    offsets).  Returns (features, pieces, empty ids, dropped polygons, skipped GeometryInstances);
    raises :class:`Fallback` (nothing changed) for the object-by-object path to take the batch.
    """
    src = state.src
    # -- gather: every surface of every geometry of every component, in the slow path's order --------
    rings: list = []
    surf_nr: list[int] = []  # rings per surface
    sem_inputs: list[tuple[dict, list | None, int]] = []  # per geometry: (geometry, semantic values, surfaces)
    geo_comp: list[int] = []
    geo_lod: list[str] = []
    geo_kind: list[str] = []
    geo_base: list[int] = []
    geo_count: list[int] = []
    geo_nsurf: list[int] = []
    comp_part: list[str | None] = []
    comp_geoms: list[list[int]] = []
    bld: list[tuple[str, list[int], list[str]]] = []  # (id, its components with geometry, parts)
    empty: list[str] = []
    instances = 0
    for oid in roots:
        parts = reader._descendants(oid, kids)
        comps: list[int] = []
        for cid, part in [(oid, None), *((p, p) for p in parts)]:
            geoms = objs[cid].get("geometry") or []
            if not isinstance(geoms, list):
                raise Fallback
            mine: list[int] = []
            for g in geoms:
                if not isinstance(g, dict):
                    raise Fallback
                t = g.get("type")
                if t == "GeometryInstance":
                    instances += 1
                    continue
                if t not in _KINDS:
                    raise Fallback
                lod = g.get("lod")
                try:
                    surfs, vals = _surfaces_of(g)
                    if vals is not None and len(vals) != len(surfs):
                        vals = None
                    if not all(surfs):
                        keep = [bool(s) for s in surfs]
                        vals = None if vals is None else [v for v, k in zip(vals, keep, strict=True) if k]
                        surfs = [s for s in surfs if s]
                    nr = list(map(len, surfs))
                except (KeyError, TypeError, ValueError, OverflowError):
                    raise Fallback from None
                if not surfs:
                    raise Fallback
                rings.extend(chain.from_iterable(surfs))
                surf_nr.extend(nr)
                sem_inputs.append((g, vals, len(surfs)))
                mine.append(len(geo_comp))
                geo_comp.append(len(comp_part))
                geo_lod.append(str(lod) if lod is not None else "1")
                geo_kind.append(t)
                geo_base.append(src.base[cid])
                geo_count.append(src.count[cid])
                geo_nsurf.append(len(surfs))
            if mine:
                comps.append(len(comp_part))
            comp_part.append(part)
            comp_geoms.append(mine)
        if not comps:
            empty.append(oid)
            continue
        bld.append((oid, comps, parts))
    if not bld:
        return [], [], empty, 0, instances

    # -- vertex indices, checked and gathered at once -------------------------------------------------
    try:
        ring_len = np.fromiter(map(len, rings), dtype=np.int64, count=len(rings))
        idx = np.fromiter(chain.from_iterable(rings), dtype=np.int64, count=int(ring_len.sum()))
    except (KeyError, TypeError, ValueError, OverflowError):
        raise Fallback from None
    G = len(geo_comp)
    surf_nr_a = np.asarray(surf_nr, dtype=np.int64)
    surf_geom = np.repeat(np.arange(G), geo_nsurf)
    ring_geom = np.repeat(surf_geom, surf_nr_a)
    vert_geom = np.repeat(ring_geom, ring_len)
    count = np.asarray(geo_count, dtype=np.int64)[vert_geom]
    if len(idx) and ((idx < 0) | (idx >= count)).any():
        raise Fallback
    idx = idx + np.asarray(geo_base, dtype=np.int64)[vert_geom]
    if not (state.finite_in[idx].all() and state.finite_out[idx].all()):
        raise Fallback
    xyz = state.xyz[idx]
    types = _semantic_types(sem_inputs, state)

    # -- clean: degenerate exteriors and short holes dropped (cim.io._surfaces.clean) -----------------
    ring_off = _offsets(ring_len)
    poly_off = _offsets(surf_nr_a)
    first = poly_off[:-1]
    normals = _newell(xyz, ring_off[first], ring_off[first + 1])
    good = np.linalg.norm(normals, axis=1) / 2 > MIN_AREA
    ring_keep = np.repeat(good, surf_nr_a) & (ring_len >= 3)
    nr_new = np.add.reduceat(ring_keep.astype(np.int64), first) if len(ring_len) else surf_nr_a
    kept_per_geom = np.bincount(surf_geom[good], minlength=G)
    if (kept_per_geom == 0).any():
        raise Fallback  # a geometry without a valid surface: the slow path names it
    dropped = int((~good).sum())
    vkeep = np.repeat(ring_keep, ring_len)
    xyz = xyz[vkeep]
    rl = ring_len[ring_keep]
    nr = nr_new[good]
    types = types[good]
    normals = normals[good]
    pgeom = surf_geom[good]
    # -- classify by the normal where there are no semantics (cim.io._surfaces.classify) ---------------
    unknown = types == UNKNOWN
    if unknown.any():
        n = normals[unknown]
        nz = n[:, 2] / np.maximum(np.linalg.norm(n, axis=1), 1e-300)
        types = types.copy()
        types[unknown] = np.where(nz < -_HORIZONTAL, GROUND, np.where(nz > _VERTICAL, ROOF, WALL)).astype(np.int8)
    ro = _offsets(rl)
    po = _offsets(nr)
    vgeom = np.repeat(np.repeat(pgeom, nr), rl)
    gstart = _offsets(np.bincount(vgeom, minlength=G))[:-1]
    zmin = np.minimum.reduceat(xyz[:, 2], gstart).tolist()
    zmax = np.maximum.reduceat(xyz[:, 2], gstart).tolist()

    # -- footprint polygons (cim.io._surfaces._footprint_shapes), all at once ---------------------------
    nzabs = np.abs(normals[:, 2])
    proj_ok = (nzabs / 2 > MIN_AREA) & (nzabs > _VERTICAL * np.linalg.norm(normals, axis=1))
    ground = types == GROUND
    has_ground = np.bincount(pgeom[ground], minlength=G) > 0
    n_ground_proj = np.bincount(pgeom[ground & proj_ok], minlength=G)
    gsel = np.zeros(G, np.int8)  # 0: not used, 1: its ground polygons, 2: all its polygons
    lodf = [_lodf(lod) for lod in geo_lod]
    hg = has_ground.tolist()
    ngp = n_ground_proj.tolist()
    for _, comps, _ in bld:
        for c in comps:
            gs = comp_geoms[c]
            lod0 = [g for g in gs if lodf[g] < 1 and hg[g]]
            if lod0:
                for g in lod0:
                    gsel[g] = 1
                continue
            ranked = sorted(gs, key=lambda g: lodf[g], reverse=True)
            for g in ranked:
                if hg[g] and ngp[g]:
                    gsel[g] = 1
                    break
            else:
                gsel[ranked[0]] = 2
    sel_g = gsel[pgeom]
    sel = proj_ok & ((sel_g == 2) | ((sel_g == 1) & ground))
    geom_bld = np.empty(len(comp_part), np.int64)
    for k, (_, comps, _) in enumerate(bld):
        for c in comps:
            geom_bld[c] = k
    sel_bld = geom_bld[np.asarray(geo_comp, dtype=np.int64)][pgeom[sel]]
    per_bld = np.bincount(sel_bld, minlength=len(bld))
    if (per_bld == 0).any():
        raise Fallback  # no surface projects to a footprint: the slow path names the building
    ring_sel = np.repeat(sel, nr)
    vsel = np.repeat(ring_sel, rl)
    rl_sel = rl[ring_sel]
    lin = shapely.linearrings(xyz[vsel][:, :2], indices=np.repeat(np.arange(len(rl_sel)), rl_sel))
    shapes = shapely.polygons(lin, indices=np.repeat(np.arange(int(sel.sum())), nr[sel]))
    bad = ~shapely.is_valid(shapes)
    if bad.any():
        shapes[bad] = shapely.make_valid(shapes[bad], method="structure", keep_collapsed=False)
    # -- union per building, then its largest piece (cim.io._surfaces.union_footprint) -----------------
    soff = _offsets(per_bld).tolist()
    unions = np.empty(len(bld), dtype=object)
    one = per_bld == 1
    unions[one] = shapes[np.asarray(soff[:-1])[one]]
    many = np.flatnonzero(~one)
    if len(many):  # one GEOS union per building, in one call: rows of a table padded with None
        width = int(per_bld[many].max())
        table = np.full((len(many), width), None, dtype=object)
        for row, k in enumerate(many.tolist()):
            table[row, : soff[k + 1] - soff[k]] = shapes[soff[k] : soff[k + 1]]
        unions[many] = shapely.union_all(table, axis=1)
    pieces_g, pidx = shapely.get_parts(unions, return_index=True)
    ok = (shapely.get_type_id(pieces_g) == 3) & ~shapely.is_empty(pieces_g)
    pieces_g, pidx = pieces_g[ok], pidx[ok]
    npieces = np.bincount(pidx, minlength=len(bld))
    if (npieces == 0).any():
        raise Fallback
    areas = shapely.area(pieces_g)
    poff = _offsets(npieces).tolist()
    big = np.empty(len(bld), dtype=object)
    n_big = np.empty(len(bld), np.int64)
    lost = [0.0] * len(bld)
    npl = npieces.tolist()
    for k in range(len(bld)):
        a = poff[k]
        if npl[k] == 1:
            big[k] = pieces_g[a]
            n_big[k] = int(areas[a] >= _MIN_HOLE)
        else:
            ar = areas[a : poff[k + 1]]
            big[k] = pieces_g[a + int(np.argmax(ar))]
            n_big[k] = int((ar >= _MIN_HOLE).sum())
            lost[k] = float(ar.sum() - ar.max())
    big = shapely.simplify(big, 1e-4, preserve_topology=True)
    shells = shapely.get_exterior_ring(big)
    holes_n = shapely.get_num_interior_rings(big)
    polys = np.empty(len(bld), dtype=object)
    plain = holes_n == 0
    polys[plain] = shapely.polygons(shells[plain])
    for k in np.flatnonzero(~plain).tolist():
        holes = [h for h in big[k].interiors if shapely.Polygon(h).area >= _MIN_HOLE]
        polys[k] = shapely.Polygon(shells[k], holes)
    polys = shapely.orient_polygons(polys)
    fp_rings = shapely.get_rings(polys)
    fp_ring_n = shapely.get_num_interior_rings(polys) + 1
    fp_xy, fp_idx = shapely.get_coordinates(fp_rings, return_index=True)
    fp_xy = np.round(fp_xy, 4)
    fp_len = np.bincount(fp_idx, minlength=len(fp_rings)).tolist()
    fp_list = fp_xy.tolist()
    fp_roff = _offsets(np.asarray(fp_len, dtype=np.int64)).tolist()

    # -- display surfaces and LOD geometries as documents (cim.io._surfaces.to_surfaces) ----------------
    coords = np.round(xyz, 4).tolist()
    rol, pol, tl = ro.tolist(), po.tolist(), types.tolist()
    goff = _offsets(np.bincount(pgeom, minlength=G)).tolist()
    ring_lists = [coords[a:b] for a, b in zip(rol[:-1], rol[1:], strict=True)]
    names = [_TYPE_NAME.get(t) for t in tl]
    rings_of = [[ring_lists[a]] if b == a + 1 else ring_lists[a:b] for a, b in zip(pol[:-1], pol[1:], strict=True)]
    surf_docs: list[dict[str, Any]] = [
        {"rings": rs} if name is None else {"type": name, "rings": rs} for name, rs in zip(names, rings_of, strict=True)
    ]
    geo_surfs: list[list[dict]] = []
    for g in range(G):
        part = comp_part[geo_comp[g]]
        out = surf_docs[goff[g] : goff[g + 1]]
        if part is not None:
            for sd in out:
                sd["part"] = part
        geo_surfs.append(out)
    # each geometry's surfaces written once; a document is put together from these bytes (the top LOD's
    # surfaces appear twice in it: in "surfaces" and in "lods")
    geo_json = [orjson.dumps(out)[1:-1] for out in geo_surfs]
    lod_json = []
    for g in range(G):
        part = comp_part[geo_comp[g]]
        head = orjson.dumps({"lod": geo_lod[g], "kind": geo_kind[g]})[:-1]
        tail = b"}" if part is None else b',"part":' + orjson.dumps(part) + b"}"
        lod_json.append(head + b',"surfaces":[' + geo_json[g] + b"]" + tail)

    # -- one document per building ------------------------------------------------------------------
    features: list[Any] = []
    pieces: list[tuple[str, int, float]] = []
    fp_ring_nl = fp_ring_n.tolist()
    ring_at = 0
    enc_ids: list[str] = []
    enc_docs: list[bytes] = []
    enc_fp: list[list[list[float]]] = []  # exterior then holes, cleaned
    enc_z: list[tuple[float, float]] = []
    enc_props: list[dict[str, Any]] = []  # GeoJSON properties but "lod"
    enc_lod: list[float | None] = []  # the "lod" property (best_lod of the document), None where float() refuses
    lods_f = [_float_or_none(lod) for lod in geo_lod]
    for k, (oid, comps, parts) in enumerate(bld):
        fp = []
        for r in range(ring_at, ring_at + fp_ring_nl[k]):
            ring = fp_list[fp_roff[r] : fp_roff[r + 1] - 1]  # the closing vertex left out
            fp.append(ring)
        ring_at += fp_ring_nl[k]
        grounds, roofs = [], []
        for c in comps:
            gs = comp_geoms[c]
            upper = [g for g in gs if lodf[g] >= 1] or gs
            grounds.append(round(min(zmin[g] for g in upper), 4))
            roofs.append(round(max(zmax[g] for g in upper), 4))
        surfaces: list[dict] = []
        lods: list[dict] = []
        surf_json: list[bytes] = []
        lods_json: list[bytes] = []
        best = 0.0
        for c in comps:
            part = comp_part[c]
            by_lod: dict[str, list] = {}
            for g in comp_geoms[c]:
                s = geo_surfs[g]
                lg: dict[str, Any] = {"lod": geo_lod[g], "kind": geo_kind[g], "surfaces": s}
                if part is not None:
                    lg["part"] = part
                lods.append(lg)
                lods_json.append(lod_json[g])
                by_lod.setdefault(geo_lod[g], []).append(g)
            top = max(by_lod, key=_lodf)
            best = max(best, _lodf(top))
            for g in by_lod[top]:
                surfaces += geo_surfs[g]
                surf_json.append(geo_json[g])
        if n_big[k] > 1:
            pieces.append((oid, int(n_big[k]), lost[k]))
        d = Derived(fp, int(n_big[k]), lost[k], min(grounds), max(roofs), "geometry", surfaces, lods, best)  # type: ignore[arg-type]
        obj = objs[oid]
        attrs, name = object_attributes(obj, parts, objs)
        try:
            kw = reader._building_kwargs(oid, d, attrs, parts, [objs[p] for p in parts], name, file, ctx, warnings)
            fields = building_fields(oid, d, **kw)
            doc, ext, props = _document(fields, b",".join(surf_json), b",".join(lods_json))
            if doc is None:  # pydantic says what is wrong (and raises), as for the slow path
                features.append(encode_model(_checked(Building, oid, file, **fields)))
                continue
        except ImportError_ as exc:
            skip_or_raise(ctx, exc)
            continue
        enc_ids.append(oid)
        enc_docs.append(doc)
        enc_fp.append(ext)
        enc_z.append((fields["ground_elevation"], fields["roof_elevation"]))
        enc_props.append(props)
        best_f = [lods_f[g] for c in comps for g in comp_geoms[c]]
        enc_lod.append(None if None in best_f else max(best_f))  # type: ignore[type-var]
        features.append(len(enc_ids) - 1)  # filled in below, in order
    encoded = _encode(enc_ids, enc_docs, enc_fp, enc_z)
    _add_geojson(encoded, enc_fp, enc_props, enc_lod, ctx.city.crs_epsg)
    features = [encoded[f] if isinstance(f, int) else f for f in features]
    return features, pieces, empty, dropped, instances


def _semantic_types(inputs: list[tuple[dict, list | None, int]], state: Any) -> np.ndarray:
    """(S,) int8 semantic codes of every surface of the batch, as ``_State._types`` gives them per geometry,
    with one array lookup where every value is an integer."""
    codes: list[int] = []
    code_off: list[int] = []
    code_n: list[int] = []
    vals_all: list = []
    unknown: list[int] = []  # surfaces to leave UNKNOWN, per geometry with semantics of no use
    for g, vals, n in inputs:
        sem = g.get("semantics")
        entries = sem.get("surfaces") if isinstance(sem, dict) else None
        if not isinstance(entries, list) or vals is None or len(vals) != n:
            code_off.append(len(codes))
            code_n.append(0)
            unknown.append(n)
            vals_all.extend([-1] * n)
            continue
        code_off.append(len(codes))
        code_n.append(len(entries))
        codes.extend(semantic_code(e.get("type")) if isinstance(e, dict) else UNKNOWN for e in entries)
        unknown.append(0)
        vals_all.extend(vals)
    v = np.array(vals_all) if vals_all else np.zeros(0, np.int64)
    if v.dtype.kind != "i" or v.ndim != 1:  # None, floats, lists ...: geometry by geometry
        return np.concatenate([state._types(g, vals, n) for g, vals, n in inputs])
    geom = np.repeat(np.arange(len(inputs)), [n for _, _, n in inputs])
    ncode = np.asarray(code_n, dtype=np.int64)[geom]
    ok = (v >= 0) & (v < ncode)
    table = np.asarray(codes + [UNKNOWN], dtype=np.int8)
    at = np.where(ok, np.asarray(code_off, dtype=np.int64)[geom] + v, len(codes))
    return table[at]


def _float_or_none(lod: str) -> float | None:
    try:
        return float(lod)
    except ValueError:
        return None


# the GeoJSON properties of a Building (CollectionSpec.properties): every field but these, in the model's order
_PROPS = tuple(n for n in Building.model_fields if n not in ("id", "footprint", "surfaces", "lods"))
_PROPS_KNOWN = _PROPS == (
    *("name", "attributes", "ground_elevation", "height", "roof_elevation", "floors_above", "floors_below", "use"),
    *("year_built", "structure", "green_star", "cim_level", "parts", "height_source", "storeys", "elements"),
)  # False (a field added to the model): the store encodes the GeoJSON from the documents, as before


def _document(fields: dict[str, Any], surfaces: bytes, lods: bytes) -> tuple[bytes | None, list, dict[str, Any]]:
    """(the Building document as bytes, its cleaned footprint rings, its GeoJSON properties but ``lod``), or
    (None, [], {}) where pydantic would refuse a value (then pydantic is asked, for its message).  ``surfaces``
    and ``lods``: the JSON of ``fields["surfaces"]`` and ``fields["lods"]`` without their brackets, written
    beforehand."""
    fid = fields["id"]
    if not isinstance(fid, str) or not 1 <= len(fid) <= 200:
        return None, [], {}
    g, h, roof = fields["ground_elevation"], fields["height"], fields["roof_elevation"]
    if not (math.isfinite(g) and math.isfinite(h) and math.isfinite(roof) and 0 < h <= 1000):
        return None, [], {}
    fp = []
    for ring in fields["footprint"]:
        if len(ring) > 1 and ring[0] == ring[-1]:
            ring = ring[:-1]
        if len(ring) < 3:
            return None, [], {}
        fp.append(ring)
    doc: dict[str, Any] = {"id": fid}
    if fields["name"] is not None:
        doc["name"] = fields["name"]
    doc["attributes"] = fields["attributes"]
    doc["footprint"] = fp
    doc["ground_elevation"] = float(g)
    doc["height"] = float(h)
    doc["roof_elevation"] = float(roof)
    if fields["floors_above"] is not None:
        doc["floors_above"] = fields["floors_above"]
    doc["floors_below"] = fields["floors_below"]
    doc["use"] = fields["use"].value
    if fields["year_built"] is not None:
        doc["year_built"] = fields["year_built"]
    doc["cim_level"] = fields["cim_level"]
    rest: dict[str, Any] = {}  # after "surfaces" and "lods", in the model's field order
    if fields["parts"] is not None:
        rest["parts"] = fields["parts"]
    rest["height_source"] = fields["height_source"]
    try:
        head, tail = orjson.dumps(doc), orjson.dumps(rest)
    except TypeError:  # something orjson cannot write (a huge integer): the model path decides
        return None, [], {}
    props = {
        "name": fields["name"],
        "attributes": doc["attributes"],
        "ground_elevation": doc["ground_elevation"],
        "height": doc["height"],
        "roof_elevation": doc["roof_elevation"],
        "floors_above": fields["floors_above"],
        "floors_below": doc["floors_below"],
        "use": doc["use"],
        "year_built": fields["year_built"],
        "structure": None,
        "green_star": None,
        "cim_level": doc["cim_level"],
        "parts": fields["parts"],
        "height_source": fields["height_source"],
        "storeys": None,
        "elements": None,
    }
    return head[:-1] + b',"surfaces":[' + surfaces + b'],"lods":[' + lods + b"]," + tail[1:], fp, props


def _encode(ids: list[str], docs: list[bytes], fps: list[list], zs: list[tuple[float, float]]) -> list[Encoded]:
    """Encoded features: 2-D polygons and 3-D boxes from the footprints, all at once."""
    if not ids:
        return []
    ring_n = [len(fp) for fp in fps]
    flat = [ring for fp in fps for ring in fp]
    rlen = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
    xy = np.asarray([p for ring in flat for p in ring], dtype=float).reshape(-1, 2)
    lin = shapely.linearrings(xy, indices=np.repeat(np.arange(len(flat)), rlen))
    shapes = shapely.polygons(lin, indices=np.repeat(np.arange(len(ids)), ring_n))
    roff = _offsets(rlen)
    foff = _offsets(np.asarray(ring_n, dtype=np.int64))
    ext = roff[foff[:-1]]  # first vertex of each exterior ring
    lo = np.minimum.reduceat(xy, ext, axis=0) if len(xy) else xy
    hi = np.maximum.reduceat(xy, ext, axis=0) if len(xy) else xy
    # reduceat runs to the next start: the exterior's own extent needs the exterior's end
    ext_end = roff[foff[:-1] + 1]
    out = []
    vo = roff[foff].tolist()
    for k, fid in enumerate(ids):
        a, e = int(ext[k]), int(ext_end[k])
        if e != (int(ext[k + 1]) if k + 1 < len(ids) else len(xy)):  # holes follow: min/max of the exterior alone
            exy = xy[a:e]
            bmin, bmax = exy.min(axis=0), exy.max(axis=0)
        else:
            bmin, bmax = lo[k], hi[k]
        z0, z1 = sorted(zs[k])
        out.append(
            Encoded(
                "buildings",
                fid,
                docs[k],
                shapes[k],
                (bmin[0], bmin[1], z0, bmax[0], bmax[1], z1),
                xy[vo[k] : vo[k + 1]],
                (zs[k][0], zs[k][1] or zs[k][0]),  # as placement.result_z reads a Building
            )
        )
    return out


def _add_geojson(
    encoded: list[Encoded], fps: list[list], props: list[dict[str, Any]], lods: list[float | None], epsg: int
) -> None:
    """Set each feature's ``gj``: the CRS84 GeoJSON Feature that ``encode_geojson`` makes of its document
    (footprint rings closed, projected in one pyproj call, rounded as ``OutputCRS`` rounds; the properties in
    the model's order, ``lod`` last), byte for byte.  A feature whose document the model would read back
    otherwise (a ring that loses another vertex; an ``lod`` that is not a number) keeps ``gj`` None: the store
    encodes it from the document."""
    if not encoded or not _PROPS_KNOWN:
        return
    from ..crs import OutputCRS

    ok = [lod is not None and all(r[0] != r[-1] for r in fp) for fp, lod in zip(fps, lods, strict=True)]
    rings = [ring for fp, good in zip(fps, ok, strict=True) if good for ring in fp]
    if not rings:
        return
    rlen = np.fromiter(map(len, rings), dtype=np.int64, count=len(rings))
    xy = np.asarray([p for ring in rings for p in ring], dtype=float).reshape(-1, 2)
    roff = _offsets(rlen)
    coff = _offsets(rlen + 1)  # each ring closed: its first vertex again at its end
    at = np.arange(coff[-1]) - np.repeat(coff[:-1] - roff[:-1], rlen + 1)
    at[coff[1:] - 1] = roff[:-1]
    ll = OutputCRS(epsg).xy(xy[at]).tolist()
    cl = coff.tolist()
    r = 0
    for f, fp, p, lod, good in zip(encoded, fps, props, lods, ok, strict=True):
        if not good:
            continue
        coords = [ll[cl[k] : cl[k + 1]] for k in range(r, r + len(fp))]
        r += len(fp)
        p["lod"] = lod
        gj = orjson.dumps(
            {
                "type": "Feature",
                "id": f.id,
                "geometry": {"type": "Polygon", "coordinates": coords},
                "properties": p,
            }
        )
        f.gj = memoryview(gj).tobytes()  # orjson's bytes keep its whole buffer (8 KB for 1 KB): an exact copy kept
        f.gj_epsg = epsg


def _surfaces_of(geom: dict) -> tuple[list, list | None]:
    from .cityjson import _surfaces_of as f

    return f(geom)
