"""The city information model: pydantic feature types and city metadata.

Conventions (everywhere in the library):

* planar coordinates are metres in the city's projected CRS (``City.crs_epsg``, e.g. EPSG:4550,
  always in (easting, northing) order inside the library, whatever the CRS's official axis order);
* heights and elevations are metres in the city's vertical datum (``City.vertical_datum``, e.g.
  EPSG:5737, the 1985 national height datum); "depth" is metres below the ground surface;
* rings are lists of (x, y) without the closing vertex repeated (it is accepted on input and
  dropped), exterior ring first, then holes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .typed import ArrayNx2, ArrayNx3

Finite = Annotated[float, Field(allow_inf_nan=False)]
XY = tuple[Finite, Finite]
XYZ = tuple[Finite, Finite, Finite]
Ring = list[XY]


class BuildingUse(StrEnum):
    """What a building is used for (GB 50352 categories; mixed counts as residential)."""

    residential = "residential"
    public = "public"
    commercial = "commercial"
    industrial = "industrial"
    mixed = "mixed"
    unknown = "unknown"  # the source states no use (imports): screened as the stricter use, and said so


class StructureType(StrEnum):
    """The type of a building's part or structure."""

    masonry = "masonry"  # 砖混
    rc_frame = "rc_frame"  # 钢筋混凝土框架
    shear_wall = "shear_wall"  # 剪力墙
    frame_core_tube = "frame_core_tube"  # 框架-核心筒
    steel = "steel"  # 钢结构
    composite = "composite"  # 钢-混凝土混合
    other = "other"


class Utility(StrEnum):
    """The eight utility types of GB 50289-2016, in no particular order."""

    water = "water"
    reclaimed = "reclaimed"
    sewer = "sewer"
    storm = "storm"
    gas = "gas"
    heat = "heat"
    power = "power"
    telecom = "telecom"


class LaneType(StrEnum):
    """Where a pipe is buried; selects the minimum-cover column of GB 50289 table 4.1.1."""

    footway = "footway"  # 人行道 / 非机动车道
    motor_lane = "motor_lane"  # 机动车道
    green = "green"  # 绿化带


class NodeKind(StrEnum):
    """What a pipe network node is (manhole, valve chamber, junction ...)."""

    manhole = "manhole"
    valve = "valve"
    junction = "junction"
    hydrant = "hydrant"
    inlet = "inlet"
    outfall = "outfall"
    reservoir = "reservoir"  # a source of fixed head (EPANET)
    tank = "tank"  # a storage tank (EPANET)
    pump = "pump"  # a pump station, placed at the middle of the pump link (EPANET)


class StructureKind(StrEnum):
    """What an underground structure is (basement, tunnel, utility tunnel, station ...)."""

    basement = "basement"
    tunnel = "tunnel"  # e.g. a metro running tunnel
    utility_tunnel = "utility_tunnel"  # 综合管廊
    civil_defence = "civil_defence"  # 人防工程
    station = "station"  # metro station box


class SurfaceType(StrEnum):
    """The semantic type of a building surface (CityGML / CityJSON)."""

    roof = "roof"
    wall = "wall"
    ground = "ground"


def _clean_ring(ring: list[tuple[float, float]], what: str) -> list[tuple[float, float]]:
    if len(ring) > 1 and tuple(ring[0]) == tuple(ring[-1]):
        ring = ring[:-1]
    if len(ring) < 3:
        raise ValueError(f"{what} needs at least 3 distinct vertices, got {len(ring)}")
    return [(float(x), float(y)) for x, y in ring]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False, use_enum_values=False)

    id: str = Field(min_length=1, max_length=200, description="Feature id, unique in its collection.")
    name: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, description="Source attributes kept as given (imports).")


class Surface(BaseModel):
    """One boundary surface: a planar polygon in 3D (metres, city CRS and datum), exterior ring first."""

    model_config = ConfigDict(extra="forbid")
    type: SurfaceType | None = Field(None, description="Semantic type; None where the source gives none.")
    rings: list[list[XYZ]] = Field(min_length=1)
    part: str | None = Field(None, description="Id of the building part that carries the surface.")


class LodGeometry(BaseModel):
    """One level of detail of a feature's geometry, kept as the source gives it."""

    model_config = ConfigDict(extra="forbid")
    lod: str = Field(description='Level of detail as in the source: "1", "1.2", "2.2", ...')
    kind: Literal["Solid", "CompositeSolid", "MultiSolid", "MultiSurface", "CompositeSurface"] = "Solid"
    surfaces: list[Surface] = Field(min_length=1)
    part: str | None = None


