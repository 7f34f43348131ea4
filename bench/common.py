"""Shared pieces of the benchmarks: the run context, timing statistics, a real server, wrk, the machine.

Every suite is a module with ``NAME``, ``TITLE``, ``run(ctx) -> dict`` (JSON-able results) and
``rows(result) -> list[Row]`` (lines of the printed table); ``bench/__main__.py`` lists them.
Latencies are reported in milliseconds, rates in requests per second, sizes in bytes.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"

Row = tuple[str, str, dict[str, Any], str]  # suite, measurement, {"p50", "p99", "rps", ...}, note


# -- the run ------------------------------------------------------------------------------------
@dataclass
class Context:
    """What the suites share: options, the output folder and the sample-city store once built."""

    quick: bool = False
    out: Path = OUT
    seed: int = 20260101
    repeats: int = 3  # runs per measurement; the report gives their median
    duration: float = 10.0  # seconds per wrk run
    workers: int = 1  # uvicorn worker processes
    store: Path | None = None  # the sample city (built by the build suite, or given with --store)
    results: dict[str, Any] = field(default_factory=dict)

    def log(self, msg: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    def sample_store(self) -> Path:
        """The sample-city store: the one already built or given, else a fresh build (not timed)."""
        if self.store is None or not self.store.exists():
            from sample_city import build_sample_city

            path = self.out / "sample.cim.sqlite"
            remove_store(path)
            self.log(f"building the sample city into {path} (seed {self.seed})")
            build_sample_city(path, seed=self.seed)
            self.store = path
        return self.store


def remove_store(path: Path) -> None:
    """Delete a SQLite store and its WAL side files."""
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)


# -- statistics ---------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between order statistics."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def latency_stats(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p99, mean and max in milliseconds of per-call times in seconds, and the count."""
    ms = [s * 1e3 for s in seconds]
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms) if ms else float("nan"),
        "max": max(ms, default=float("nan")),
    }


def median_of_runs(runs: Sequence[dict[str, Any]], keys: Sequence[str] = ("p50", "p99", "rps")) -> dict[str, Any]:
    """The median over runs of each numeric key (those present), and the runs themselves."""
    out: dict[str, Any] = {}
    for k in keys:
        vals = [r[k] for r in runs if isinstance(r.get(k), int | float)]
        if vals:
            out[k] = statistics.median(vals)
    out["runs"] = list(runs)
    return out


def timed_loop(
    call: Callable[[int], Any], *, max_n: int, max_s: float, min_n: int = 20, warmup: int = 5
) -> list[float]:
    """Seconds per ``call(i)`` for i = 0, 1, ...: up to ``max_n`` calls or ``max_s`` seconds (at least ``min_n``)."""
    for i in range(warmup):
        call(i)
    times: list[float] = []
    start = time.perf_counter()
    i = 0
    while len(times) < max_n and (len(times) < min_n or time.perf_counter() - start < max_s):
        t0 = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - t0)
        i += 1
    return times


# -- a real server ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A server process on loopback: ``cmd`` (with ``{port}`` filled in), ready once ``health`` answers 200."""

    def __init__(
        self,
        cmd: list[str],
        *,
        health: str = "/",
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        log: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [c.replace("{port}", str(self.port)) for c in cmd]
        self.health = health
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.log = log or OUT / "peer-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 90.0) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        logf = self.log.open("wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.cmd[0]} exited ({self.proc.returncode}): {self.log.read_text()[-1500:]}")
            try:
                with urllib.request.urlopen(self.url + self.health, timeout=5) as r:
                    if r.status == 200:
                        self.startup_s = time.perf_counter() - t0
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"{' '.join(self.cmd[:4])} did not answer {self.health} within {timeout:.0f} s: "
            f"{self.log.read_text()[-1500:]}"
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def __enter__(self) -> Proc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Server(Proc):
    """``python -m uvicorn --factory api.main:create_app`` on loopback, serving ``store`` (CIM_STORE).

    Access logging is off and the log level is ``warning`` so that logging is not measured; the
    server's output goes to ``log``.  Use as a context manager; start-up waits for ``/health``.
    """

    def __init__(
        self, store: Path, *, workers: int = 1, log: Path | None = None, extra_env: dict[str, str] | None = None
    ) -> None:
        super().__init__(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "api.main:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            health="/health",
            env={"CIM_STORE": str(store), **(extra_env or {})},
            cwd=ROOT,
            log=log or OUT / "server.log",
        )
        self.store = store
        self.workers = workers


