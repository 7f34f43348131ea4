"""Concurrent recorded writes: each claims its version number inside its own write transaction, so writers
racing on both stores (threads; processes on SQLite) get distinct, gap-free, increasing numbers and no
version record is lost."""

from __future__ import annotations

import multiprocessing
import threading

from cim import versions
from cim.model import Building
from cim.store import open_store

from .common import X0, Y0, rect

WRITERS = 6
EACH = 3


def building(w: int, k: int) -> Building:
    """Writer ``w``'s ``k``-th new building, away from the tiny city's grid."""
    return Building(
        id=f"w{w}-{k}",
        footprint=rect(X0 + 1000 + 30 * k, Y0 + 1000 + 30 * w, 20, 20),
        ground_elevation=45.0,
        height=10.0 + k,
    )


def check_history(store, returned: list[int], writers: int = WRITERS) -> None:
    """Versions 1..N exactly once each, returned to the writers as recorded, one new building per version,
    times in version order, and every building written recorded as added once."""
    vs = versions.versions(store)
    n = writers * EACH
    assert [v.n for v in vs] == list(range(1, n + 1))
    assert sorted(returned) == list(range(1, n + 1))
    assert all(a.time <= b.time for a, b in zip(vs, vs[1:], strict=False))
    added = [fid for v in vs for fid in v.changes["buildings"].added]
    assert all(len(v.changes["buildings"].added) == 1 for v in vs)
    assert sorted(added) == sorted(f"w{w}-{k}" for w in range(writers) for k in range(EACH))
    assert versions.latest(store) == n
    # the history is usable: before the last version, its building is absent; at 0 none of them exists
    last = vs[-1].changes["buildings"].added[0]
    assert last not in versions.state_at(store, "buildings", n - 1)
    assert not set(added) & set(versions.state_at(store, "buildings", 0))


def test_concurrent_threads(store):
    """WRITERS threads, started together, each record EACH versions through the same store object."""
    barrier = threading.Barrier(WRITERS)
    returned: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(w: int) -> None:
        try:
            barrier.wait()
            for k in range(EACH):
                _, v = versions.write(store, [building(w, k)], author=f"writer {w}")
                with lock:
                    returned.append(v.n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    check_history(store, returned)


def _process_writer(path: str, w: int, start, out) -> None:
    """One writer process: its own store connection; waits for the others at the barrier, then records EACH
    versions."""
    s = open_store(path)
    start.wait(120)
    for k in range(EACH):
        _, v = versions.write(s, [building(w, k)], author=f"process {w}")
        out.put(v.n)
    s.close()


def test_concurrent_processes_sqlite(tmp_path):
    """Writer processes on one SQLite file (each its own connection, as separate `cim import` commands); few of
    them, since each imports the library."""
    from . import common

    path = str(tmp_path / "city.sqlite")
    s = open_store(path, create=True)
    s.init(common.CITY)
    s.write(common.all_features())
    ctx = multiprocessing.get_context("spawn")
    writers = 3
    start, out = ctx.Barrier(writers), ctx.Queue()
    procs = [ctx.Process(target=_process_writer, args=(path, w, start, out)) for w in range(writers)]
    for p in procs:
        p.start()
    returned = [out.get(timeout=120) for _ in range(writers * EACH)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    check_history(s, returned, writers)
    s.close()
