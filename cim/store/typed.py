"""Features with their model's type known to the type checker: ``Store.iter_features`` and ``Store.get`` return
``BaseModel``; these check each feature against the collection's model and return it as that model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from ..query.cql2 import Filter
    from .base import Region, Store

M = TypeVar("M", bound=BaseModel)


def _check(f: BaseModel, model: type[M], collection: str) -> M:
    if not isinstance(f, model):
        raise TypeError(f"A feature of {collection!r} is a {type(f).__name__}, not a {model.__name__}.")
    return f


def iter_typed(
    store: Store,
    collection: str,
    model: type[M],
    *,
    region: Region | None = None,
    filter: Filter | None = None,
    batch: int = 1000,
) -> Iterator[M]:
    """:meth:`Store.iter_features` typed as ``model`` (TypeError for a feature of another model)."""
    for f in store.iter_features(collection, region=region, filter=filter, batch=batch):
        yield _check(f, model, collection)


def get_typed(store: Store, collection: str, fid: str, model: type[M]) -> M:
    """:meth:`Store.get` typed as ``model`` (FeatureNotFound for an unknown id, TypeError for another model)."""
    return _check(store.get(collection, fid), model, collection)
