"""A throwaway PostgreSQL + PostGIS cluster for the tests: private data folder, loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bindir() -> Path | None:
    for cand in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (cand / "initdb").exists():
            return cand
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _has_postgis() -> bool:
    return any(Path("/usr/share/postgresql").glob("*/extension/postgis.control"))


def why_unavailable() -> str | None:
    """None when a cluster can be started here, else the reason."""
    if _bindir() is None:
        return "PostgreSQL is not installed (apt-get install postgresql-15-postgis-3; `make test` does it as root)"
    if not _has_postgis():
        return "PostGIS is not installed (apt-get install postgresql-15-postgis-3)"
    return None


class Cluster:
    """initdb + pg_ctl on a free loopback port; ``url`` reaches the ``postgres`` database as superuser ``cim``."""

    def __init__(self, primary: Cluster | None = None, *, folder: Path | None = None) -> None:
        """A new cluster; with ``primary``, a hot standby of it (``pg_basebackup -R``: streaming replication);
        with ``folder``, a cluster whose data folder (``folder/data``) is kept between runs and reused when there
        (``fresh`` says whether it was made now; :meth:`stop` then keeps it)."""
        bindir = _bindir()
        assert bindir is not None
        self.bindir = bindir
        self.kept = folder is not None
        if folder is None:
            self.dir = Path(tempfile.mkdtemp(prefix="cim-pg-"))
        else:
            self.dir = folder.resolve()
            self.dir.mkdir(parents=True, exist_ok=True)
        self.data = self.dir / "data"
        self.fresh = not (self.data / "PG_VERSION").exists()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        if self.fresh and primary is None:
            shutil.rmtree(self.data, ignore_errors=True)  # a kept folder's unfinished data
            self._run("initdb", "-D", str(self.data), "-U", "cim", "-A", "trust", "-E", "UTF8", "--no-sync")
        elif self.fresh:
            self._run(
                "pg_basebackup",
                "-D",
                str(self.data),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "cim",
            )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "120",
            "start",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
        )
        self.url = f"postgresql://cim@127.0.0.1:{self.port}/postgres"
        self.socket_url = f"postgresql://cim@/postgres?host={self.dir}&port={self.port}"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)

    def stop(self) -> None:
        """Stop the server and remove its folder; a kept cluster shuts down cleanly and keeps it."""
        if self.kept:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            return
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
