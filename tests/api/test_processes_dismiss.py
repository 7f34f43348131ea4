"""OGC API - Processes - Part 1, "dismiss": ``DELETE /jobs/{jobId}`` cancels a waiting or running job and
removes a job's record and results; the store's job operations it rests on, on both backends."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from api.main import create_app
from api.settings import Settings
from cim.analysis import registry
from cim.analysis.processes import BASE, EXCEPTIONS

from .conftest import no_server_errors


class NapRequest(BaseModel):
    seconds: float = Field(ge=0, le=10, description="How long to sleep.")


class NapResult(BaseModel):
    slept: float


STARTED: list[float] = []  # the `seconds` of every nap that started
ENDED: list[float] = []


def _nap(city, req: NapRequest) -> NapResult:
    STARTED.append(req.seconds)
    time.sleep(req.seconds)
    ENDED.append(req.seconds)
    return NapResult(slept=req.seconds)


NAP = registry.Analysis(
    id="toy-nap-dismiss", title="Toy: sleep", description="Sleeps.", request=NapRequest, result=NapResult, run=_nap
)
ASYNC = {"Prefer": "respond-async"}
TOKEN = "dismiss-token-0123456789abcdef"


@pytest.fixture
def client(tiny_city_path):
    registry.register(NAP)
    STARTED.clear()
    ENDED.clear()
    app = create_app(Settings(store=str(tiny_city_path), analysis_timeout_s=30, threads=1, write_tokens=[TOKEN]))
    try:
        with TestClient(app, raise_server_exceptions=False) as c:
            c.event_hooks["response"].append(no_server_errors)
            yield c
    finally:
        registry.unregister(NAP.id)


def submit(c, seconds: float) -> str:
    r = c.post(f"/processes/{NAP.id}/execution", json={"inputs": {"seconds": seconds}}, headers=ASYNC)
    assert r.status_code == 201
    return r.json()["jobID"]


def until(pred, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def dismiss(c, job_id: str):
    return c.delete(f"/jobs/{job_id}", headers={"Authorization": f"Bearer {TOKEN}"})


def assert_no_such_job(r, job_id: str) -> None:
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == EXCEPTIONS + "no-such-job" and job_id in body["detail"]


def test_dismiss_is_in_the_conformance(client):
    assert BASE + "dismiss" in client.get("/conformance").json()["conformsTo"]


def test_dismiss_a_running_and_a_waiting_job(client):
    store = client.app.state.city.store
    running = submit(client, 1.0)
    waiting = submit(client, 0.01)  # one worker thread: it waits behind the first
    until(lambda: client.get(f"/jobs/{running}").json()["status"] == "running")
    assert client.get(f"/jobs/{waiting}").json()["status"] == "accepted"

    r = dismiss(client, waiting)
    assert r.status_code == 200
    body = r.json()
    assert body["jobID"] == waiting and body["status"] == "dismissed" and "before it started" in body["message"]
    r = dismiss(client, running)
    assert r.status_code == 200
    assert r.json()["status"] == "dismissed" and "while running" in r.json()["message"]
    assert STARTED == [1.0] and not ENDED  # dismissed while the nap still ran

    for job_id in (running, waiting):
        assert_no_such_job(client.get(f"/jobs/{job_id}"), job_id)
        assert_no_such_job(client.get(f"/jobs/{job_id}/results"), job_id)
    listed = {j["jobID"] for j in client.get("/jobs").json()["jobs"]}
    assert not {running, waiting} & listed

    # the running nap ends, its result is not recorded, and the waiting job never starts
    until(lambda: ENDED == [1.0])
    later = submit(client, 0.0)  # runs once the thread is free: proof that the queue moved on
    until(lambda: client.get(f"/jobs/{later}").json()["status"] == "successful")
    assert STARTED == [1.0, 0.0]
    for job_id in (running, waiting):
        assert store.get_job(job_id) is None and store.get_job(f"{job_id}/results") is None
        assert_no_such_job(client.get(f"/jobs/{job_id}"), job_id)


def test_dismiss_a_finished_job_removes_its_results(client):
    store = client.app.state.city.store
    done = submit(client, 0.0)
    until(lambda: client.get(f"/jobs/{done}").json()["status"] == "successful")
    assert client.get(f"/jobs/{done}/results").json() == {"result": {"slept": 0.0}}
    anonymous = client.delete(f"/jobs/{done}")  # every job id is listed: dismissing needs a write token
    assert anonymous.status_code == 401 and client.get(f"/jobs/{done}").json()["status"] == "successful"
    r = dismiss(client, done)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "dismissed" and body["processID"] == NAP.id and "successful" in body["message"]
    assert body["links"][0]["rel"] == "up" and body["links"][0]["href"].endswith("/jobs")
    assert_no_such_job(client.get(f"/jobs/{done}"), done)
    assert_no_such_job(client.get(f"/jobs/{done}/results"), done)
    assert store.get_job(f"{done}/results") is None
    assert_no_such_job(dismiss(client, done), done)  # gone: a second dismiss finds nothing


def test_dismiss_an_unknown_job(client):
    assert_no_such_job(dismiss(client, "no-such-id"), "no-such-id")


def test_store_job_update_and_delete(empty_store):
    """update_job changes only a stored job; delete_job says whether there was one (both backends)."""
    s = empty_store
    assert not s.update_job("j1", {"type": "process", "status": "running"})
    assert s.get_job("j1") is None  # an update never creates
    s.put_job("j1", {"type": "process", "status": "accepted"})
    assert s.update_job("j1", {"type": "process", "status": "running"})
    assert s.get_job("j1") == {"type": "process", "status": "running"}
    assert s.delete_job("j1") and s.get_job("j1") is None
    assert not s.delete_job("j1")
    assert not s.update_job("j1", {"type": "process", "status": "successful"}) and s.get_job("j1") is None
