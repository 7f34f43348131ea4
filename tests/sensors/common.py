"""Shared bodies for the sensor tests."""

from __future__ import annotations

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
T0 = "2026-03-01T00:00:00Z"
T0_MS = 1772323200000  # 2026-03-01T00:00:00Z in ms since 1970


def thing(name: str = "Logger 1", feature: str = "pipe-nodes/N-1", thresholds=None, **props) -> dict:
    """A Thing with a Location and one numeric Datastream (deep insert body)."""
    ds_props = {"thresholds": thresholds} if thresholds is not None else {}
    return {
        "name": name,
        "description": "pressure logger",
        "properties": {"cim:feature": feature, **props},
        "Locations": [
            {
                "name": f"{name} chamber",
                "description": "chamber",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [123.41, 41.79]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} pressure",
                "description": "pressure",
                "observationType": MEASUREMENT,
                "unitOfMeasurement": {"name": "bar", "symbol": "bar", "definition": "urn:bar"},
                "properties": ds_props,
                "Sensor": {"name": "PT", "description": "transducer", "encodingType": "text/plain", "metadata": "m"},
                "ObservedProperty": {"name": "pressure", "definition": "urn:p", "description": "pressure"},
            }
        ],
    }


def minutes(n: int, start_ms: int = T0_MS) -> list[str]:
    """n ISO instants one minute apart from start."""
    import numpy as np

    t = (np.int64(start_ms) + np.arange(n, dtype=np.int64) * 60_000).astype("datetime64[ms]")
    return [s + "Z" for s in np.datetime_as_string(t, unit="s").tolist()]
