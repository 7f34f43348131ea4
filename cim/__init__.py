"""cim: a city information model library (buildings, underground networks, terrain).

Usable without the server::

    import cim
    store = cim.open("data/sample.cim.sqlite")
    page = store.query("buildings", region=cim.Region.box(535000, 4627000, 535500, 4627500), limit=10)
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

open = open_store  # noqa: A001 - cim.open(path) reads naturally

__all__ = [
    "COLLECTIONS", "CollectionSpec", "get_spec",
    "CIMError", "FeatureNotFound", "InvalidFeature", "InvalidParameter", "StoreError",
    "Building", "BuildingUse", "City", "Compartment", "FireStation", "NodeKind", "PipeNode",
    "PipeSegment", "StructureKind", "UndergroundStructure", "Utility",
    "Page", "Region", "Store", "open_store", "open", "Terrain",
]
