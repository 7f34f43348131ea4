"""The application factory: ``create_app(settings)``; run with ``uvicorn --factory api.main:create_app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

import cim
from cim.city import Limits, LocalCity
from cim.crs import warm_up
from cim.store import open_store

from . import errors
from .deps import require_reader
from .html import HTMLPages
from .lean import LeanUnderground
from .routers import (
    analysis,
    collections,
    grids,
    highrise,
    imports,
    indicators,
    landing,
    processes,
    registered,
    sensorthings,
    tiles,
    versions,
)
from .settings import Settings
from .tilecache import TileCache
from .timeouts import TimeLimit


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app.  The store opens when the app starts and closes when it stops."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(
            settings.store,
            read_url=settings.store_read,
            sqlite_mmap_mb=settings.sqlite_mmap_mb,
            sqlite_cache_mb=settings.sqlite_cache_mb,
        )
        warm_up(store.city().crs_epsg)  # fails at start-up when the store is not a city
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        app.state.store = store
        app.state.tile_cache = TileCache(store)
        app.state.tile_cache.warm()  # the city's frame for 3D Tiles, in the background
        app.state.city = LocalCity(
            store,
            pipeline_rules=settings.pipeline_rules,
            limits=Limits(max_area_km2=settings.max_analysis_area_km2),
        )
        try:
            yield
        finally:
            app.state.tile_cache.close()
            store.close()

    app = FastAPI(
        title=settings.title,
        description=settings.description,
        version=cim.__version__,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(require_reader)],
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(LeanUnderground)  # innermost: inside the time limit and CORS
    app.add_middleware(HTMLPages)  # HTML for browsers on the landing, collection, item and process pages
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["Content-Crs", "ETag"],
        )
    app.add_middleware(TimeLimit, seconds=settings.analysis_timeout_s, prefix=("/analysis", "/processes"))
    app.include_router(landing.router)
    app.include_router(collections.router)
    app.include_router(imports.router)
    app.include_router(highrise.router)
    app.include_router(analysis.router)
    app.include_router(registered.router())
    app.include_router(processes.router)
    app.include_router(grids.router)
    app.include_router(indicators.router)
    app.include_router(tiles.router)
    app.include_router(versions.router)
    app.include_router(sensorthings.router)
    return app
