"""Versions of the city (CJJ/T 315-2022 §4.3.3 版本管理, 模型比对): every write made through :func:`write`
(imports, replacements, deletions) is one version with its time, author, note and changes, and the city as it
was at any version or time can be rebuilt.

Design (the history-table pattern of 3DCityDB's creation/termination dates and istSOS's system time, kept
inside the Store protocol so that SQLite and PostGIS behave alike): the current tables stay as they are; each
version writes two named blobs **in the same transaction as its features** (``store.write(blobs=...)``, all or
nothing): ``versions/<n>.json`` (number, time in UTC, author, note, and per collection the ids added, changed
and removed) and ``versions/<n>.before.json`` (the stored documents of the changed and removed features as
they were before the write).  The number is claimed inside that transaction, under the lock that orders the
store's writers (``store.write(numbered=...)``: one more than the greatest ``versions/`` blob), so writers
racing on one store (two imports, threads or processes) get distinct, gap-free numbers in commit order.  The
city at version v is the current city with the versions after v undone,
newest first: what they added is taken away, what they changed or removed is put back as it was.  Writes that
bypass this module (``cim sample``, a bare ``store.write``) belong to the state before version 1 (version 0)
and to the current state; terrain and LiDAR points are not versioned.

Features therefore carry their validity implicitly: a feature is valid from the version that added or last
changed it until the version that changed or removed it (``valid_from`` / ``valid_to`` in
:func:`lifespans`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field

from .collections import COLLECTIONS, collection_of, get_spec
from .errors import FeatureNotFound, InvalidParameter

PREFIX = "versions/"


class Changes(BaseModel):
    """The ids one write added, changed and removed in a collection."""

    added: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


class Version(BaseModel):
    """One recorded write of the city: its number, time, author, note and changes."""

    n: int = Field(ge=1, description="Version number, from 1; 0 is the city before the first recorded write.")
    time: datetime = Field(description="When the write was committed (UTC).")
    author: str | None = None
    note: str | None = None
    changes: dict[str, Changes] = Field(
        default_factory=dict, description="Per collection: ids added, changed, removed."
    )


def _name(n: int, before: bool = False) -> str:
    return f"{PREFIX}{n:08d}{'.before' if before else ''}.json"


def versions(store: Any) -> list[Version]:
    """Every recorded version, oldest first."""
    out = []
    for name in store.blob_names(PREFIX):
        if name.endswith(".before.json"):
            continue
        raw = store.get_blob(name)
        if raw is not None:
            out.append(Version.model_validate_json(raw))
    return sorted(out, key=lambda v: v.n)


def latest(store: Any) -> int:
    """The number of the newest version (0 when none was recorded)."""
    vs = versions(store)
    return vs[-1].n if vs else 0


def get_version(store: Any, n: int) -> Version:
    """The record of version ``n``, or InvalidParameter naming the versions there are."""
    raw = store.get_blob(_name(n))
    if raw is None:
        raise InvalidParameter("version", f"No version {n}; the versions are 1 to {latest(store)} (0: before them).")
    return Version.model_validate_json(raw)


def version_at(store: Any, when: datetime | str) -> int:
    """The version current at ``when`` (a datetime or ISO 8601 text; naive times are UTC): the newest whose time
    is not after it, 0 before the first."""
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidParameter("datetime", f"datetime must be an RFC 3339 date-time, got {when!r}.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    n = 0
    for v in versions(store):
        if v.time <= when:
            n = v.n
    return n


def write(
    store: Any,
    features: Iterable[BaseModel] = (),
    *,
    delete: Mapping[str, Sequence[str]] | None = None,
    replace: bool = False,
    author: str | None = None,
    note: str | None = None,
    **kw: Any,
) -> tuple[dict[str, int], Version]:
    """Write ``features`` (and delete ``delete``: collection -> ids) as one new version; ``kw`` goes to
    ``store.write`` (terrain, building_points, blobs).  Returns the counts and the version."""
    feats = list(features)
    by_cid: dict[str, list[str]] = {}
    for f in feats:
        by_cid.setdefault(collection_of(f), []).append(f.id)  # type: ignore[attr-defined]
    before: dict[str, dict[str, Any]] = {}
    changes: dict[str, Changes] = {}

    def old_doc(cid: str, fid: str) -> dict[str, Any] | None:
        try:
            return store.get(cid, fid).model_dump(mode="json", exclude_none=True)
        except FeatureNotFound:
            return None

    for cid, ids in (delete or {}).items():
        get_spec(cid)
        ch = changes.setdefault(cid, Changes())
        for fid in dict.fromkeys(ids):
            doc = old_doc(cid, fid)
            if doc is None:
                raise FeatureNotFound(cid, fid)
            before.setdefault(cid, {})[fid] = doc
            ch.removed.append(fid)
    for cid, ids in by_cid.items():
        ch = changes.setdefault(cid, Changes())
        gone = set(ch.removed)
        for fid in ids:
            if fid in gone:  # deleted and written again in one version: a change
                ch.removed.remove(fid)
                ch.changed.append(fid)
                continue
            doc = old_doc(cid, fid) if replace else None
            if doc is None:
                ch.added.append(fid)
            else:
                before.setdefault(cid, {})[fid] = doc
                ch.changed.append(fid)
    claimed: list[Version] = []

    def record(n: int) -> dict[str, bytes]:
        """The version's two blobs, once the store has claimed its number ``n`` inside the write's transaction
        (under the lock that orders writers: concurrent writes get distinct, gap-free numbers and times in
        the same order)."""
        version = Version(
            n=n,
            time=datetime.now(UTC),
            author=author,
            note=note,
            changes={cid: ch for cid, ch in changes.items() if not ch.is_empty()},
        )
        claimed[:] = [version]
        return {_name(n): version.model_dump_json().encode(), _name(n, before=True): orjson.dumps(before)}

    counts = store.write(feats, delete=delete, replace=replace, numbered=(PREFIX, record), **kw)
    return counts, claimed[0]


def delete(store: Any, collection: str, ids: Sequence[str], *, author: str | None = None, note: str | None = None):
    """Remove features as one version (FeatureNotFound if one is not stored); returns the version."""
    return write(store, (), delete={collection: list(ids)}, author=author, note=note)[1]


def state_at(store: Any, collection: str, n: int) -> dict[str, BaseModel]:
    """The features of ``collection`` at version ``n`` (0 = before the first recorded version), by id."""
    spec = get_spec(collection)
    newest = latest(store)
    if not 0 <= n <= newest:
        raise InvalidParameter("version", f"version must be between 0 and {newest}, got {n}.")
    state: dict[str, BaseModel] = {f.id: f for f in store.iter_features(collection)}  # type: ignore[attr-defined]
    for v in reversed(versions(store)):
        if v.n <= n:
            break
        ch = v.changes.get(collection)
        if ch is None:
            continue
        for fid in ch.added:
            state.pop(fid, None)
        if ch.changed or ch.removed:
            old = orjson.loads(store.get_blob(_name(v.n, before=True)) or b"{}").get(collection, {})
            for fid in ch.changed + ch.removed:
                state[fid] = spec.model.model_validate(old[fid])
    return state


def diff(store: Any, a: int, b: int, collections: Sequence[str] | None = None) -> dict[str, Changes]:
    """What changed from version ``a`` to version ``b`` (either order), per collection, by comparing the two
    states feature by feature: ids added, changed (any field) and removed, sorted."""
    out: dict[str, Changes] = {}
    for cid in collections or list(COLLECTIONS):
        sa, sb = state_at(store, cid, a), state_at(store, cid, b)
        common = sa.keys() & sb.keys()
        ch = Changes(
            added=sorted(sb.keys() - sa.keys()),
            removed=sorted(sa.keys() - sb.keys()),
            changed=sorted(i for i in common if sa[i].model_dump_json() != sb[i].model_dump_json()),
        )
        if not ch.is_empty():
            out[cid] = ch
    return out


def lifespans(store: Any, collection: str) -> dict[str, list[tuple[int, int | None]]]:
    """id -> [(valid_from, valid_to), ...]: the versions between which each state of each feature was current
    (valid_to None: still current; valid_from 0: from before the first recorded version)."""
    out: dict[str, list[tuple[int, int | None]]] = {}
    vs = versions(store)
    start = dict.fromkeys(state_at(store, collection, 0), 0)
    for v in vs:
        ch = v.changes.get(collection)
        if ch is None:
            continue
        for fid in ch.changed + ch.removed:
            out.setdefault(fid, []).append((start.pop(fid, 0), v.n))
        for fid in ch.added + ch.changed:
            start[fid] = v.n
    for fid, n in start.items():
        out.setdefault(fid, []).append((n, None))
    return out
