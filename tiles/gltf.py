"""The GLB codec lives in the library (:mod:`cim.gltf`: one writer, one reader); ``tiles`` builds with it."""

from cim.gltf import (  # noqa: F401
    ARRAY_BUFFER,
    ELEMENT_ARRAY_BUFFER,
    FLOAT,
    NO_DATA,
    UNSIGNED_BYTE,
    UNSIGNED_INT,
    UNSIGNED_SHORT,
    Column,
    FeatureTable,
    Kind,
    encode_glb,
    glb_triangles,
    read_accessor,
    read_glb,
    read_property_table,
)
