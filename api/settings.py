"""Service settings, read from ``CIM_*`` environment variables (never at import time)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """``CIM_STORE``, ``CIM_CORS_ORIGINS`` (comma-separated), ``CIM_TITLE``, ``CIM_MAX_LIMIT``."""

    model_config = SettingsConfigDict(env_prefix="CIM_", env_file=None, extra="ignore")

    store: str = Field("data/sample.cim.sqlite", description="Store path or URL.")
    title: str = "CIM service"
    description: str = ("City information model: buildings, underground pipe networks and terrain, "
                        "served through OGC API - Features.")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    default_limit: int = Field(10, ge=1)
    max_limit: int = Field(10_000, ge=1)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            return [s.strip() for s in v.split(",") if s.strip()]
        return v
