"""Request dependencies: the store, the settings, and parameter groups shared by routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from cim.city import LocalCity
from cim.crs import check_supported
from cim.store import Store

from .settings import Settings


# The dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in the thread pool, a hop that
# cost more than the work of these one-liners (BENCHMARKS.md, items profile).
async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_city(request: Request) -> LocalCity:
    """The service's city (the library's service layer over the store), made once per app."""
    return request.app.state.city


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CityDep = Annotated[LocalCity, Depends(get_city)]


def base_url(request: Request) -> str:
    """The service root as clients reach it (honours a proxy's root_path)."""
    return str(request.base_url).rstrip("/")


@dataclass
class OutputCRSParam:
    """``crs`` (OGC API - Features Part 2): the CRS of returned coordinates."""

    crs: Annotated[
        str | None,
        Query(
            description="CRS of the returned coordinates (URI); default CRS84. "
            "Coordinates are written in the CRS's official axis order."
        ),
    ] = None

    def uri(self, store: Store, city_epsg: int | None = None) -> str:
        """The normalised URI of ``crs`` (default CRS84); ``city_epsg`` saves a read of the city record."""
        return check_supported(self.crs, store.city().crs_epsg if city_epsg is None else city_epsg, "crs")


async def output_crs(
    crs: Annotated[
        str | None,
        Query(
            description="CRS of the returned coordinates (URI); default CRS84. "
            "Coordinates are written in the CRS's official axis order."
        ),
    ] = None,
) -> OutputCRSParam:
    """``crs`` as :class:`OutputCRSParam`, without the thread-pool hop of a class dependency."""
    return OutputCRSParam(crs)


OutputCRSDep = Annotated[OutputCRSParam, Depends(output_crs)]


def _check_bearer(request: Request, tokens: list[str]) -> None:
    import hmac

    auth = request.headers.get("authorization", "")
    scheme, _, given = auth.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(
            401,
            "This request needs a bearer token: Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="cim"'},
        )
    if not any(hmac.compare_digest(given.strip().encode(), t.encode()) for t in tokens):
        raise HTTPException(
            401,
            "The bearer token is not valid.",
            headers={"WWW-Authenticate": 'Bearer realm="cim", error="invalid_token"'},
        )


async def require_writer(request: Request) -> None:
    """Writes need ``Authorization: Bearer <token>`` with a configured write token (RFC 6750 answers)."""
    settings: Settings = request.app.state.settings
    tokens = settings.tokens()
    if not tokens:
        raise HTTPException(
            403, "Writes are disabled on this service: no write token is configured (set CIM_WRITE_TOKENS)."
        )
    _check_bearer(request, tokens)


async def require_reader(request: Request) -> None:
    """With ``protect_reads`` on, every route but /health needs a read or write token."""
    settings: Settings = request.app.state.settings
    if settings.protect_reads and request.url.path != "/health":
        _check_bearer(request, settings.read_token_list())


WriterDep = Depends(require_writer)
