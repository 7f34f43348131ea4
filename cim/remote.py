"""The remote city moved to :mod:`cim.city.remote`; this name stays for existing imports."""

from .city.remote import *  # noqa: F403
from .city.remote import RemoteCity, RemoteError, connect, glb_triangles, yup_to_city  # noqa: F401
