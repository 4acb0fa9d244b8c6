"""The ``/_hsm/`` HTTP JSON API the client tools call (served alone, control plane stubbed)."""

import http.client
import json
import time

import pytest

from cloudhsm_sim.dataplane.testing import HsmTestServer
from cloudhsm_sim.tools.common import HsmClient, ToolError


@pytest.fixture(scope="module")
def hsm():
    with HsmTestServer() as server:
        server.cluster("cluster-apiapiapiap", ["10.4.0.1"])
        yield server


def request(hsm, method, path, body=None, conn=None):
    conn = conn or http.client.HTTPConnection("127.0.0.1", int(hsm.endpoint.rsplit(":", 1)[1]), timeout=10)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_health_and_routing(hsm):
    assert request(hsm, "GET", "/_hsm/v1/health") == (200, {"ok": True})
    assert request(hsm, "GET", "/_hsm/v1/nothing")[0] == 404
    assert request(hsm, "GET", "/_hsm/v1/call")[0] == 405
    assert request(hsm, "POST", "/_hsm/v1/call", b"not json")[0] == 400
    assert request(hsm, "POST", "/_hsm/v1/call", json.dumps({"op": "list_users", "args": {"nope": 1}}))[0] == 400


def test_answers_and_refusals(hsm):
    status, answer = request(
        hsm, "POST", "/_hsm/v1/call", json.dumps({"op": "list_users", "args": {"hsm": "10.4.0.1"}})
    )
    assert status == 200 and answer["ok"] is True
    assert [u["name"] for u in answer["result"]["users"]] == ["admin", "app_user"]
    status, answer = request(
        hsm,
        "POST",
        "/_hsm/v1/call",
        json.dumps(
            {"op": "login", "args": {"hsm": "10.4.0.1", "role": "PRECO", "username": "admin", "password": "bad-one"}}
        ),
    )
    assert status == 200 and answer == {
        "ok": False,
        "code": "login_failed",
        "message": "wrong password for admin",
        "details": {},
    }
    status, answer = request(hsm, "POST", "/_hsm/v1/call", json.dumps({"op": "format_hsm", "args": {}}))
    assert answer["code"] == "unknown_operation"


def test_one_connection_many_calls_stay_fast(hsm, monkeypatch, tmp_path):
    monkeypatch.setenv("CLOUDHSM_SIM_ENDPOINT", hsm.endpoint)
    client = HsmClient(str(tmp_path))  # the tools' own client (stdlib only)
    start = time.perf_counter()
    for unused_call in range(300):
        client.call("list_users", hsm="10.4.0.1")
    per_call = (time.perf_counter() - start) / 300
    client.close()
    assert per_call < 0.01, per_call  # one kept-alive loopback round trip per operation


def test_tools_talk_to_loopback_only(monkeypatch, tmp_path):
    monkeypatch.setenv("CLOUDHSM_SIM_ENDPOINT", "http://10.4.0.1:5000")
    with pytest.raises(ToolError, match="loopback"):
        HsmClient(str(tmp_path))
    monkeypatch.delenv("CLOUDHSM_SIM_ENDPOINT")
    with pytest.raises(ToolError, match="not set"):
        HsmClient(str(tmp_path))
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "simulator-endpoint").write_text("http://127.0.0.1:4567\n")
    assert (HsmClient(str(tmp_path)).host, HsmClient(str(tmp_path)).port) == ("127.0.0.1", 4567)
