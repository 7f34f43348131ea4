"""A real SensorThings client (FROST's ``frost-sta-client``) against a real uvicorn server, on SQLite and PostGIS."""

from __future__ import annotations

import uuid

import pytest

from cim.store import open_store
from tests import common
from tests.conftest import Server

frost = pytest.importorskip("frost_sta_client")
from frost_sta_client.service.auth_handler import AuthHandler  # noqa: E402

TOKEN = "sensor-write-token-for-tests-0001"
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


class BearerAuth(AuthHandler):
    """The client's auth hook, giving the service's bearer token instead of basic auth."""

    def add_auth_header(self):
        def add(request):
            request.headers["Authorization"] = f"Bearer {TOKEN}"
            return request

        return add


@pytest.fixture(params=["sqlite", "postgis"])
def server(request, tmp_path):
    if request.param == "sqlite":
        url = str(tmp_path / "city.sqlite")
    else:
        url = f"{request.getfixturevalue('pg_cluster').url}?schema=t_{uuid.uuid4().hex[:12]}"
    store = open_store(url, create=True)
    store.init(common.CITY)
    store.close()
    srv = Server(url, CIM_WRITE_TOKENS=TOKEN)
    yield srv
    srv.stop()


def test_frost_client_round_trip(server):
    from geojson import Point

    svc = frost.SensorThingsService(server.url + "/sta/v1.1", auth_handler=BearerAuth())
    loc = frost.Location(
        name="Node N-17",
        description="pressure logger chamber",
        encoding_type="application/geo+json",
        location=Point((123.4101, 41.7893)),
    )
    thing = frost.Thing(
        name="Logger 17", description="pressure logger", properties={"cim:feature": "pipe-nodes/N-17"}, locations=[loc]
    )
    svc.create(thing)
    assert isinstance(thing.id, int)
    sensor = frost.Sensor(name="PT-100", description="transducer", encoding_type="text/plain", metadata="datasheet")
    prop = frost.ObservedProperty(name="pressure", definition="urn:pressure", description="water pressure")
    svc.create(sensor)
    svc.create(prop)
    ds = frost.Datastream(
        name="N-17 pressure",
        description="1-minute pressure",
        observation_type=MEASUREMENT,
        unit_of_measurement=frost.UnitOfMeasurement(name="bar", symbol="bar", definition="urn:bar"),
        thing=thing,
        sensor=sensor,
        observed_property=prop,
    )
    svc.create(ds)
    values = [3.0 + 0.1 * i for i in range(10)]
    for i, v in enumerate(values):
        obs = frost.Observation(result=v, phenomenon_time=f"2026-01-01T00:{i:02d}:00Z", datastream=ds)
        svc.create(obs)
        assert isinstance(obs.id, int)

    # read back with $filter and $orderby (the client's query builder)
    got = (
        svc.observations()
        .query()
        .filter(f"Datastream/id eq {ds.id} and phenomenonTime ge 2026-01-01T00:03:00Z and result lt 3.75")
        .orderby("phenomenonTime", "desc")
        .list()
    )
    results = [o.result for o in got]
    assert results == pytest.approx([3.7, 3.6, 3.5, 3.4, 3.3, 3.2, 3.1, 3.0][:5])  # 00:07 .. 00:03, newest first
    times = [o.phenomenon_time for o in got]
    assert times[0].startswith("2026-01-01T00:07:00") and times[-1].startswith("2026-01-01T00:03:00")

    # navigation from the datastream, with a count and paging
    page = svc.datastreams().find(ds.id)
    assert page.name == "N-17 pressure" and page.unit_of_measurement.symbol == "bar"
    q = svc.observations().query().filter(f"Datastream/id eq {ds.id}").orderby("result", "asc").top(4).count().list()
    assert q.count == 10 and [o.result for o in q.entities] == pytest.approx(values[:4])
    assert q.next_link and "%24skip=4" in q.next_link

    things = svc.things().query().filter("properties/cim:feature eq 'pipe-nodes/N-17'").expand("Locations").list()
    assert [t.name for t in things] == ["Logger 17"]
    assert things.entities[0].locations.entities[0].location["coordinates"] == pytest.approx([123.4101, 41.7893])

    # no FeatureOfInterest given: the service made one from the Thing's Location, once, and reuses it
    fois = svc.features_of_interest().query().list()
    assert len(fois.entities) == 1
    foi = fois.entities[0]
    assert foi.feature["coordinates"] == pytest.approx([123.4101, 41.7893]) and foi.name == "Node N-17"
    assert foi.encoding_type == "application/geo+json"
    obs = svc.observations().query().filter(f"Datastream/id eq {ds.id}").expand("FeatureOfInterest").list()
    assert {o.feature_of_interest.id for o in obs} == {foi.id}

    # the Thing moves (its Location patched): the next observation gets a new FeatureOfInterest there
    import httpx

    base = server.url + "/sta/v1.1"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    moved = {"type": "Point", "coordinates": [123.42, 41.8]}
    loc_id = things.entities[0].locations.entities[0].id
    r = httpx.patch(f"{base}/Locations({loc_id})", json={"location": moved}, headers=auth)
    assert r.status_code == 200, r.text
    r = httpx.post(
        f"{base}/Observations",
        json={"result": 4.0, "phenomenonTime": "2026-01-01T00:10:00Z", "Datastream": {"@iot.id": ds.id}},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    new = httpx.get(r.headers["location"], params={"$expand": "FeatureOfInterest"}).json()["FeatureOfInterest"]
    assert new["@iot.id"] != foi.id and new["feature"] == moved
    # DataArray rows without FeatureOfInterest/id reuse it; a given FeatureOfInterest is kept
    r = httpx.post(
        f"{base}/CreateObservations",
        json=[
            {
                "Datastream": {"@iot.id": ds.id},
                "components": ["phenomenonTime", "result"],
                "dataArray": [["2026-01-01T00:11:00Z", 4.1], ["2026-01-01T00:12:00Z", 4.2]],
            },
            {
                "Datastream": {"@iot.id": ds.id},
                "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
                "dataArray": [["2026-01-01T00:13:00Z", 4.3, foi.id]],
            },
        ],
        headers=auth,
    )
    assert r.status_code == 201, r.text
    got = httpx.get(
        f"{base}/Datastreams({ds.id})/Observations",
        params={"$filter": "phenomenonTime ge 2026-01-01T00:10:00Z", "$orderby": "phenomenonTime",
                "$expand": "FeatureOfInterest($select=id)"},
    ).json()["value"]  # fmt: skip
    assert [o["FeatureOfInterest"]["@iot.id"] for o in got] == [new["@iot.id"]] * 3 + [foi.id]
    assert httpx.get(f"{base}/FeaturesOfInterest", params={"$count": "true"}).json()["@iot.count"] == 2
