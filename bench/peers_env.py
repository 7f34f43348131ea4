"""The peers' own virtual environment (``bench/out/peers-venv``) and the processes run from it.

The peers (pygeoapi, cjio, py3dtiles) and the bench-only tools (matplotlib for the plot, py-spy and
pyinstrument for profiles) are installed from PyPI into a virtual environment of their own, made with
``python3 -m venv`` on first use; nothing goes into the project's environment.  Each peer is a group
of requirements installed when a suite first asks for it; a group whose install fails is remembered
(for the run) with its reason, and the suites that need it report ``skipped: <reason>``.

:class:`Proc` runs a server from any environment on loopback and waits until it answers.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import OUT, Proc, free_port  # noqa: F401 - Proc re-exported for the peers

# Exact versions of the peers as measured in shared/notes/PEERS.md; uvicorn is pinned to ours in
# ``groups()`` so that both services run on the same HTTP server.
GROUPS: dict[str, list[str]] = {
    "pygeoapi": ["pygeoapi==0.21.0", "geoalchemy2", "psycopg2-binary", "starlette"],
    "cjio": ["cjio[export]==0.10.1"],
    "py3dtiles": ["py3dtiles[las]==12.1.1"],
    "plot": ["matplotlib"],
    "profile": ["py-spy", "pyinstrument"],
}
INSTALL_TIMEOUT_S = 900


def _our_version(dist: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def groups() -> dict[str, list[str]]:
    uv = _our_version("uvicorn")
    server = [f"uvicorn[standard]=={uv}" if uv else "uvicorn[standard]"]
    return {k: (v + server if k == "pygeoapi" else list(v)) for k, v in GROUPS.items()}


class PeersEnv:
    """``bench/out/peers-venv``: ``ensure(group)`` installs a group once; ``python`` and ``bin(name)`` run it."""

    def __init__(self, root: Path | None = None, log=None) -> None:
        self.root = root or OUT / "peers-venv"
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.failed: dict[str, str] = {}

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.root / "bin" / name

    def _stamp(self, group: str, reqs: list[str]) -> Path:
        digest = hashlib.sha1("\n".join(reqs).encode()).hexdigest()[:12]
        return self.root / f".bench-{group}-{digest}.ok"

    def _create(self) -> str | None:
        if self.python.exists():
            return None
        base = shutil.which("python3") or sys.executable
        self.log(f"peers: creating {self.root} ({base} -m venv)")
        proc = subprocess.run(
            [base, "-m", "venv", str(self.root)], capture_output=True, text=True, check=False, timeout=300
        )
        if proc.returncode != 0:
            return f"python3 -m venv failed: {(proc.stderr or proc.stdout).strip()[-300:]}"
        subprocess.run(
            [str(self.python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
            capture_output=True,
            text=True,
            check=False,
            timeout=INSTALL_TIMEOUT_S,
        )
        return None

    def ensure(self, group: str) -> str | None:
        """None when the group is installed (now or before), else why it is not."""
        if group in self.failed:
            return self.failed[group]
        reqs = groups()[group]
        stamp = self._stamp(group, reqs)
        if stamp.exists() and self.python.exists():
            return None
        why = self._create()
        if why is None:
            self.log(f"peers: pip install {' '.join(reqs)} (into {self.root})")
            t0 = time.perf_counter()
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            try:
                proc = subprocess.run(
                    [str(self.python), "-m", "pip", "install", "--quiet", *reqs],
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=INSTALL_TIMEOUT_S,
                    env=env,
                )
            except subprocess.TimeoutExpired:
                why = f"pip install {' '.join(reqs)} took over {INSTALL_TIMEOUT_S} s"
            else:
                if proc.returncode != 0:
                    lines = [
                        ln
                        for ln in (proc.stderr or proc.stdout).splitlines()
                        if ln.strip() and not ln.startswith("WARNING: Location")
                    ]
                    why = f"pip install {' '.join(reqs)} failed: {' '.join(lines[-3:])[-400:]}"
                else:
                    stamp.write_text("\n".join(reqs) + "\n")
                    self.log(f"peers: {group} installed in {time.perf_counter() - t0:.0f} s")
        if why is not None:
            self.failed[group] = why
            self.log(f"peers: {group} unavailable: {why}")
        return why

    def versions(self, *dists: str) -> dict[str, str | None]:
        """Installed versions of ``dists`` in the peers' environment."""
        code = (
            "import importlib.metadata as m, json, sys\n"
            "def v(d):\n    try: return m.version(d)\n    except m.PackageNotFoundError: return None\n"
            "print(json.dumps({d: v(d) for d in sys.argv[1:]}))"
        )
        proc = subprocess.run([str(self.python), "-c", code, *dists], capture_output=True, text=True, check=False)
        import json

        try:
            return json.loads(proc.stdout)
        except ValueError:
            return dict.fromkeys(dists)


def rss(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (the peak), RssAnon (heap) and RssFile (file pages mapped, e.g. SQLite's memory map: shared
    with the page cache, counted once per mapping) of a process, bytes, from /proc/PID/status."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def loadavg() -> float | None:
    """The 1-minute load average (other work on the machine skews every figure; the results keep it)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError):
        return None


def run_timed(
    cmd: list[str], *, timeout: float, env: dict[str, str] | None = None, cwd: Path | None = None
) -> dict[str, Any]:
    """Wall seconds of one command, its exit code and the tail of its output (user+sys CPU seconds too)."""
    before = os.times()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    except subprocess.TimeoutExpired:
        return {"s": time.perf_counter() - t0, "rc": None, "error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    res: dict[str, Any] = {"s": wall, "cpu_s": cpu, "rc": proc.returncode, "stdout": proc.stdout[-4000:]}
    if proc.returncode != 0:
        res["error"] = (proc.stderr or proc.stdout).strip()[-600:]
    return res
