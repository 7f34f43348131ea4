"""City-service layers: streets, facilities and communities (pydantic feature types).

Coordinates are metres in the city CRS (easting, northing), as everywhere in the library (:mod:`cim.model`).
Facility ``kind`` values come from the vocabulary in ``cim/rules/living_circles.toml``.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, field_validator, model_validator

from .model import XY, Finite, Ring, _Base, _clean_ring


class Street(_Base):
    """A street centreline.  Streets meet where they share a vertex (as in OpenStreetMap)."""

    centreline: list[XY] = Field(min_length=2, description="Vertices (x, y), metres, city CRS.")
    street_class: str | None = Field(
        None, description="Street class (GeoJSON property `class`), e.g. primary, secondary, residential, footway."
    )
    walkable: bool = Field(True, description="Pedestrians may walk along it.")
    drivable: bool = Field(True, description="Motor vehicles may drive along it.")

    @model_validator(mode="after")
    def _length(self) -> Street:
        pts = np.asarray(self.centreline, dtype=float)
        if np.all(np.linalg.norm(np.diff(pts, axis=0), axis=1) == 0):
            raise ValueError("centreline has zero length")
        return self

    def coords(self) -> np.ndarray:
        """(n, 2) float vertices, metres."""
        return np.asarray(self.centreline, dtype=float)


class Facility(_Base):
    """A public-service facility: a point (``position``) or a site polygon (``footprint``)."""

    kind: str = Field(description="Facility kind from the rule data's vocabulary (kindergarten, shelter, ...).")
    position: XY | None = Field(None, description="Point position (x, y), metres.")
    footprint: list[Ring] | None = Field(None, description="Site polygon: exterior ring then holes, metres.")
    floor_area: Finite | None = Field(None, ge=0, description="Gross floor area, m².")
    site_area: Finite | None = Field(None, ge=0, description="Site (land) area, m².")
    capacity: Finite | None = Field(None, ge=0, description="Places (children, beds, persons...).")
    shelter_class: str | None = Field(
        None, description="Shelters: emergency (紧急), fixed-short/fixed-medium/fixed-long (固定), central (中心)."
    )
    effective_area: Finite | None = Field(None, ge=0, description="Shelters: effective refuge area, m².")

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        from .rules.city_services import facility_kinds

        kinds = facility_kinds()
        if v not in kinds:
            raise ValueError(f"unknown facility kind {v!r}; known: {', '.join(kinds)}")
        return v

    @field_validator("shelter_class")
    @classmethod
    def _shelter_class(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from .rules.city_services import shelter_rules

        classes = shelter_rules().classes
        if v not in classes:
            raise ValueError(f"unknown shelter class {v!r}; known: {', '.join(classes)}")
        return v

    @field_validator("footprint")
    @classmethod
    def _rings(cls, v: list[Ring] | None) -> list[Ring] | None:
        return None if v is None else [_clean_ring(r, "footprint ring") for r in v]

    @model_validator(mode="after")
    def _where(self) -> Facility:
        if (self.position is None) == (self.footprint is None):
            raise ValueError("a facility needs either a position or a footprint")
        return self

    def point(self) -> tuple[float, float]:
        """The position, or the site polygon's centroid, metres."""
        if self.position is not None:
            return self.position
        import shapely

        c = shapely.Polygon(self.footprint[0]).centroid  # type: ignore[index]
        return (c.x, c.y)


class Community(_Base):
    """A community (社区) or residential quarter (居住街坊) with its population."""

    footprint: list[Ring] = Field(min_length=1, description="Exterior ring then holes, metres.")
    population: int | None = Field(None, ge=0, description="Residents.")
    level: str | None = Field(None, description="community (社区) or quarter (居住街坊).")

    @field_validator("footprint")
    @classmethod
    def _rings(cls, v: list[Ring]) -> list[Ring]:
        return [_clean_ring(r, "footprint ring") for r in v]


__all__ = ["Street", "Facility", "Community"]
