"""Write ``georef_ifc4.ifc``: a small IFC4 building georeferenced with IfcMapConversion (run once; see SOURCES.md).

The model is in millimetres; IfcMapConversion places its origin at E 534100, N 4628300 (EPSG:4550, metres),
orthogonal height 45 m (1985 datum), with the local x axis turned 30° anticlockwise from grid east and
Scale 0.001 (millimetres to metres).  The building is a 20 m x 12 m box: a basement storey (-4.0 m to 0),
three storeys of 3.0 m above ground, walls of 0.3 m, floor slabs of 0.2 m and a flat roof slab; one space
per storey.  ``python tests/data/make_georef_ifc4.py`` rewrites it (ifcopenshell 0.8+).
"""

from __future__ import annotations

import math
from pathlib import Path

import ifcopenshell
import ifcopenshell.api
import numpy as np

EASTINGS, NORTHINGS, HEIGHT, ANGLE_DEG = 534100.0, 4628300.0, 45.0, 30.0
LENGTH, WIDTH, WALL, SLAB, STOREY, BASEMENT = 20.0, 12.0, 0.3, 0.2, 3.0, 4.0


def build() -> ifcopenshell.file:
    api = ifcopenshell.api.run
    f = ifcopenshell.file(schema="IFC4")
    project = api("root.create_entity", f, ifc_class="IfcProject", name="Georeferenced test building")
    mm = f.createIfcSIUnit(None, "LENGTHUNIT", "MILLI", "METRE")
    m2 = f.createIfcSIUnit(None, "AREAUNIT", None, "SQUARE_METRE")
    api("unit.assign_unit", f, units=[mm, m2])
    model = api("context.add_context", f, context_type="Model")
    body = api(
        "context.add_context",
        f,
        context_type="Model",
        context_identifier="Body",
        target_view="MODEL_VIEW",
        parent=model,
    )
    api("georeference.add_georeferencing", f, ifc_class="IfcMapConversion", name="EPSG:4550")
    a = math.radians(ANGLE_DEG)
    api(
        "georeference.edit_georeferencing",
        f,
        coordinate_operation={
            "Eastings": EASTINGS,
            "Northings": NORTHINGS,
            "OrthogonalHeight": HEIGHT,
            "XAxisAbscissa": math.cos(a),
            "XAxisOrdinate": math.sin(a),
            "Scale": 0.001,
        },
        projected_crs={
            "Name": "EPSG:4550",
            "Description": "CGCS2000 / 3-degree Gauss-Kruger CM 123E",
            "GeodeticDatum": "CGCS2000",
            "VerticalDatum": "EPSG:5737",
        },
    )
    site = api("root.create_entity", f, ifc_class="IfcSite", name="Site")
    building = api("root.create_entity", f, ifc_class="IfcBuilding", name="Test office")
    building.ObjectType = "office"
    api("aggregate.assign_object", f, relating_object=project, products=[site])
    api("aggregate.assign_object", f, relating_object=site, products=[building])
    for obj in (site, building):
        api("geometry.edit_object_placement", f, product=obj)
    pset = api("pset.add_pset", f, product=building, name="Pset_BuildingCommon")
    api("pset.edit_pset", f, pset=pset, properties={"YearOfConstruction": "2026", "OccupancyType": "office"})

    levels = [("B1", -BASEMENT, BASEMENT)] + [(f"F{k + 1}", k * STOREY, STOREY) for k in range(3)]
    for name, z0, h in levels:
        storey = api("root.create_entity", f, ifc_class="IfcBuildingStorey", name=name)
        storey.Elevation = z0 * 1000
        api("aggregate.assign_object", f, relating_object=building, products=[storey])
        api("geometry.edit_object_placement", f, product=storey, matrix=_at(0, 0, z0))
        walls = [  # (x, y, rotation deg, length)
            (0, 0, 0, LENGTH),
            (LENGTH, 0, 90, WIDTH),
            (LENGTH, WIDTH, 180, LENGTH),
            (0, WIDTH, 270, WIDTH),
        ]
        for k, (x, y, rot, length) in enumerate(walls):
            wall = api("root.create_entity", f, ifc_class="IfcWall", name=f"{name}-wall-{k + 1}")
            rep = api(
                "geometry.add_wall_representation", f, context=body, length=length, height=h - SLAB, thickness=WALL
            )
            api("geometry.assign_representation", f, product=wall, representation=rep)
            api("geometry.edit_object_placement", f, product=wall, matrix=_at(x, y, z0 + SLAB, rot))
            api("spatial.assign_container", f, relating_structure=storey, products=[wall])
            p = api("pset.add_pset", f, product=wall, name="Pset_WallCommon")
            api("pset.edit_pset", f, pset=p, properties={"IsExternal": True, "LoadBearing": k % 2 == 0})
        slab = api(
            "root.create_entity",
            f,
            ifc_class="IfcSlab",
            name=f"{name}-floor",
            predefined_type="BASESLAB" if z0 < 0 else "FLOOR",
        )
        rep = api(
            "geometry.add_slab_representation",
            f,
            context=body,
            depth=SLAB,
            polyline=[(0, 0), (LENGTH, 0), (LENGTH, WIDTH), (0, WIDTH), (0, 0)],
        )
        api("geometry.assign_representation", f, product=slab, representation=rep)
        api("geometry.edit_object_placement", f, product=slab, matrix=_at(0, 0, z0))
        api("spatial.assign_container", f, relating_structure=storey, products=[slab])
        space = api("root.create_entity", f, ifc_class="IfcSpace", name=f"{name}-room")
        api("aggregate.assign_object", f, relating_object=storey, products=[space])
        if name == "F3":
            roof = api("root.create_entity", f, ifc_class="IfcSlab", name="roof", predefined_type="ROOF")
            rep = api(
                "geometry.add_slab_representation",
                f,
                context=body,
                depth=SLAB,
                polyline=[(0, 0), (LENGTH, 0), (LENGTH, WIDTH), (0, WIDTH), (0, 0)],
            )
            api("geometry.assign_representation", f, product=roof, representation=rep)
            api("geometry.edit_object_placement", f, product=roof, matrix=_at(0, 0, z0 + h))
            api("spatial.assign_container", f, relating_structure=storey, products=[roof])
    return f


def _at(x: float, y: float, z: float, rot_deg: float = 0.0) -> np.ndarray:
    """A 4x4 placement (metres: edit_object_placement converts to the project unit) turned about z."""
    c, s = math.cos(math.radians(rot_deg)), math.sin(math.radians(rot_deg))
    m = np.eye(4)
    m[:2, :2] = [[c, -s], [s, c]]
    m[:3, 3] = [x, y, z]
    return m


if __name__ == "__main__":
    out = Path(__file__).with_name("georef_ifc4.ifc")
    build().write(str(out))
    print(out, out.stat().st_size)
