"""Service settings, read from ``CIM_*`` environment variables (never at import time)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_TOKEN = "dev-token"
MIN_TOKEN_LENGTH = 16


class Settings(BaseSettings):
    """``CIM_STORE``, ``CIM_STORE_READ``, ``CIM_SQLITE_MMAP_MB``, ``CIM_SQLITE_CACHE_MB``,
    ``CIM_CORS_ORIGINS`` (comma-separated), ``CIM_TITLE``, ``CIM_MAX_LIMIT``,
    ``CIM_WRITE_TOKENS`` (comma-separated), ``CIM_DEV``, ``CIM_UPLOAD_DIR``, ``CIM_MAX_UPLOAD_MB``,
    ``CIM_MAX_ANALYSIS_AREA_KM2``, ``CIM_PIPELINE_RULES``, ``CIM_READ_TOKENS``, ``CIM_PROTECT_READS``,
    ``CIM_MAX_FEATURES_PER_IMPORT``, ``CIM_MAX_POINTS_PER_FILE``, ``CIM_MAX_BBOX_KM2`` (see SECURITY.md)."""

    def tokens(self) -> list[str]:
        """The bearer tokens that may write; 'dev-token' only in development mode with none set."""
        toks = [t.get_secret_value() for t in self.write_tokens]
        return toks or ([DEV_TOKEN] if self.dev else [])

    def read_token_list(self) -> list[str]:
        """Tokens that may read when reads are protected (write tokens may read too)."""
        return [t.get_secret_value() for t in self.read_tokens] + self.tokens()

    model_config = SettingsConfigDict(env_prefix="CIM_", env_file=None, extra="ignore")

    store: str = Field("data/sample.cim.sqlite", description="Store path or URL.")
    store_read: str | None = Field(
        None,
        description="A streaming replica of a PostGIS store (postgresql://...): reads go there; writes, jobs and "
        "the store version to CIM_STORE.",
    )
    sqlite_mmap_mb: int = Field(
        64, ge=0, description="SQLite memory-mapped I/O per connection (one per worker thread), MiB."
    )
    sqlite_cache_mb: int = Field(16, ge=1, description="SQLite page cache per connection, MiB.")
    title: str = "CIM service"
    description: str = (
        "City information model: buildings, underground pipe networks and terrain, served through OGC API - Features."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    default_limit: int = Field(10, ge=1)
    max_limit: int = Field(10_000, ge=1)
    write_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Bearer tokens allowed to write (imports); comma-separated."
    )
    dev: bool = Field(False, description="Development mode: with no write token set, accept 'dev-token'.")
    upload_dir: str | None = Field(None, description="Where uploads wait for import (default: a temp folder).")
    max_upload_mb: float = Field(1024, gt=0, description="Largest upload accepted, MiB (all files together).")
    max_analysis_area_km2: float = Field(4.0, gt=0, description="Largest region an analysis takes at once, km².")
    pipeline_rules: str | None = Field(
        None, description="TOML/JSON file of pipeline rule overrides ({rule id = value}) for this city."
    )

    read_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Bearer tokens allowed to read when protect_reads is on."
    )
    protect_reads: bool = Field(False, description="Reads need a bearer token too (default: anonymous reads).")
    lean_routes: bool = Field(
        True, description="Answer POST /analysis/underground-use on a lean path (api.lean); false: the route only."
    )
    analysis_timeout_s: float = Field(
        60.0, gt=0, description="Time limit of one analysis request, seconds (503 past it)."
    )
    threads: int = Field(
        8,
        ge=1,
        le=256,
        description="Worker threads for blocking request work per process "
        "(fewer threads contend less for the GIL; PostGIS waits may want more).",
    )
    max_features_per_import: int = Field(5_000_000, ge=1, description="Most features one import may add.")
    max_points_per_file: int = Field(
        2_000_000_000, ge=1, description="Most points a LAS/LAZ file may hold (guards against decompression bombs)."
    )
    max_bbox_km2: float | None = Field(
        None,
        gt=0,
        description="Largest bbox area an items request may ask "
        "for, km² (None: no limit; paging bounds the answer anyway).",
    )

    @model_validator(mode="after")
    def _secrets(self) -> Settings:
        """Refuse the development secret and weak tokens outside development mode."""
        if self.dev:
            return self
        for t in [*self.write_tokens, *self.read_tokens]:
            value = t.get_secret_value()
            if value == DEV_TOKEN or len(value) < MIN_TOKEN_LENGTH:
                raise ValueError(
                    f"refusing to start: a bearer token is the development default or shorter than "
                    f"{MIN_TOKEN_LENGTH} characters; set strong CIM_WRITE_TOKENS / CIM_READ_TOKENS, "
                    "or CIM_DEV=1 for local development"
                )
        if self.protect_reads and not self.read_token_list():
            raise ValueError("refusing to start: CIM_PROTECT_READS is on but no read or write token is set")
        return self

    @field_validator("cors_origins", "write_tokens", "read_tokens", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            return [s.strip() for s in v.split(",") if s.strip()]
        return v
