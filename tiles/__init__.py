"""Encoding of cim's meshes as glTF (GLB) and OGC 3D Tiles 1.1.  Imports cim, never the reverse."""