class Storey(BaseModel):
    """A storey of a BIM building (IfcBuildingStorey): its name and floor elevation in the city datum."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    global_id: str | None = Field(None, description="IFC GlobalId.")
    elevation: Finite = Field(description="Floor elevation, metres (city datum).")
    below_ground: bool = Field(False, description="Below the building's ground level (a basement storey).")
    elements: int = Field(0, ge=0, description="Elements contained in the storey.")


class BuildingElement(BaseModel):
    """One element of a BIM building (a wall, slab, roof, door, window, space ...) as imported from IFC.

    ``bounds`` is its 3-D box in the city CRS and datum (minx, miny, minz, maxx, maxy, maxz; metres), None
    when it has no body geometry; its triangles are in the building's ``surfaces`` (``part`` = ``global_id``).
    """

    model_config = ConfigDict(extra="forbid")
    global_id: str = Field(description="IFC GlobalId.")
    ifc_class: str = Field(description='IFC entity, e.g. "IfcWallStandardCase".')
    name: str | None = None
    predefined_type: str | None = None
    storey: str | None = Field(None, description="Name of the storey that contains it.")
    parent: str | None = Field(None, description="GlobalId of the element it is a part of (CIM level 7).")
    below_ground: bool = Field(False, description="In a basement storey or wholly below the ground level.")
    bounds: tuple[Finite, Finite, Finite, Finite, Finite, Finite] | None = None
    psets: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Property and quantity sets.")


class Building(_Base):
    """A building: an LOD1 prism (footprint x ground..roof) with optional LOD2 surfaces."""

    footprint: list[Ring] = Field(min_length=1, description="Exterior ring then holes, metres.")
    ground_elevation: Finite = Field(description="Ground (terrain) elevation at the building, metres.")
    height: Finite = Field(gt=0, le=1000, description="Building height above ground to the parapet, metres.")
    roof_elevation: Finite | None = Field(
        None, description="Absolute roof elevation, metres; defaults to ground_elevation + height."
    )
    floors_above: int | None = Field(None, ge=0, le=250)
    floors_below: int = Field(0, ge=0, le=20)
    use: BuildingUse = BuildingUse.residential
    year_built: int | None = Field(None, ge=1000, le=2100)
    structure: StructureType | None = None
    green_star: int | None = Field(None, ge=0, le=3, description="Green building star rating (0-3).")
    cim_level: int = Field(3, ge=1, le=7, description="CIM level of detail (CJJ/T 315-2022), 1-7.")
    surfaces: list[Surface] | None = Field(None, description="Boundary surfaces for display (the best LOD).")
    lods: list[LodGeometry] | None = Field(None, description="Every LOD geometry as imported.")
    parts: list[str] | None = Field(None, description="Ids of building parts merged into this building.")
    height_source: Literal["attribute", "geometry", "floors", "lidar", "design", "default"] | None = Field(
        None,
        description="Where the height comes from; 'floors' marks an estimate from the floor count, 'default' the "
        "import's --default-height.",
    )
    storeys: list[Storey] | None = Field(None, description="Storeys of a BIM (IFC) building, lowest first.")
    elements: list[BuildingElement] | None = Field(None, description="Elements of a BIM (IFC) building.")

    @field_validator("footprint")
    @classmethod
    def _rings(cls, v: list[Ring]) -> list[Ring]:
        return [_clean_ring(r, "footprint ring") for r in v]

    @model_validator(mode="after")
    def _roof(self) -> Building:
        if self.roof_elevation is None:
            self.roof_elevation = self.ground_elevation + self.height
        return self

    def exterior(self) -> ArrayNx2:
        """Exterior ring as an (n, 2) float array, metres."""
        return np.asarray(self.footprint[0], dtype=float)


class PipeSegment(_Base):
    """A pipe between two nodes, along a 3D centreline (z = axis elevation, metres)."""

    utility: Utility
    centreline: list[XYZ] = Field(min_length=2)
    diameter: Finite | None = Field(None, gt=0, le=20, description="Outer diameter, metres (circular).")
    width: Finite | None = Field(None, gt=0, le=50, description="Box section outer width, metres.")
    section_height: Finite | None = Field(None, gt=0, le=50, description="Box section outer height, metres.")
    pressure_class: str | None = Field(None, description="e.g. gas: low, medium, sub-high B, sub-high A.")
    material: str | None = None
    year: int | None = Field(None, ge=1800, le=2100)
    lane: LaneType | None = Field(None, description="Burial location (cover rule column).")
    from_node: str | None = None
    to_node: str | None = None
    in_conduit: bool = Field(False, description="Power/telecom in a protective conduit.")

    @model_validator(mode="after")
    def _section(self) -> PipeSegment:
        box = self.width is not None or self.section_height is not None
        if self.diameter is None and not box:
            raise ValueError("a pipe needs a diameter or a box section (width and section_height)")
        if box and (self.width is None or self.section_height is None):
            raise ValueError("a box section needs both width and section_height")
        if self.diameter is not None and box:
            raise ValueError("give either diameter or width/section_height, not both")
        pts = np.asarray(self.centreline)
        if np.all(np.linalg.norm(np.diff(pts[:, :2], axis=0), axis=1) == 0):
            raise ValueError("centreline has zero horizontal length")
        return self

    @property
    def outer_height(self) -> float:
        """Vertical outer size of the section, metres."""
        return float(self.diameter if self.diameter is not None else self.section_height)  # type: ignore[arg-type]

    @property
    def outer_width(self) -> float:
        """Horizontal outer size of the section, metres."""
        return float(self.diameter if self.diameter is not None else self.width)  # type: ignore[arg-type]

    def coords(self) -> ArrayNx3:
        """Centreline as an (n, 3) float array, metres."""
        return np.asarray(self.centreline, dtype=float)


class PipeNode(_Base):
    """A manhole, valve or junction.  ``position`` z is the ground / cover elevation."""

    kind: NodeKind
    utility: Utility
    position: XYZ
    depth: Finite | None = Field(
        None, ge=0, le=100, description="Depth of the chamber or invert below the cover, metres."
    )
    diameter: Finite | None = Field(None, gt=0, le=20, description="Chamber diameter, metres.")


class Compartment(BaseModel):
    """One compartment (舱) of a utility tunnel."""

    model_config = ConfigDict(extra="forbid")
    name: str
    contents: list[Utility] = Field(default_factory=list)
    width: Finite | None = Field(None, gt=0)
    height: Finite | None = Field(None, gt=0)
    voltage_kv: Finite | None = Field(None, ge=0, description="Highest cable voltage, kV.")


class UndergroundStructure(_Base):
    """Basements and civil-defence spaces (footprint prism between top and bottom elevation),
    or tunnels and utility tunnels (a section swept along a 3D centreline, z = axis elevation)."""

    kind: StructureKind
    footprint: list[Ring] | None = None
    top_elevation: Finite | None = None
    bottom_elevation: Finite | None = None
    centreline: list[XYZ] | None = None
    section: Literal["box", "circular"] | None = None
    width: Finite | None = Field(None, gt=0, le=200, description="Outer width or diameter, metres.")
    section_height: Finite | None = Field(None, gt=0, le=200, description="Outer height, metres.")
    compartments: list[Compartment] = Field(default_factory=list)
    building_id: str | None = Field(None, description="The building above (basements).")
    year: int | None = Field(None, ge=1800, le=2100)

    @field_validator("footprint")
    @classmethod
    def _rings(cls, v: list[Ring] | None) -> list[Ring] | None:
        return None if v is None else [_clean_ring(r, "footprint ring") for r in v]

    @model_validator(mode="after")
    def _shape(self) -> UndergroundStructure:
        if self.footprint is not None:
            if self.top_elevation is None or self.bottom_elevation is None:
                raise ValueError("a footprint structure needs top_elevation and bottom_elevation")
            if not self.bottom_elevation < self.top_elevation:
                raise ValueError("bottom_elevation must be below top_elevation")
        elif self.centreline is not None:
            if len(self.centreline) < 2:
                raise ValueError("centreline needs at least 2 points")
            if self.section is None or self.width is None:
                raise ValueError("a swept structure needs section and width")
            if self.section == "box" and self.section_height is None:
                raise ValueError("a box section needs section_height")
        else:
            raise ValueError("an underground structure needs a footprint or a centreline")
        return self

    @property
    def is_swept(self) -> bool:
        return self.centreline is not None


class FireStation(BaseModel):
    """A fire-rescue station: its position and what it can reach."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    position: XY
    ladder_reach: Finite = Field(gt=0, description="Highest aerial-ladder reach, metres.")
    response_radius: Finite = Field(gt=0, description="Response radius, metres.")


class City(BaseModel):
    """City metadata: reference systems and the profile that selects rules."""

    model_config = ConfigDict(extra="forbid")
    name: str = "City"
    crs_epsg: int = Field(4550, description="Projected CRS of all planar coordinates (EPSG code).")
    vertical_datum: str | None = Field(
        "EPSG:5737",
        description="Height datum (EPSG:5737 = 1985 national); None: unknown (a 2-D CRS outside China, given "
        "without a height datum).",
    )
    urban_population: int | None = Field(None, ge=0, description="城区常住人口; selects rule thresholds.")
    frost_depth: Finite = Field(1.2, ge=0, le=5, description="Standard frost depth, metres.")
    fire_stations: list[FireStation] = Field(default_factory=list)
    persons_per_m2: Finite = Field(
        0.025, gt=0, le=1, description="Residents per m² of residential floor area (M: 40 m² per person)."
    )
    water_service_pressure_m: Finite = Field(
        14.0, ge=0, le=100, description="Least water pressure of a served node, metres of head (M)."
    )

    @property
    def crs(self) -> str:
        return f"EPSG:{self.crs_epsg}"


Feature = Building | PipeSegment | PipeNode | UndergroundStructure
