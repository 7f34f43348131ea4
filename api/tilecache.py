"""The server's 3D Tiles cache: each layer built once per store version, kept in memory or in a directory.

Layout (the same as ``cim tiles build`` writes, ready for a CDN): ``{layer}/tileset.json`` at a
stable URL, pointing at ``{layer}/v{version}/{address}.glb``; every file also pre-compressed as
``.gz``.  With ``CIM_TILES_CACHE_DIR`` set, the files live under
``{dir}/{store key}/{layer}/`` and API workers share them (a worker that finds a tileset of the
current version on disk uses it without building); otherwise each worker keeps its own in memory.
Requests never name files: a tile path is served only when the current tileset lists it.

Buildings (:data:`tiles.stream.STREAMED`) answer at once: ``tileset.json`` is the skeleton made from the
store's index (a fraction of a second for a city), and each tile is built when first asked for (one tile's
features read, meshed and encoded: well under a second) and kept like the others.  Their skeleton and tiles
are built in one thread of the cache's own (:meth:`TileCache.warm`, called when the server starts, makes
the city's frame there, so the pyproj transformer that thread keeps is ready before the first request:
creating one costs 0.1-0.3 s where PROJ has to choose among several operations, e.g. EPSG:7415).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cim.store import Store
from tiles.frame import CityFrame
from tiles.layers import LAYERS
from tiles.sink import DirectorySink, GzipSink, MemorySink, PrefixSink, Sink
from tiles.stream import STREAMED, build_tile, skeleton
from tiles.tileset import Budget, build_layer, city_frame, tile_paths

T = TypeVar("T")

#: bump when the tiling or the encoding changes, so that caches and ETags change with it
FORMAT = "2"


class TileSettings(BaseSettings):
    """``CIM_TILES_CACHE_DIR`` (a directory shared by workers; default: memory), ``CIM_TILES_MAX_FEATURES``,
    ``CIM_TILES_MAX_VERTICES`` (the per-tile budget)."""

    model_config = SettingsConfigDict(env_prefix="CIM_TILES_", env_file=None, extra="ignore")

    cache_dir: str | None = Field(None, description="Directory for built tiles (shared by workers).")
    max_features: int = Field(2000, ge=1)
    max_vertices: int = Field(30_000, ge=100)


class StaleTile(KeyError):
    """A tile asked for after the store moved past its version (the router answers 404: reload the tileset)."""

    def __init__(self, layer: str, version: int) -> None:
        super().__init__(f"{layer} tiles of version {version}")
        self.layer, self.version = layer, version


@dataclass(frozen=True)
class BuiltLayer:
    """A layer's tiles of one store version."""

    layer: str
    version: int
    sink: Sink
    paths: frozenset[str]  # content URIs of the tileset (relative to the layer)
    tileset: bytes
    key: str  # the store, the format and the version, hashed (ETags)
    make: Callable[[str], None] | None = None  # builds a listed tile not in the sink yet (streamed layers)

    def read(self, path: str) -> bytes:
        """A file of the layer (``tileset.json``, a tile, either with ``.gz``), built first if need be."""
        try:
            return self.sink.read(path)
        except KeyError:
            if self.make is None:
                raise
        self.make(path.removesuffix(".gz"))
        return self.sink.read(path)

    def etag(self, path: str) -> str:
        return '"' + hashlib.sha1(f"{self.key}/{self.layer}/{path}".encode()).hexdigest()[:20] + '"'


