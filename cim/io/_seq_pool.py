"""Worker processes over the batches of a CityJSONSeq (``cim import --jobs``).

The parent reads the lines and hands batches of them to workers; a worker parses its batch and runs the array
path (:meth:`CityJSONReader._seq_batch`) into a fresh accumulator, and sends back what it found: the object ids
(the parent checks that no id repeats across batches), the encoded buildings (documents zlib-compressed:
``Encoded.packed``, so that the parent holds a third of the bytes until the write) and the counters and notes.
The parent merges the results in batch order, so what it gets is what the in-process read gives; anything a
worker cannot do (a fault, an id of another batch) makes the read fall back to the in-process reading, which
names the fault as it always has.

The workers are plain subprocesses (``python -m cim.io._seq_pool``) speaking length-prefixed pickles over their
stdin and stdout: no fork of a threaded server, and no re-import of the caller's ``__main__`` (which
multiprocessing's spawn and forkserver do).
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from queue import Queue
from typing import Any

_HEAD = struct.Struct("<Q")
AUTO_MIN_BYTES = 8 << 20  # a CityJSONSeq at least this large is read by workers when ``jobs`` is None


def auto_jobs(size: int) -> int:
    """Workers for a CityJSONSeq of ``size`` bytes when the caller did not say: one per idle core (at most 4; this
    process counts as one) for large files, none (in-process) for small ones, on one core, or where the other
    cores are busy (workers then only add their start-up and pickles: about a fifth more CPU)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    idle = min(cores, 4) - _others_running()
    return idle if size >= AUTO_MIN_BYTES and idle > 1 else 0


def _others_running(samples: int = 5, every: float = 0.01) -> int:
    """Threads running or ready to run besides this one (Linux's /proc/loadavg): the median of ``samples`` looks
    ``every`` seconds apart (one look catches others' short-lived processes a third of the time on a shared
    machine); 0 where unknown."""
    import time

    seen = []
    for k in range(samples):
        try:
            with open("/proc/loadavg") as fh:
                seen.append(max(0, int(fh.read().split()[3].split("/")[0]) - 1))
        except (OSError, ValueError, IndexError):
            return 0
        if k + 1 < samples:
            time.sleep(every)
    return sorted(seen)[len(seen) // 2]


def _send(fh: Any, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_HEAD.pack(len(data)))
    fh.write(data)
    fh.flush()


def _recv(fh: Any) -> Any:
    head = fh.read(_HEAD.size)
    if len(head) < _HEAD.size:
        raise EOFError("worker closed its pipe")
    (n,) = _HEAD.unpack(head)
    data = fh.read(n)
    if len(data) < n:
        raise EOFError("worker closed its pipe")
    return pickle.loads(data)


class WorkerFailed(Exception):
    """A worker could not do its batch (the caller reads the file in-process)."""


class SeqPool:
    """``jobs`` workers, each set up with ``init`` (what every batch shares); :meth:`map` runs batches on them, at
    most two per worker in flight, and yields the results in order.  With ``local`` (the function a worker runs:
    ``local(init, task)``) one of the workers is this process (a thread of it): ``jobs - 1`` processes are started,
    and the batches it takes start at once, while the others import."""

    def __init__(self, jobs: int, init: Any, local: Callable[[Any, Any], Any] | None = None) -> None:
        import cim

        root = str(Path(cim.__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.procs: list[subprocess.Popen] = []
        self.peak_kib: list[int | None] = []
        self.free: Queue[subprocess.Popen | None] = Queue()  # None: this process
        self.jobs = jobs
        self.init, self.local = init, local
        if local is not None:
            self.free.put(None)
        try:
            for _ in range(jobs - (local is not None)):
                p = subprocess.Popen(
                    [sys.executable, "-m", "cim.io._seq_pool"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                    cwd=root,
                )
                self.procs.append(p)
                _send(p.stdin, init)
                self.free.put(p)
        except BaseException:
            self.close()
            raise
        self._threads = ThreadPoolExecutor(jobs, thread_name_prefix="cim-seq")

    def _run(self, task: Any) -> Any:
        p = self.free.get()
        if p is None:
            try:
                return self.local(self.init, task)  # type: ignore[misc]
            finally:
                self.free.put(None)
        try:
            _send(p.stdin, task)
            ok, value = _recv(p.stdout)
        except (OSError, EOFError, pickle.PickleError) as exc:
            raise WorkerFailed(f"worker {p.pid}: {exc}") from None
        finally:
            self.free.put(p)  # a broken one fails the next task at once rather than leaving it waiting
        if not ok:
            raise WorkerFailed(value)
        return value

    def map(self, tasks: Iterable[Any]) -> Iterator[Any]:
        """The results of ``tasks`` in order (a task is pulled from ``tasks`` only when there is room)."""
        pending: deque[Future] = deque()
        for task in tasks:
            pending.append(self._threads.submit(self._run, task))
            if len(pending) >= 2 * self.jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        """Stop the workers (they end on EOF) and wait for them; ``peak_kib`` then holds each one's peak RSS."""
        if hasattr(self, "_threads"):
            self._threads.shutdown(wait=True, cancel_futures=True)
        self.peak_kib = [_peak_kib(p.pid) for p in self.procs]
        for p in self.procs:
            try:
                if p.stdin is not None:
                    p.stdin.close()
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stdout is not None:
                p.stdout.close()

    def __enter__(self) -> SeqPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _peak_kib(pid: int) -> int | None:
    """A live process's peak resident memory (VmHWM, KiB), None where /proc does not say."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def pack(doc: bytes) -> bytes:
    """A document as a worker sends it (zlib, fast level)."""
    return zlib.compress(doc, 1)


def _serve() -> None:
    """A worker's loop: the set-up message, then (task -> (ok, result)) until the parent closes the pipe."""
    import gc

    gc.disable()  # as import_files: the parsed batches are millions of objects without cycles to free
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the replies
    from .cityjson import work_batch

    try:
        init = _recv(inp)
    except EOFError:
        return
    while True:
        try:
            task = _recv(inp)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, work_batch(init, task))
        except Exception as exc:  # noqa: BLE001 - any fault: the parent reads the file in-process, which names it
            reply = (False, f"{type(exc).__name__}: {exc}")
        _send(out, reply)


if __name__ == "__main__":
    _serve()
