"""Schemathesis against the OpenAPI 3.0 description at /api: no input gives a 5xx, and answers match
the schema where it declares one.  Bounded: a few dozen generated requests per operation."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.main import create_app
from api.settings import Settings
from cim.store import open_store

from .. import common

TOKEN = "fuzz-token-0123456789abcdef"


def _app():
    """The app over a fresh copy of the tiny test city (schemathesis loads the schema at import time)."""
    path = Path(tempfile.mkdtemp(prefix="cim-fuzz-")) / "city.sqlite"
    store = open_store(path, create=True)
    store.init(common.CITY)
    store.write(common.all_features(), terrain=common.terrain())
    app = create_app(Settings(store=str(path), write_tokens=[TOKEN], max_upload_mb=1))
    app.state.store = store  # what the lifespan does; schemathesis calls the app without running it
    return app


schema = schemathesis.openapi.from_asgi("/api", _app())


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_schema_conformance(case):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error, response_schema_conformance]
    )
