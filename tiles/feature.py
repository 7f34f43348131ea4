"""One feature as a standalone, georeferenced GLB (``GET /collections/{cid}/items/{fid}/mesh.glb``).

Convention: vertices are local metres around the feature, glTF y-up (x = east, y = up, z = -north),
with the origin at the centre of the feature's plan extent and at its lowest point, so any glTF viewer
shows the feature upright at the origin.  The asset's ``extras.georeference`` gives the origin
(longitude, latitude, ellipsoidal height; and in city coordinates) and ``enu_to_ecef``, the 4 x 4
column-major matrix that places the (z-up) ENU coordinates in ECEF (EPSG:4978): a client that rotates
y-up to z-up (x, y, z) -> (x, -z, y) and applies that matrix puts the feature on the globe, as a 3D
Tiles tile transform does.  Heights follow :mod:`tiles.frame` (city datum heights as ellipsoidal).
The feature's properties are in an EXT_structural_metadata property table (one row), referenced by
EXT_mesh_features feature ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cim.collections import collection_of
from cim.mesh import Mesh, feature_meshes
from cim.terrain import Terrain

from .frame import CityFrame, EnuFrame, yup
from .gltf import encode_glb
from .layers import layer_of_collection


def feature_glb(feature: Any, epsg: int, terrain: Terrain | None = None) -> bytes | None:
    """The GLB of one feature, or None when the feature has no solid (a junction node)."""
    mesh: Mesh = feature_meshes([feature])
    if mesh.is_empty:
        return None
    lo, hi = mesh.bounds()
    origin = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    frame = CityFrame(epsg, EnuFrame.at_city_point(float(origin[0]), float(origin[1]), float(origin[2]), epsg))
    enu = frame.to_enu(mesh.vertices)
    normals = frame.rotate_normals(mesh.normals, origin)
    cid = collection_of(feature)
    table = layer_of_collection(cid).table([feature], terrain)
    extras = {
        "georeference": {
            "axes": "glTF y-up local metres: x = east, y = up, z = -north",
            "origin": {"lon": frame.enu.lon, "lat": frame.enu.lat, "height": frame.enu.height},
            "origin_city": {"crs": f"EPSG:{epsg}", "x": float(origin[0]), "y": float(origin[1]), "z": float(origin[2])},
            "enu_to_ecef": frame.enu.matrix(),
            "ecef_crs": "EPSG:4978",
            "heights": "city datum heights written as ellipsoidal heights (no geoid model)",
        },
        "collection": cid,
        "id": feature.id,
    }
    return encode_glb(
        yup(enu),
        mesh.faces,
        normals=yup(normals),
        colors=mesh.colors,
        feature=mesh.feature,
        table=table,
        extras=extras,
        name=feature.id,
    )
