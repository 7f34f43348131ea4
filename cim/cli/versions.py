"""Versions of the city: ``cim versions``, ``cim diff A B``, ``cim delete COLLECTION ID ...``."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from ..errors import CIMError
from . import StoreOpt, app, console, fail


@app.command("versions")
def versions_(
    store: StoreOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the versions of the city: number, time, author, note and counts of changes."""
    from .. import versions as V
    from ..store import open_store

    try:
        s = open_store(store)
        vs = V.versions(s)
        s.close()
    except CIMError as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(json.dumps([v.model_dump(mode="json") for v in vs], ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title="Versions")
    for col in ("n", "time (UTC)", "author", "note", "changes"):
        table.add_column(col)
    for v in vs:
        changes = "; ".join(
            f"{cid}: +{len(c.added)} ~{len(c.changed)} -{len(c.removed)}" for cid, c in v.changes.items()
        )
        table.add_row(str(v.n), v.time.strftime("%Y-%m-%d %H:%M:%S"), v.author or "-", v.note or "-", changes or "-")
    console.print(table)


@app.command("diff")
def diff(
    a: Annotated[int, typer.Argument(help="Earlier version (0: before the first recorded one).")],
    b: Annotated[int, typer.Argument(help="Later version.")],
    store: StoreOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What changed between two versions, per collection: ids added, changed and removed."""
    from .. import versions as V
    from ..store import open_store

    try:
        s = open_store(store)
        d = V.diff(s, a, b)
        s.close()
    except CIMError as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(json.dumps({k: v.model_dump() for k, v in d.items()}, ensure_ascii=False, indent=2) + "\n")
        return
    if not d:
        console.print(f"no changes between version {a} and version {b}")
    for cid, ch in d.items():
        for what, sign in (("added", "+"), ("changed", "~"), ("removed", "-")):
            for fid in getattr(ch, what):
                console.print(f"{sign} {cid}/{fid}", markup=False, highlight=False)


@app.command("delete")
def delete(
    collection: Annotated[str, typer.Argument(help="Collection, e.g. buildings.")],
    ids: Annotated[list[str], typer.Argument(help="Feature ids.")],
    store: StoreOpt,
    author: Annotated[str | None, typer.Option(help="Who deletes (kept with the version).")] = None,
    note: Annotated[str | None, typer.Option(help="Why (kept with the version).")] = None,
) -> None:
    """Delete features as one new version (earlier versions still give them back)."""
    from .. import versions as V
    from ..store import open_store

    try:
        s = open_store(store)
        v = V.delete(s, collection, ids, author=author, note=note)
        s.close()
    except CIMError as exc:
        fail(exc)
    console.print(f"version {v.n}: removed {len(ids)} from {collection}")
