"""cim: a city information model library (buildings, underground networks, terrain).

Usable without the server, or over a running service, through one interface (:mod:`cim.city`)::

    import cim
    city = cim.open("data/sample.cim.sqlite")          # LocalCity; cim.connect("http://host:8000"): RemoteCity
    towers = city.features("buildings", filter="height > 100", sortby="-height")
    cim.frame(towers)                                  # a pandas DataFrame
    city.store.query("buildings", region=cim.Region.box(535000, 4627000, 535500, 4627500), limit=10)

``cim.open_store(url)`` opens a bare :class:`Store`; ``cim.viz`` draws a city with pyvista (imported lazily).
"""

from .collections import COLLECTIONS, CollectionSpec, get_spec
from .errors import CIMError, FeatureNotFound, InvalidFeature, InvalidParameter, StoreError
from .model import (
    Building,
    BuildingUse,
    City,
    Compartment,
    FireStation,
    NodeKind,
    PipeNode,
    PipeSegment,
    StructureKind,
    UndergroundStructure,
    Utility,
)
from .store import Page, Region, Store, open_store
from .terrain import Terrain


def open(source, **kw):  # noqa: A001 - cim.open(path) reads naturally
    """A city: a store path or URL -> :class:`~cim.city.LocalCity`; ``http(s)://`` -> :class:`~cim.remote.RemoteCity`.

    Keyword arguments go to the class (``pipeline_rules=`` local; ``token=``, ``timeout=`` remote).
    """
    from .city import open_city

    return open_city(source, **kw)


def connect(url: str, **kw):
    """The city served at ``url`` (``http://host:port``): :class:`~cim.remote.RemoteCity`."""
    from .city.remote import RemoteCity

    return RemoteCity(url, **kw)


_LAZY = {
    "CityInfo": "city",
    "CityModel": "city",
    "Features": "city",
    "LocalCity": "city",
    "frame": "city",
    "RemoteCity": "remote",
    "RemoteError": "remote",
}


def __getattr__(name: str):
    """The city interface loads on first use, with the analyses it needs (``import cim`` stays light)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'cim' has no attribute {name!r}")


__all__ = [
    "COLLECTIONS",
    "CollectionSpec",
    "get_spec",
    "CIMError",
    "FeatureNotFound",
    "InvalidFeature",
    "InvalidParameter",
    "StoreError",
    "Building",
    "BuildingUse",
    "City",
    "Compartment",
    "FireStation",
    "NodeKind",
    "PipeNode",
    "PipeSegment",
    "StructureKind",
    "UndergroundStructure",
    "Utility",
    "Page",
    "Region",
    "Store",
    "open_store",
    "open",
    "Terrain",
    "CityInfo",
    "CityModel",
    "Features",
    "LocalCity",
    "RemoteCity",
    "RemoteError",
    "connect",
    "frame",
]
