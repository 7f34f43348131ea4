"""Coordinate reference systems: parsing CRS identifiers and cached, vectorised transforms.

Inside the library every planar coordinate is (easting, northing) in the city CRS.  Axis order
only matters at the edges: :class:`OutputCRS` writes, and :func:`to_city_xy` reads, coordinates in
the order a CRS officially declares (OGC API - Features Part 2: lat/lon for EPSG:4326 and 4490,
northing/easting for EPSG:4550), while CRS84 is always lon/lat.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from .errors import UnsupportedCRS
from .typed import FloatArray

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
_EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"

_PATTERNS = [
    re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/0/(\d+)$", re.I),
    re.compile(r"^urn:ogc:def:crs:EPSG:[\d.]*:(\d+)$", re.I),
    re.compile(r"^EPSG:+(\d+)$", re.I),
    re.compile(r"^\[?EPSG:(\d+)\]?$", re.I),
]


def epsg_uri(code: int) -> str:
    """The OGC URI of an EPSG code (``http://www.opengis.net/def/crs/EPSG/0/<code>``)."""
    return _EPSG_URI.format(code)


def normalise(crs: str) -> str:
    """Canonical OGC URI for a CRS identifier (``EPSG:4550``, URN or URI forms); CRS84 stays CRS84."""
    s = crs.strip().strip("[]")
    if s.rstrip("/").lower() in {CRS84.lower(), "crs84", "ogc:crs84", "urn:ogc:def:crs:ogc:1.3:crs84"}:
        return CRS84
    if s.lower() in {CRS84H.lower(), "ogc:crs84h", "crs84h"}:
        return CRS84H
    for pat in _PATTERNS:
        m = pat.match(s)
        if m:
            return epsg_uri(int(m.group(1)))
    return s


@lru_cache(maxsize=64)
def pyproj_crs(uri: str) -> CRS:
    """A pyproj CRS for a normalised identifier."""
    if uri in (CRS84, CRS84H):
        return CRS.from_user_input("OGC:CRS84")
    m = _PATTERNS[0].match(uri)
    try:
        return CRS.from_epsg(int(m.group(1))) if m else CRS.from_user_input(uri)
    except CRSError as exc:
        raise UnsupportedCRS(uri, []) from exc


@lru_cache(maxsize=64)
def _northing_first(uri: str) -> bool:
    axes = pyproj_crs(uri).axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


def _disk_path() -> str | None:
    """Where looked-up pipelines are kept between processes: ``$CIM_CACHE_DIR`` (default
    ``$XDG_CACHE_HOME/cim`` or ``~/.cache/cim``), one file per PROJ version and database; None turns it off
    (``CIM_CACHE_DIR=""``)."""
    import pyproj

    root = os.environ.get("CIM_CACHE_DIR")
    if root is None:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cim")
    if not root:
        return None
    try:
        db = os.path.join(pyproj.datadir.get_data_dir(), "proj.db")
        stamp = f"{pyproj.proj_version_str}-{int(os.stat(db).st_mtime)}-{os.stat(db).st_size}"
    except OSError:
        return None
    return os.path.join(root, f"proj-pipelines-{stamp}.json")


_disk_lock = threading.Lock()


def _disk_pipelines() -> dict[str, str | None]:
    path = _disk_path()
    if path is None:
        return {}
    try:
        with open(path, "rb") as f:
            got = json.load(f)
        return got if isinstance(got, dict) else {}
    except (OSError, ValueError):
        return {}


def _remember(key: str, pipe: str | None) -> None:
    """Add one pipeline to the file (written whole to a temporary file, then renamed; failures ignored:
    the cache only saves PROJ's database search)."""
    path = _disk_path()
    if path is None:
        return
    with _disk_lock:
        known = _disk_pipelines()
        known[key] = pipe
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(known, f)
            os.replace(tmp, path)
        except OSError:
            pass


@lru_cache(maxsize=64)
def _pipeline(src: str, dst: str) -> str | None:
    """The PROJ pipeline from ``src`` to ``dst`` (lon/lat and east/north order), looked up once; None
    where PROJ keeps several candidate operations (then each thread builds its own with ``from_crs``).

    A lookup is a search of PROJ's database (0.1-0.8 s, most of a command's start-up), so its answer is
    also kept on disk (:func:`_disk_path`), keyed by PROJ's version and database."""
    key = f"{src} {dst}"
    known = _disk_pipelines()
    if key in known:
        return known[key]
    pipe = _lookup(src, dst)
    _remember(key, pipe)
    return pipe


def _lookup(src: str, dst: str) -> str | None:
    t = Transformer.from_crs(pyproj_crs(src), pyproj_crs(dst), always_xy=True)
    if t.definition.startswith("unavailable"):
        area = pyproj_crs(src).area_of_use
        if area is not None:  # PROJ picks the operation on the first call; a point in the area fixes it
            lon, lat = (area.west + area.east) / 2, (area.south + area.north) / 2
            fwd = Transformer.from_crs("OGC:CRS84", pyproj_crs(src), always_xy=True)
            t.transform(*fwd.transform(lon, lat))
    return None if t.definition.startswith("unavailable") else t.definition


_local = threading.local()


def _transformer(src: str, dst: str) -> Transformer:
    """A transformer for this thread.

    pyproj rebuilds a ``from_crs`` transformer in every thread that uses it (a PROJ database search,
    ~250 ms here, serialised across threads), so each server thread keeps its own, built from the
    cached pipeline text (~0.2 ms).
    """
    cache = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    t = cache.get((src, dst))
    if t is None:
        pipe = _pipeline(src, dst)
        t = cache[(src, dst)] = (
            Transformer.from_pipeline(pipe)
            if pipe
            else Transformer.from_crs(pyproj_crs(src), pyproj_crs(dst), always_xy=True)
        )
    return t


def warm_up(city_epsg: int) -> None:
    """Look up the pipelines between the city CRS and every CRS the service offers (at start-up)."""
    city = epsg_uri(city_epsg)
    for uri in supported_crs(city_epsg):
        if uri != city:
            _pipeline(city, uri)
            _pipeline(uri, city)


def supported_crs(city_epsg: int) -> list[str]:
    """The CRSs the service offers for a city: CRS84 first, then CGCS2000, WGS 84, web mercator, the city CRS."""
    codes = [4490, 4326, 3857, city_epsg]
    return [CRS84] + [epsg_uri(c) for c in dict.fromkeys(codes)]


def check_supported(crs: str | None, city_epsg: int, parameter: str = "crs") -> str:
    """Normalised URI of ``crs`` (default CRS84), or UnsupportedCRS naming the parameter."""
    if crs is None or crs == "":
        return CRS84
    uri = normalise(crs)
    allowed = supported_crs(city_epsg)
    if uri not in allowed:
        raise UnsupportedCRS(crs, allowed, parameter)
    return uri


@dataclass(frozen=True)
class OutputCRS:
    """Writes city-CRS (easting, northing) coordinates in a target CRS, in that CRS's axis order."""

    city_epsg: int
    uri: str = CRS84

    @property
    def is_city(self) -> bool:
        return self.uri == epsg_uri(self.city_epsg)

    @property
    def geographic(self) -> bool:
        return pyproj_crs(self.uri).is_geographic

    def xy(self, xy: FloatArray) -> FloatArray:
        """(n, 2) city-CRS metres -> (n, 2) in the target CRS and axis order, rounded (~1 mm)."""
        if self.is_city:
            out = np.asarray(xy, dtype=float).copy()
        else:
            x, y = _transformer(epsg_uri(self.city_epsg), self.uri).transform(xy[:, 0], xy[:, 1])
            out = np.column_stack([x, y])
        out = np.round(out, 8 if self.geographic else 3)
        if self.uri != CRS84 and _northing_first(self.uri):
            out = out[:, ::-1]
        return out


def to_city_xy(xy: FloatArray, crs_uri: str, city_epsg: int) -> FloatArray:
    """(n, 2) coordinates in ``crs_uri`` (in its official axis order) -> (n, 2) city easting, northing."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if crs_uri != CRS84 and _northing_first(crs_uri):
        xy = xy[:, ::-1]
    if crs_uri == epsg_uri(city_epsg):
        return xy.copy()
    x, y = _transformer(crs_uri, epsg_uri(city_epsg)).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def city_to_lonlat(xy: FloatArray, city_epsg: int) -> FloatArray:
    """(n, 2) city easting, northing -> (n, 2) CRS84 longitude, latitude in degrees."""
    x, y = _transformer(epsg_uri(city_epsg), CRS84).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def lonlat_to_city(lonlat: FloatArray, city_epsg: int) -> FloatArray:
    """(n, 2) CRS84 longitude, latitude -> (n, 2) city easting, northing, metres."""
    return to_city_xy(lonlat, CRS84, city_epsg)
