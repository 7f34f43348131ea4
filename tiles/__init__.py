"""Encoders for cim's meshes: GLB (glTF 2.0 with EXT_mesh_features and EXT_structural_metadata) and
3D Tiles 1.1 tilesets, written through a sink (directory, zip, memory).  ``tiles`` imports ``cim``;
``cim`` never imports ``tiles``.

>>> import cim, tiles
>>> # result = tiles.build_layer(cim.open("data/sample.cim.sqlite"), "buildings", tiles.DirectorySink("out/buildings"))
"""

from .feature import feature_glb
from .layers import LAYERS, Layer, layer
from .sink import DirectorySink, GzipSink, MemorySink, PrefixSink, Sink, ZipSink, open_sink
from .tileset import Budget, TilesetResult, build_layer, city_frame

__all__ = [
    "feature_glb",
    "LAYERS",
    "Layer",
    "layer",
    "DirectorySink",
    "GzipSink",
    "MemorySink",
    "PrefixSink",
    "Sink",
    "ZipSink",
    "open_sink",
    "Budget",
    "TilesetResult",
    "build_layer",
    "city_frame",
]
