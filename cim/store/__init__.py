"""Stores: ``open_store(url)`` picks the backend from the URL."""

from __future__ import annotations

from pathlib import Path

from ..errors import StoreError
from .base import Page, Region, Store
from .sqlite import SQLiteStore

__all__ = ["Page", "Region", "Store", "SQLiteStore", "open_store"]


def is_postgres(url: str | Path) -> bool:
    """Whether a store string names PostgreSQL: a libpq URI (``postgresql://``, ``postgres://``, also with an
    empty host: ``postgresql:///db?host=/var/run/postgresql``) or a libpq keyword string (``dbname=cim
    host=/tmp schema=city``) that is not an existing file."""
    import re

    s = str(url)
    if s.startswith(("postgresql://", "postgres://")):
        return True
    return bool(re.match(r"^\s*[A-Za-z_]+\s*=", s)) and not Path(s).exists()


def open_store(
    url: str | Path,
    *,
    create: bool = False,
    read_url: str | None = None,
    sqlite_mmap_mb: int = 64,
    sqlite_cache_mb: int = 16,
) -> Store:
    """Open a store.

    ``url``: a file path or ``sqlite:///path`` (SQLite, the embedded default), or
    ``postgresql://user:pw@host:port/db?schema=name`` (PostGIS, one city per schema; every libpq URI and
    keyword form is accepted: ``postgresql:///db?host=/var/run/postgresql``, ``dbname=db host=/tmp schema=name``).
    ``create`` allows a new, empty file (then call ``init``); otherwise a missing store is a StoreError.  ``read_url``
    (PostGIS only): a streaming replica of the same database; feature, blob and count reads go there,
    writes, jobs and the store version to ``url``.  ``sqlite_mmap_mb``, ``sqlite_cache_mb``: memory per SQLite
    connection (see :class:`SQLiteStore`).
    """
    s = str(url)
    if is_postgres(s):
        from .postgis import PostGISStore

        return PostGISStore(s, create=create, read_url=read_url)
    if read_url:
        raise StoreError("A read replica (CIM_STORE_READ) needs a PostGIS store.", where={"store": s})
    if s.startswith("sqlite:///"):
        s = s[len("sqlite:///") :]
    elif "://" in s:
        raise StoreError(f"Unknown store URL scheme in {s!r}: give a file path or sqlite:///path.", where={"store": s})
    return SQLiteStore(s, create=create, mmap_mb=sqlite_mmap_mb, cache_mb=sqlite_cache_mb)
