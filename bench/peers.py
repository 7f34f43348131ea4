"""Side by side with pygeoapi: OGC API - Features items pages on the same buildings, same requests, same load.

Datasets: the sample city's buildings (3,347) and, in full mode, the synthetic city of 100,000
(``bench/synth.py``).  This service serves its SQLite store; pygeoapi 0.21 (in its own environment,
``bench/peers_env.py``) serves the same buildings with its PostgreSQL provider from a table in a
throwaway PostGIS cluster (``tests/pg.py``): one row per building holding exactly the properties and
CRS84 geometry this service answers (``bench/datasets.py``), a GiST index on the geometry, pygeoapi's
``max_items`` raised so that ``limit=100`` is honoured, compact JSON (``pretty_print: false``), the
same uvicorn version with one worker and no access log, and PostgreSQL over its Unix socket.

Two pygeoapi variants run: **stock**, and **tuned**, where the per-request pyproj EPSG look-up of its
storage CRS in ``PostgreSQLProvider._get_bbox_filter`` is cached (the hot spot named in
``shared/notes/PEERS.md``; nothing else changes).  Requests: the bbox page of ``bench/items.py`` (a
CRS84 box holding at least 100 buildings, ``limit=100``, both answering ``numberMatched``) at 1, 16 and
64 connections, and single items (cycling over 200 ids) at 1 and 16; wrk on loopback, interleaved
runs, the medians.  The answers are compared once: features, numberMatched, bytes, ids in common.
Each server's RSS is read after the runs, and py-spy samples this service under the bbox load (where
installed; the thread holding the GIL only) to show where its CPU time goes.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from . import items
from .common import Context, Row, Server, load, median_of_runs, wrk_path
from .datasets import buildings_table, synth_store
from .peers_env import PeersEnv, Proc, loadavg, rss

NAME = "peers"
TITLE = "Side by side with pygeoapi: items pages on the same buildings"

CONNS = (1, 16, 64)
ITEM_CONNS = (1, 16)
SERVERS = ("ours", "pygeoapi", "pygeoapi-tuned")
TUNED_MODULE = '''"""pygeoapi, one hot spot removed: the storage CRS's EPSG code is looked up once, not per request."""
import functools

from pygeoapi.provider import sql
from pygeoapi.util import get_crs_from_uri


@functools.lru_cache(maxsize=None)
def _srid(uri):
    return get_crs_from_uri(uri).to_epsg()


def _get_bbox_filter(self, bbox):
    if not bbox:
        return True
    envelope = sql.ST_MakeEnvelope(*bbox, _srid(self.storage_crs) or 4326)
    return sql.ST_Intersects(envelope, getattr(self.table_model, self.geom))


sql.PostgreSQLProvider._get_bbox_filter = _get_bbox_filter

