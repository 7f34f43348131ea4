"""District metered areas (DMA, 计量分区): the ``water-districts`` collection's feature type."""

from __future__ import annotations

from pydantic import Field, field_validator

from ..model import Finite, Ring, _Base, _clean_ring


class WaterDistrict(_Base):
    """A district metered area: a polygon (city CRS, metres) with the meters on the pipes entering it.

    ``inlets``: ids of the datastreams (m³/h) of its inlet meters; ``outlets``: of meters on pipes leaving it
    (their flow is subtracted).  Datastreams whose Thing names this district (``cim:feature`` =
    ``water-districts/<id>``, role ``dma-inlet`` / ``dma-outlet``) count too.
    """

    area: list[Ring] = Field(min_length=1, description="Exterior ring then holes, metres.")
    inlets: list[int | str] = Field(default_factory=list, description="Datastream ids of the inlet meters (m³/h).")
    outlets: list[int | str] = Field(default_factory=list, description="Datastream ids of the outlet meters (m³/h).")
    legitimate_night_use_m3_per_h: Finite | None = Field(
        None, ge=0, description="Legitimate night use (m³/h); None: from the district's population."
    )
    network: str | None = Field(None, description="The EPANET network the district belongs to, if any.")

    @field_validator("area")
    @classmethod
    def _rings(cls, v: list[Ring]) -> list[Ring]:
        return [_clean_ring(r, "district ring") for r in v]
