from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings


@pytest.fixture(scope="module")
def client(tiny_city_path):
    app = create_app(Settings(store=str(tiny_city_path), cors_origins=["https://viewer.example"]))
    with TestClient(app, raise_server_exceptions=False) as c:
        c.event_hooks["response"].append(no_server_errors)
        yield c


def no_server_errors(response) -> None:
    """Every in-process request in the API tests goes through this: a 5xx fails the test."""
    assert response.status_code < 500, f"{response.request.url} -> {response.status_code}: {response.read()!r}"


def assert_problem(resp, status: int, parameter: str | None = None) -> dict:
    """The response is an RFC 9457 problem with this status (and names this parameter)."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    if parameter is not None:
        assert body["parameter"] == parameter, body
    return body