class TileCache:
    """Builds and keeps each layer's tiles for the store's current version (thread-safe)."""

    def __init__(self, store: Store, settings: TileSettings | None = None) -> None:
        self.store = store
        self.settings = settings or TileSettings()
        self.budget = Budget(max_features=self.settings.max_features, max_vertices=self.settings.max_vertices)
        self.store_key = hashlib.sha1(f"{store.url}|{FORMAT}".encode()).hexdigest()[:12]
        self._built: dict[str, BuiltLayer] = {}
        self._locks = {name: threading.Lock() for name in LAYERS}
        self._frame: tuple[int, CityFrame] | None = None
        # streamed layers' skeletons and tiles, and the frame, are made in this one thread: it keeps its
        # pyproj transformers (per thread, see cim.crs) from one build to the next
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cim-tiles")

    def _in_thread(self, fn: Callable[[], T]) -> T:
        return self._thread.submit(fn).result()

    def frame(self, version: int) -> CityFrame:
        """The city's frame (:func:`tiles.tileset.city_frame`) at a store version, made once per version."""
        cached = self._frame
        if cached is None or cached[0] != version:
            cached = self._frame = (version, self._in_thread(lambda: city_frame(self.store)))
        return cached[1]

    def warm(self) -> None:
        """Make the city's frame in the cache's thread, in the background (at start-up): the first
        ``tileset.json`` then finds the bounds read and the thread's pyproj transformer made."""

        def job() -> None:
            try:
                version = self.store.read_version()
                self._frame = (version, city_frame(self.store))
            except Exception:  # noqa: BLE001 - a warm-up; the first request reports any error itself
                pass

        self._thread.submit(job)

    def close(self) -> None:
        """Stop the cache's thread (after the build in progress, if any)."""
        self._thread.shutdown(wait=True, cancel_futures=True)

    def _sink(self, layer: str) -> Sink:
        if self.settings.cache_dir:
            return PrefixSink(DirectorySink(Path(self.settings.cache_dir) / self.store_key), layer)
        return MemorySink()

    def get(self, layer: str, version: int | None = None) -> BuiltLayer:
        """The layer's tiles for ``version`` (default: the store's current one), built if need be."""
        version = self.store.read_version() if version is None else version
        hit = self._built.get(layer)
        if hit is not None and hit.version == version:
            return hit
        with self._locks[layer]:
            hit = self._built.get(layer)
            if hit is not None and hit.version == version:
                return hit
            if layer in STREAMED:
                built = self._skeleton(layer, version)
            else:
                built = self._load(layer, version) or self._build(layer, version)
            self._built[layer] = built
            return built

    def _finish(
        self, layer: str, version: int, sink: Sink, body: bytes, make: Callable[[str], None] | None = None
    ) -> BuiltLayer:
        doc = json.loads(body)
        key = hashlib.sha1(f"{self.store_key}|{version}".encode()).hexdigest()[:16]
        return BuiltLayer(layer, version, sink, frozenset(tile_paths(doc)), body, key, make)

    def _load(self, layer: str, version: int) -> BuiltLayer | None:
        """A tileset of this version already on disk (another worker built it)."""
        if not self.settings.cache_dir:
            return None
        sink = self._sink(layer)
        try:
            body = sink.read("tileset.json")
        except KeyError:
            return None
        if json.loads(body).get("extras", {}).get("version") != version:
            return None
        return self._finish(layer, version, sink, body)

    def _skeleton(self, layer: str, version: int) -> BuiltLayer:
        """The tileset from the index now; tiles when asked for (the same in every worker: a tile another
        worker wrote to the shared directory is read, not built)."""
        frame = self.frame(version)
        skel = self._in_thread(
            lambda: skeleton(
                self.store,
                layer,
                frame,
                budget=self.budget,
                prefix=f"v{version}/",
                extras={"version": version, "format": FORMAT},
            )
        )
        sink = self._sink(layer)
        out = GzipSink(sink)
        body = json.dumps(skel.tileset, separators=(",", ":")).encode()
        out.write("tileset.json", body)
        lock = threading.Lock()

        def make(path: str) -> None:
            address = skel.address(path)
            if address is None:
                raise KeyError(path)
            with lock:
                try:
                    sink.read(path + ".gz")
                    return
                except KeyError:
                    pass
                data, _ = self._in_thread(lambda: build_tile(self.store, skel, address))
                if self.store.read_version() != version:  # the city changed under the build: not this tile
                    raise StaleTile(layer, version)
                out.write(path, data)

        return self._finish(layer, version, sink, body, make)

    def _build(self, layer: str, version: int) -> BuiltLayer:
        sink = self._sink(layer)
        out = GzipSink(sink)
        # tiles first, tileset.json last: a worker that finds it on disk finds every tile it names
        staged = MemorySink()
        build_layer(
            self.store,
            layer,
            _Split(out, staged),
            budget=self.budget,
            prefix=f"v{version}/",
            frame=self.frame(version),
            extras={"version": version, "format": FORMAT},
        )
        body = staged.read("tileset.json")
        out.write("tileset.json", body)
        return self._finish(layer, version, sink, body)


class _Split:
    """Sends tileset.json to one sink and every other file to another."""

    def __init__(self, tiles: Sink, index: Sink) -> None:
        self.tiles, self.index = tiles, index

    def write(self, path: str, data: bytes) -> None:
        (self.index if path == "tileset.json" else self.tiles).write(path, data)

    def read(self, path: str) -> bytes:
        return (self.index if path == "tileset.json" else self.tiles).read(path)

    def paths(self) -> list[str]:
        return sorted({*self.tiles.paths(), *self.index.paths()})
