"""Georeferencing: city coordinates to geodetic, ECEF (EPSG:4978) and a local east-north-up frame.

Heights.  The city's heights are in its vertical datum (e.g. EPSG:5737, 1985 national heights); with no
geoid model available offline, they are written as ellipsoidal heights unchanged (h = H).  Everything
of a city is then offset by the same geoid undulation (a few metres over a city; about 10 m at
Shenyang): relative placement — buildings on the terrain, pipes under it — is exact, and the viewer's
globe is the bare ellipsoid.  Planar coordinates go through pyproj exactly (city CRS -> longitude,
latitude), so grid convergence and scale (about 0.3 degrees and 15 ppm at Shenyang in EPSG:4550) are
taken care of.

glTF is y-up: local east-north-up metres (e, n, u) are written as (x = e, y = u, z = -n); 3D Tiles
rotates y-up content to z-up before applying a tile's transform, which is the ENU-to-ECEF matrix of
:class:`EnuFrame`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cim.crs import city_to_lonlat
from cim.typed import FloatArray

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
WGS84_E2 = WGS84_F * (2 - WGS84_F)


def geodetic_to_ecef(lon: FloatArray, lat: FloatArray, h: FloatArray) -> FloatArray:
    """Longitude, latitude (degrees), ellipsoidal height (m) on WGS 84 -> (n, 3) ECEF metres (EPSG:4978)."""
    lo, la = np.radians(lon), np.radians(lat)
    sl, cl = np.sin(la), np.cos(la)
    n = WGS84_A / np.sqrt(1 - WGS84_E2 * sl * sl)
    return np.column_stack([(n + h) * cl * np.cos(lo), (n + h) * cl * np.sin(lo), (n * (1 - WGS84_E2) + h) * sl])


def city_to_geodetic(xyz: FloatArray, epsg: int) -> FloatArray:
    """(n, 3) city easting, northing, height -> (n, 3) longitude, latitude (degrees), height (m)."""
    xyz = np.asarray(xyz, dtype=float).reshape(-1, 3)
    ll = city_to_lonlat(xyz[:, :2], epsg)
    return np.column_stack([ll, xyz[:, 2]])


@dataclass(frozen=True)
class EnuFrame:
    """A local east-north-up frame at a point: ``origin`` (3,) ECEF metres, ``rotation`` (3, 3) whose
    columns are the east, north and up unit vectors in ECEF."""

    origin: FloatArray
    rotation: FloatArray
    lon: float
    lat: float
    height: float

    @classmethod
    def at(cls, lon: float, lat: float, height: float = 0.0) -> EnuFrame:
        lo, la = np.radians(lon), np.radians(lat)
        east = np.array([-np.sin(lo), np.cos(lo), 0.0])
        north = np.array([-np.sin(la) * np.cos(lo), -np.sin(la) * np.sin(lo), np.cos(la)])
        up = np.array([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
        origin = geodetic_to_ecef(np.array([lon]), np.array([lat]), np.array([height]))[0]
        return cls(origin, np.column_stack([east, north, up]), lon, lat, height)

    @classmethod
    def at_city_point(cls, x: float, y: float, z: float, epsg: int) -> EnuFrame:
        lon, lat, h = city_to_geodetic(np.array([[x, y, z]]), epsg)[0]
        return cls.at(float(lon), float(lat), float(h))

    def ecef_to_enu(self, ecef: FloatArray) -> FloatArray:
        return (np.asarray(ecef, dtype=float) - self.origin) @ self.rotation

    def enu_to_ecef(self, enu: FloatArray) -> FloatArray:
        return np.asarray(enu, dtype=float) @ self.rotation.T + self.origin

    def matrix(self) -> list[float]:
        """The 4 x 4 ENU-to-ECEF matrix, column-major (a 3D Tiles ``transform``, a glTF node ``matrix``)."""
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.origin
        return [float(v) for v in m.T.ravel()]


@dataclass(frozen=True)
class CityFrame:
    """An ENU frame for a city: converts city coordinates to local ENU metres (float64) and back-checks."""

    epsg: int
    enu: EnuFrame

    @classmethod
    def around(cls, bounds: tuple[float, float, float, float, float, float], epsg: int) -> CityFrame:
        """A frame at the centre of city ``bounds`` (minx, miny, minz, maxx, maxy, maxz), at height minz."""
        x = (bounds[0] + bounds[3]) / 2
        y = (bounds[1] + bounds[4]) / 2
        return cls(epsg, EnuFrame.at_city_point(x, y, bounds[2], epsg))

    def geodetic(self, xyz: FloatArray) -> FloatArray:
        return city_to_geodetic(xyz, self.epsg)

    def to_enu(self, xyz: FloatArray, geodetic: FloatArray | None = None) -> FloatArray:
        """(n, 3) city coordinates -> (n, 3) ENU metres (``geodetic``: their lon, lat, h if known)."""
        g = self.geodetic(xyz) if geodetic is None else geodetic
        return self.enu.ecef_to_enu(geodetic_to_ecef(g[:, 0], g[:, 1], g[:, 2]))

    def linear(self, x: float, y: float, z: float) -> FloatArray:
        """(3, 3) Jacobian of city -> ENU at a point (rotates city-CRS normals into the frame)."""
        pts = np.array([[x, y, z], [x + 1, y, z], [x, y + 1, z], [x, y, z + 1]])
        e = self.to_enu(pts)
        return (e[1:] - e[0]).T

    def rotate_normals(self, normals: FloatArray, at: FloatArray) -> FloatArray:
        """(n, 3) unit vectors in city axes -> ENU axes, with the Jacobian at the point ``at`` (3,)."""
        n = np.asarray(normals, dtype=float) @ self.linear(*np.asarray(at, dtype=float)).T
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def yup(enu: FloatArray) -> FloatArray:
    """(n, 3) east, north, up -> glTF y-up (x = e, y = u, z = -n)."""
    enu = np.asarray(enu)
    return np.column_stack([enu[:, 0], enu[:, 2], -enu[:, 1]])
