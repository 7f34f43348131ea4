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


def open_store(url: str | Path, *, create: bool = False) -> Store:
    """Open a store.

    ``url``: a file path or ``sqlite:///path`` (SQLite, the embedded default), or
    ``postgresql://user:pw@host:port/db?schema=name`` (PostGIS, one city per schema; every libpq URI and
    keyword form is accepted: ``postgresql:///db?host=/var/run/postgresql``, ``dbname=db host=/tmp schema=name``).
    ``create`` allows a new, empty file (then call ``init``); otherwise a missing store is a StoreError.
    """
    s = str(url)
    if is_postgres(s):
        from .postgis import PostGISStore

        return PostGISStore(s, create=create)
    if s.startswith("sqlite:///"):
        s = s[len("sqlite:///") :]
    elif "://" in s:
        raise StoreError(f"Unknown store URL scheme in {s!r}: give a file path or sqlite:///path.", where={"store": s})
    return SQLiteStore(s, create=create)
