"""A deterministic generator of a Shenyang-like sample district (see README.md in this folder).

from sample_city import build_sample_city
summary = build_sample_city("data/sample.cim.sqlite")   # also writes data/sample.las
"""

from .generator import SampleCitySummary, build_sample_city, default_las_path
from .towers import THRESHOLD_TOWERS, Tower
from .violations import PlantedViolation

__all__ = [
    "build_sample_city",
    "SampleCitySummary",
    "default_las_path",
    "PlantedViolation",
    "THRESHOLD_TOWERS",
    "Tower",
]
