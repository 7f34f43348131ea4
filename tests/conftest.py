"""Fixtures: stores (every backend), the tiny test city, the sample city, a real server."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from pathlib import Path

import pytest

from bench.common import Server as BenchServer
from cim.store import open_store

from . import common

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def shared_data(*parts: str) -> Path:
    """A file under ../shared/data; skips (or fails under CI) when ../shared is absent."""
    path = SHARED.joinpath("data", *parts)
    if not SHARED.exists():
        if os.environ.get("CI"):
            pytest.fail(f"../shared is missing at {SHARED}; CI needs the real data files")
        pytest.skip(f"../shared is absent ({SHARED}); real-data tests skipped")
    return path


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL + PostGIS cluster for the whole session (skips where none can be had)."""
    from . import pg

    why = pg.why_unavailable()
    if why:
        pytest.skip(f"PostGIS tests skipped: {why}")
    cluster = pg.Cluster()
    yield cluster
    cluster.stop()


def _new_store(backend: str, tmp_path: Path, request) -> tuple[str, object]:
    if backend == "sqlite":
        return str(tmp_path / "city.sqlite"), None
    cluster = request.getfixturevalue("pg_cluster")
    return f"{cluster.url}?schema=t_{uuid.uuid4().hex[:12]}", cluster


@pytest.fixture(params=["sqlite", "postgis"])
def empty_store(request, tmp_path):
    """An initialised, empty store of each backend (the contract tests run on every one)."""
    url, _ = _new_store(request.param, tmp_path, request)
    store = open_store(url, create=True)
    store.init(common.CITY)
    yield store
    store.close()


@pytest.fixture
def store(empty_store):
    """The tiny test city, with terrain."""
    empty_store.write(common.all_features(), terrain=common.terrain())
    return empty_store


@pytest.fixture(scope="session")
def tiny_city_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "tiny.sqlite"
    s = open_store(path, create=True)
    s.init(common.CITY)
    s.write(common.all_features(), terrain=common.terrain())
    s.close()
    return path


@pytest.fixture(scope="session")
def sample_city_path(tmp_path_factory) -> Path:
    """The sample city, built once per test session."""
    from sample_city import build_sample_city

    path = tmp_path_factory.mktemp("sample") / "sample.cim.sqlite"
    build_sample_city(path)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server(BenchServer):
    """A real uvicorn process serving a store on loopback, started at once (bench/common.py's server,
    logging to a temporary file)."""

    def __init__(self, store: Path | str, workers: int = 1, **env_vars: str) -> None:
        log = Path(tempfile.mkdtemp(prefix="cim-server-")) / "server.log"
        super().__init__(
            Path(store) if "://" not in str(store) else store, workers=workers, log=log, extra_env=env_vars
        )
        self.start()


@pytest.fixture(scope="session")
def sample_server(sample_city_path):
    server = Server(sample_city_path)
    yield server
    server.stop()
