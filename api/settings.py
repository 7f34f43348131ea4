"""Service settings, read from ``CIM_*`` environment variables (never at import time)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """``CIM_STORE``, ``CIM_CORS_ORIGINS`` (comma-separated), ``CIM_TITLE``, ``CIM_MAX_LIMIT``,
    ``CIM_WRITE_TOKENS`` (comma-separated), ``CIM_DEV``, ``CIM_UPLOAD_DIR``, ``CIM_MAX_UPLOAD_MB``."""

    def tokens(self) -> list[str]:
        """The bearer tokens that may write; 'dev-token' only in development mode with none set."""
        toks = [t.get_secret_value() for t in self.write_tokens]
        return toks or (["dev-token"] if self.dev else [])

    model_config = SettingsConfigDict(env_prefix="CIM_", env_file=None, extra="ignore")

    store: str = Field("data/sample.cim.sqlite", description="Store path or URL.")
    title: str = "CIM service"
    description: str = ("City information model: buildings, underground pipe networks and terrain, "
                        "served through OGC API - Features.")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    default_limit: int = Field(10, ge=1)
    max_limit: int = Field(10_000, ge=1)
    write_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Bearer tokens allowed to write (imports); comma-separated.")
    dev: bool = Field(False, description="Development mode: with no write token set, accept 'dev-token'.")
    upload_dir: str | None = Field(None, description="Where uploads wait for import (default: a temp folder).")
    max_upload_mb: float = Field(1024, gt=0, description="Largest upload accepted, MiB (all files together).")

    @field_validator("cors_origins", "write_tokens", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            return [s.strip() for s in v.split(",") if s.strip()]
        return v