from pygeoapi.starlette_app import APP  # noqa: E402,F401
'''


def _config(port: int, pg: Any, schema: str, table: str, bbox: list[float]) -> dict[str, Any]:
    """A minimal pygeoapi configuration (JSON is YAML) for one collection on the PostgreSQL provider."""
    here = f"http://127.0.0.1:{port}"
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": here,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": False,
            "languages": ["en-US"],
            "cors": False,
            "pretty_print": False,
            "limits": {"default_items": 100, "max_items": 10000, "on_exceed": "throttle"},
            "map": {"url": here + "/{z}/{x}/{y}.png", "attribution": "none"},
            "admin": False,
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "bench",
                "description": "bench",
                "keywords": ["bench"],
                "keywords_type": "theme",
                "terms_of_service": here,
                "url": here,
            },
            "license": {"name": "CC-BY 4.0", "url": here},
            "provider": {"name": "bench", "url": here},
            "contact": {
                "name": "bench",
                "position": "bench",
                "address": "-",
                "city": "-",
                "stateorprovince": "-",
                "postalcode": "-",
                "country": "-",
                "phone": "-",
                "fax": "-",
                "email": "bench@localhost",
                "url": here,
                "hours": "-",
                "instructions": "-",
                "role": "pointOfContact",
            },
        },
        "resources": {
            items.COLLECTION: {
                "type": "collection",
                "title": "Buildings",
                "description": "The same buildings as the CIM service",
                "keywords": ["buildings"],
                "extents": {"spatial": {"bbox": bbox, "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
                "providers": [
                    {
                        "type": "feature",
                        "name": "PostgreSQL",
                        "data": {
                            "host": str(pg.dir),
                            "port": pg.port,
                            "dbname": "postgres",
                            "user": "cim",
                            "search_path": [schema],
                        },
                        "id_field": "id",
                        "table": table,
                        "geom_field": "geom",
                    }
                ],
            }
        },
    }


def _pygeoapi(env: PeersEnv, work: Path, pg: Any, schema: str, table: str, bbox: list[float], *, tuned: bool) -> Proc:
    """A pygeoapi server (not started) on its own config and OpenAPI document."""
    name = "pygeoapi-tuned" if tuned else "pygeoapi"
    work.mkdir(parents=True, exist_ok=True)
    app = "pygeoapi.starlette_app:APP"
    if tuned:
        (work / "bench_pygeoapi_tuned.py").write_text(TUNED_MODULE)
        app = "bench_pygeoapi_tuned:APP"
    proc = Proc(
        [
            str(env.python),
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        health=f"/collections/{items.COLLECTION}/items?limit=1&f=json",
        cwd=work,
        log=work / f"{name}.log",
    )
    cfg, oas = work / f"{name}.config.yml", work / f"{name}.openapi.yml"
    cfg.write_text(json.dumps(_config(proc.port, pg, schema, table, bbox), indent=1))
    genv = {"PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(oas)}
    res = subprocess.run(
        [str(env.bin("pygeoapi")), "openapi", "generate", str(cfg), "--output-file", str(oas)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=work,
        env={**os.environ, **genv},
    )
    if res.returncode != 0:
        raise RuntimeError(f"pygeoapi openapi generate failed: {(res.stderr or res.stdout)[-800:]}")
    proc.env.update(genv)
    proc.env["PYTHONPATH"] = str(work)
    return proc


def _answer(url: str) -> dict[str, Any]:
    req = urllib.request.Request(url, headers={"Accept": "application/geo+json, application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
        status = r.status
    doc = json.loads(body)
    feats = doc.get("features", [doc] if doc.get("type") == "Feature" else [])
    return {
        "status": status,
        "bytes": len(body),
        "features": len(feats),
        "numberMatched": doc.get("numberMatched"),
        "numberReturned": doc.get("numberReturned"),
        "ids": [str(f.get("id")) for f in feats],
        "properties": sorted(feats[0].get("properties", {})) if feats else [],
    }


def _compare(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    a, b = set(ours["ids"]), set(peer["ids"])
    return {
        "same_ids": a == b,
        "ids_in_common": len(a & b),
        "bytes_ratio": peer["bytes"] / max(ours["bytes"], 1),
        "same_properties": ours["properties"] == peer["properties"],
    }


def _profile(ctx: Context, env: PeersEnv, pid: int, base: str, path: str, seconds: float) -> dict[str, Any]:
    """py-spy samples of the server process ``pid`` under ``seconds`` of bbox load at 16 connections."""
    import threading

    from .profile import summarise_collapsed

    why = env.ensure("profile")
    if why:
        return {"skipped": why}
    out = ctx.out / "profile-ours-bbox.txt"
    # --gil: only the thread holding the GIL is sampled, so a thread waiting for the GIL (after a C call
    # such as a SQLite query) is not counted as busy in that call: the shares are of Python's CPU time.
    cmd = [
        str(env.bin("py-spy")),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--format",
        "raw",
        "--output",
        str(out),
        "--rate",
        "250",
        "--gil",
    ]
    holder: dict[str, Any] = {}

    def spy() -> None:
        holder["proc"] = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=seconds + 60)

    t = threading.Thread(target=spy)
    t.start()
    load(base, [path], connections=16, duration=seconds + 1)
    t.join()
    proc = holder.get("proc")
    if proc is None or proc.returncode != 0 or not out.exists():
        return {"skipped": f"py-spy failed: {((proc.stderr or proc.stdout) if proc else '')[-300:]}"}
    return {"file": str(out), "mode": "gil", **summarise_collapsed(out.read_text())}


def _dataset(  # noqa: C901 - predates the complexity gate (issue 14); split it when it next changes
    ctx: Context,
    env: PeersEnv,
    why_peer: str | None,
    pg: Any,
    label: str,
    store_path: Path,
) -> dict[str, Any]:
    from cim.crs import city_to_lonlat
    from cim.store import open_store

    store = open_store(str(store_path))
    try:
        plan = items.plan(store)
        epsg = store.city().crs_epsg
        b = store.bounds(items.COLLECTION)
        ll = city_to_lonlat(np.array([[b[0], b[1]], [b[3], b[4]]]), epsg)
        extent = [float(ll[:, 0].min()), float(ll[:, 1].min()), float(ll[:, 0].max()), float(ll[:, 1].max())]
        table = f"buildings_{label}"
        loaded = None
        if pg is not None and why_peer is None:
            ctx.log(f"peers {label}: loading {plan['buildings']:,} buildings into PostGIS table peers.{table}")
            loaded = buildings_table(store, pg.url, "peers", table)
    finally:
        store.close()
    bbox_q = f"bbox={plan['bbox']}&limit={items.LIMIT}"
    paths = {
        "ours": {
            "bbox": [f"{items.ITEMS}?{bbox_q}"],
            "item": [f"{items.ITEMS}/{quote(i, safe='')}" for i in plan["ids"]],
        },
        "pygeoapi": {
            "bbox": [f"{items.ITEMS}?{bbox_q}&f=json"],
            "item": [f"{items.ITEMS}/{quote(i, safe='')}?f=json" for i in plan["ids"]],
        },
    }
    paths["pygeoapi-tuned"] = paths["pygeoapi"]
    res: dict[str, Any] = {
        "buildings": plan["buildings"],
        "bbox": plan["bbox"],
        "bbox_matched": plan["bbox_matched"],
        "requests": {k: {kind: v[kind][0] for kind in v} for k, v in paths.items()},
        "table": loaded and {"rows": loaded["rows"], "columns": loaded["columns"]},
        "answers": {},
        "http": {},
        "rss": {},
        "loadavg_start": loadavg(),
    }
    servers: dict[str, Any] = {"ours": Server(store_path, log=ctx.out / "server-peers.log")}
    if loaded is not None:
        work = ctx.out / "pygeoapi"
        for name, tuned in (("pygeoapi", False), ("pygeoapi-tuned", True)):
            try:
                servers[name] = _pygeoapi(env, work, pg, "peers", table, extent, tuned=tuned)
            except Exception as exc:  # a peer that cannot start is reported, not fatal
                res["http"][name] = {"skipped": f"{type(exc).__name__}: {exc}"[:600]}
    started: dict[str, Any] = {}
    try:
        for name, srv in servers.items():
            try:
                srv.start()
                started[name] = srv
            except Exception as exc:
                res["http"][name] = {"skipped": f"could not start: {exc}"[:600]}
                if name == "ours":
                    raise
        for name, srv in started.items():
            res["answers"][name] = {kind: _answer(srv.url + p[0]) for kind, p in paths[name].items()}
            a = res["answers"][name]["bbox"]
            ctx.log(
                f"peers {label}: {name} bbox answer: {a['features']} features of {a['numberMatched']} matched, "
                f"{a['bytes']:,} B"
            )
        for name in started:
            if name != "ours":
                res["answers"][name]["match"] = {
                    k: _compare(res["answers"]["ours"][k], res["answers"][name][k]) for k in ("bbox", "item")
                }
        warm = 1.0 if ctx.quick else 4.0
        for name, srv in started.items():  # warm every thread and connection pool at the highest load
            load(srv.url, paths[name]["bbox"], connections=max(CONNS), duration=warm)
            load(srv.url, paths[name]["item"], connections=max(ITEM_CONNS), duration=1)
        runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        for rep in range(ctx.repeats):  # interleaved: drift and other work spread over every server
            for kind, conns in (("bbox", CONNS), ("item", ITEM_CONNS)):
                for c in conns:
                    for name, srv in started.items():
                        r = load(srv.url, paths[name][kind], connections=c, duration=ctx.duration)
                        runs.setdefault((name, kind, c), []).append(r)
                        ctx.log(
                            f"peers {label} {name} {kind} c{c} run {rep + 1}/{ctx.repeats}: {r['rps']:.0f} req/s, "
                            f"p50 {r.get('p50', float('nan')):.1f} ms, p99 {r.get('p99', float('nan')):.1f} ms"
                            + (f", {r['errors']} errors" if r.get("errors") else "")
                        )
        for (name, kind, c), rs in runs.items():
            m = median_of_runs(rs)
            m["errors"] = sum(r.get("errors", 0) for r in rs)
            res["http"].setdefault(name, {}).setdefault(kind, {})[f"c{c}"] = m
        for name, srv in started.items():
            pid = srv.proc.pid if srv.proc else None
            res["rss"][name] = rss(pid) if pid else {}
            res["http"][name]["startup_s"] = srv.startup_s
        if "ours" in started and started["ours"].proc is not None:
            res["profile_ours"] = _profile(
                ctx,
                env,
                started["ours"].proc.pid,
                started["ours"].url,
                paths["ours"]["bbox"][0],
                3.0 if ctx.quick else 8.0,
            )
    finally:
        for srv in started.values():
            srv.stop()
    res["ratios"] = ratios(res)
    res["loadavg_end"] = loadavg()
    return res


def ratios(res: dict[str, Any]) -> dict[str, Any]:
    """Ours / pygeoapi's requests per second and pygeoapi's / ours p50, per request and connections."""
    out: dict[str, Any] = {}
    http = res["http"]
    for peer in ("pygeoapi", "pygeoapi-tuned"):
        if "bbox" not in http.get(peer, {}):
            continue
        for kind in ("bbox", "item"):
            for c, m in http["ours"].get(kind, {}).items():
                p = http[peer].get(kind, {}).get(c)
                if p and p.get("rps"):
                    out.setdefault(peer, {}).setdefault(kind, {})[c] = {
                        "rps": m["rps"] / p["rps"],
                        "p50": p.get("p50", float("nan")) / m.get("p50", float("nan")),
                    }
    return out


def run(ctx: Context) -> dict[str, Any]:
    from tests import pg as pgmod

    if not wrk_path():
        return {"skipped": "wrk is not installed (scripts/system-deps.sh installs it)", "datasets": {}}
    env = PeersEnv(log=ctx.log)
    why_pg = pgmod.why_unavailable()
    why_peer = why_pg or env.ensure("pygeoapi")
    result: dict[str, Any] = {
        "pygeoapi": why_peer and f"skipped: {why_peer}",
        "datasets": {},
        "connections": list(CONNS),
        "item_connections": list(ITEM_CONNS),
        "duration_s": ctx.duration,
        "repeats": ctx.repeats,
    }
    if why_peer is None:
        result["versions"] = env.versions(
            "pygeoapi", "SQLAlchemy", "GeoAlchemy2", "psycopg2-binary", "uvicorn", "starlette", "pyproj"
        )
        result["pygeoapi"] = f"pygeoapi {result['versions'].get('pygeoapi')}"
    datasets = [("sample", ctx.sample_store())]
    if not ctx.quick:
        datasets.append(("synthetic", synth_store(ctx, 100_000)))
    cluster = None if why_peer else pgmod.Cluster()
    try:
        for label, path in datasets:
            result["datasets"][label] = _dataset(ctx, env, why_peer, cluster, label, path)
    finally:
        if cluster is not None:
            cluster.stop()
    return result


_KIND = {"bbox": f"bbox page ({items.LIMIT})", "item": "single item"}


def rows(result: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    if result.get("skipped"):
        return [(NAME, "pygeoapi", {}, f"skipped: {result['skipped']}")]
    for label, d in result["datasets"].items():
        for kind in ("bbox", "item"):
            for name in SERVERS:
                h = d["http"].get(name, {})
                if "skipped" in h:
                    out.append((NAME, f"{label} {name}", {}, f"skipped: {h['skipped'][:120]}"))
                    continue
                for c, m in h.get(kind, {}).items():
                    note = ""
                    if name == "ours":
                        a = d["answers"]["ours"][kind]
                        note = f"{d['buildings']:,} bldg; {a['bytes']:,} B" + (
                            f", {a['features']} of {a['numberMatched']}" if kind == "bbox" else ""
                        )
                    else:
                        r = d["ratios"].get(name, {}).get(kind, {}).get(c)
                        a = d["answers"][name][kind]
                        note = (
                            (f"ours/this {r['rps']:.1f}x req/s; " if r else "")
                            + f"{a['bytes']:,} B"
                            + (f", {a['features']} of {a['numberMatched']}" if kind == "bbox" else "")
                        )
                    if m.get("errors"):
                        note += f"; {m['errors']} ERRORS"
                    out.append((NAME, f"{label} {_KIND[kind]}: {name} {c}", m, note))
        prof = d.get("profile_ours", {})
        if prof.get("top"):
            top = ", ".join(f"{k} {v:.0%}" for k, v in list(prof["buckets"].items())[:5])
            out.append((NAME, f"{label} ours under bbox load (py-spy)", {}, top))
    if result.get("pygeoapi", "").startswith("skipped"):
        out.append((NAME, "pygeoapi", {}, result["pygeoapi"]))
    return out
