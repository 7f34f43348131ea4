"""Where encoded tiles go: a directory, a zip file or memory (the server's cache), behind one interface.

Paths are relative, '/'-separated names made by the tiler (never from a request); a directory sink
still refuses any path that would leave its root.
"""

from __future__ import annotations

import os
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Sink(Protocol):
    def write(self, path: str, data: bytes) -> None:
        """Store ``data`` under ``path`` (replacing any)."""

    def read(self, path: str) -> bytes:
        """The bytes under ``path``; KeyError when there are none."""

    def paths(self) -> list[str]:
        """Every path stored, sorted."""


def _check(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise ValueError(f"bad tile path {path!r}")
    return path


class MemorySink:
    """A dict of path -> bytes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def write(self, path: str, data: bytes) -> None:
        self.files[_check(path)] = bytes(data)

    def read(self, path: str) -> bytes:
        return self.files[path]

    def paths(self) -> list[str]:
        return sorted(self.files)

    @property
    def nbytes(self) -> int:
        return sum(len(v) for v in self.files.values())


class DirectorySink:
    """Files under a root directory, each written atomically (a temporary file renamed into place)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, path: str) -> Path:
        return self.root.joinpath(*_check(path).split("/"))

    def write(self, path: str, data: bytes) -> None:
        target = self._path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, path: str) -> bytes:
        try:
            return self._path(path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, ValueError):
            raise KeyError(path) from None

    def paths(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )


class ZipSink:
    """Members of a zip file (stored, not deflated: GLB compresses poorly and is read in place)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._zip = zipfile.ZipFile(self.path, "a" if self.path.exists() else "w", zipfile.ZIP_STORED)

    def write(self, path: str, data: bytes) -> None:
        with self._lock:
            self._zip.writestr(_check(path), data)

    def read(self, path: str) -> bytes:
        with self._lock:
            return self._zip.read(path)

    def paths(self) -> list[str]:
        return sorted(self._zip.namelist())

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> ZipSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PrefixSink:
    """Another sink seen under a folder: ``write("a.glb")`` stores ``prefix/a.glb``."""

    def __init__(self, sink: Sink, prefix: str) -> None:
        self.sink = sink
        self.prefix = prefix.strip("/") + "/"

    def write(self, path: str, data: bytes) -> None:
        self.sink.write(self.prefix + path, data)

    def read(self, path: str) -> bytes:
        return self.sink.read(self.prefix + path)

    def paths(self) -> list[str]:
        n = len(self.prefix)
        return [p[n:] for p in self.sink.paths() if p.startswith(self.prefix)]


def open_sink(target: str | Path) -> Sink:
    """A sink for a path: ``*.zip`` a zip file, anything else a directory."""
    return ZipSink(target) if str(target).endswith(".zip") else DirectorySink(target)


class GzipSink:
    """Writes each file twice: as given and gzip-compressed under ``path + ".gz"`` (deterministic:
    no timestamp), so that a server or a CDN can send pre-compressed tiles (GLB shrinks to about 30 %)."""

    def __init__(self, sink: Sink, level: int = 6) -> None:
        self.sink = sink
        self.level = level

    def write(self, path: str, data: bytes) -> None:
        import gzip

        self.sink.write(path, data)
        self.sink.write(path + ".gz", gzip.compress(data, self.level, mtime=0))

    def read(self, path: str) -> bytes:
        return self.sink.read(path)

    def paths(self) -> list[str]:
        return self.sink.paths()
