"""Values derived from a store, kept until its version changes (per-request reads that rarely change)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # store -> {key: (read version, value)}
_LOCK = threading.Lock()


def per_version(store: Any, key: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept per ``store`` and ``key`` until ``store.read_version()`` changes.

    A value computed while a write landed is returned but not kept (the next call computes it again).  Stores
    that cannot be weakly referenced, or have no version, are not cached.
    """
    try:
        version = store.read_version()
        with _LOCK:
            hit = _MEMO.get(store, {}).get(key)
    except (TypeError, AttributeError):
        return compute()
    if hit is not None and hit[0] == version:
        return hit[1]
    value = compute()
    if store.read_version() == version:
        with _LOCK:
            _MEMO.setdefault(store, {})[key] = (version, value)
    return value