# -- load generation ----------------------------------------------------------------------------
def wrk_path() -> str | None:
    return shutil.which("wrk")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(text: str) -> dict[str, Any]:
    """Requests/s, p50/p75/p90/p99 and max (ms), request count and errors from ``wrk --latency`` output."""
    out: dict[str, Any] = {}
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
    if m:
        out["max"] = _ms(m.group(3))
    for q in ("50", "75", "90", "99"):
        m = re.search(rf"^\s*{q}%\s+(\S+)\s*$", text, re.M)
        if m:
            out["p" + q] = _ms(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", text)
    if m:
        out["requests"] = int(m.group(1))
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(g) for g in m.groups())
    out["errors"] = errors
    return out


_PATHS_LUA = """-- generated by bench/common.py: cycles through a fixed list of request paths
local paths = {{
{paths}
}}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def paths_script(paths: Sequence[str], file: Path) -> Path:
    """A wrk Lua script that requests ``paths`` in turn (each wrk thread from the first)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    body = ",\n".join(f'  "{p}"' for p in paths)
    file.write_text(_PATHS_LUA.format(paths=body))
    return file


def wrk(
    base: str, paths: Sequence[str], *, connections: int, duration: float, threads: int = 1, script_dir: Path = OUT
) -> dict[str, Any]:
    """One bounded wrk run against ``base`` + ``paths`` (one path: a plain URL; more: a Lua script)."""
    exe = wrk_path()
    assert exe is not None
    cmd = [exe, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "--timeout", "10s"]
    if len(paths) > 1:
        cmd += ["-s", str(paths_script(paths, script_dir / "paths.lua"))]
    cmd.append(base + paths[0])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    res = parse_wrk(proc.stdout)
    res["connections"] = connections
    return res


def httpx_load(base: str, paths: Sequence[str], *, connections: int, duration: float) -> dict[str, Any]:
    """The fallback when wrk is missing: ``connections`` threads, each a keep-alive httpx client
    requesting ``paths`` in turn for ``duration`` seconds.  The client shares the machine's cores
    and the GIL, so its rates are lower bounds and not comparable with wrk's."""
    import threading

    import httpx

    lat: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration

    def worker(k: int) -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        with httpx.Client(base_url=base, timeout=10) as client:
            i = k
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                try:
                    r = client.get(paths[i % len(paths)])
                    r.read()
                    bad += r.status_code >= 400
                except httpx.HTTPError:
                    bad += 1
                mine.append(time.perf_counter() - t0)
                i += 1
        with lock:
            lat.extend(mine)
            errors += bad

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    st = latency_stats(lat)
    return {
        "rps": len(lat) / elapsed,
        "p50": st["p50"],
        "p99": st["p99"],
        "max": st["max"],
        "requests": len(lat),
        "errors": errors,
        "connections": connections,
    }


def burst(url: str, n: int, timeout: float = 120.0) -> list[float]:
    """Seconds each of ``n`` simultaneous GETs of ``url`` takes (one new connection each; inf on failure)."""
    import threading

    times = [float("inf")] * n
    go = threading.Barrier(n)

    def one(k: int) -> None:
        go.wait()
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                r.read()
                if r.status == 200:
                    times[k] = time.perf_counter() - t0
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass

    threads = [threading.Thread(target=one, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def load(base: str, paths: Sequence[str], *, connections: int, duration: float) -> dict[str, Any]:
    """wrk when installed, else the httpx fallback (the result says which: ``client``)."""
    if wrk_path():
        return {**wrk(base, paths, connections=connections, duration=duration), "client": "wrk"}
    return {**httpx_load(base, paths, connections=connections, duration=duration), "client": "httpx"}


# -- the machine --------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _wrk_version() -> str | None:
    exe = wrk_path()
    if not exe:
        return None
    proc = subprocess.run([exe, "-v"], capture_output=True, text=True, check=False)
    first = (proc.stdout or proc.stderr).splitlines()
    return first[0].split(" Copyright")[0].strip() if first else None


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python and the versions of the packages on the measured path."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    pkgs = [
        "numpy",
        "shapely",
        "pyproj",
        "pydantic",
        "orjson",
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "httpx",
    ]
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "ram_gib": _ram_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": _wrk_version(),
        "packages": {p: _version(p) for p in pkgs},
    }
