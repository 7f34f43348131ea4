"""Analyses over a city store (library only: no server imports).  Each analysis is its own module."""

from .compliance import ComplianceReport, PipelineRules, Violation, pipe_compliance  # noqa: F401
from .excavation import Excavation, ExcavationHit, excavation_conflicts  # noqa: F401
from .highrise import Proposal, ScreeningResult, screen_buildings, screen_proposals  # noqa: F401
from .underground import DEFAULT_BANDS, BandUse, UndergroundUse, underground_use  # noqa: F401
