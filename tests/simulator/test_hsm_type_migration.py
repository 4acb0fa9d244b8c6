"""HSM-type migration (ModifyCluster HsmType, hsm1.medium -> hsm2m.medium): the client SDK prerequisite, HSM-by-HSM
progress, limited-write mode as the emulated tools see it, the rollback window, and the replicate direction rule."""

import json
import os
import re
import time

import pytest

from cloudhsm_sim.dataplane import STATE, HsmError
from cloudhsm_sim.dataplane.testing import HsmTestServer, run_tool
from test_dataplane_e2e import ADMIN_PASSWORD, CU_PASSWORD, add_hsm, describe, initialized_cluster, tools, wait_for

DAY = 24 * 3600


def hsm_types(client, cluster_id):
    return sorted(h["HsmType"] for h in describe(client, cluster_id)["Hsms"])


def test_migration_prerequisite_progress_limited_write_and_rollback(sim, ca, tmp_path):
    client = sim.client("eu-west-1")
    cluster_id, ip_a, subnets = initialized_cluster(sim, ca, "eu-west-1", "hsm1.medium")
    sdk3 = tools("3", tmp_path, sim, ca, "sdk3")
    assert run_tool(sdk3, "configure", ["-a", ip_a], endpoint=sim.endpoint).returncode == 0
    activated = run_tool(
        sdk3, "cloudhsm_mgmt_util", [os.path.join(sdk3, "etc", "cloudhsm_mgmt_util.cfg")], endpoint=sim.endpoint,
        stdin="loginHSM PRECO admin password\nchangePswd PRECO admin %s\ny\nloginHSM CO admin %s\n"
              "createUser CU cu1 %s\ny\nquit\n" % (ADMIN_PASSWORD, ADMIN_PASSWORD, CU_PASSWORD),
    )
    assert "changePswd success on server 0" in activated.stdout
    ip_b = add_hsm(sim, client, cluster_id, subnets[1]["AvailabilityZone"])

    # An SDK 3 client reached the cluster in the last 7 days: the migration is refused, naming the version.
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException) as refused:
        client.modify_cluster(ClusterId=cluster_id, HsmType="hsm2m.medium")
    message = refused.value.response["Error"]["Message"]
    assert "Client SDK 3.4.4" in message and "5.9 or later" in message
    assert describe(client, cluster_id)["State"] == "ACTIVE"

    # Eight days later, with only SDK 5 clients since, it is accepted.
    sim.admin_ok("POST", "/_sim/clusters/{0}/time-passes".format(cluster_id), {"seconds": 8 * DAY})
    sdk5 = tools("5", tmp_path, sim, ca, "sdk5")
    assert run_tool(sdk5, "configure-cli", ["-a", ip_a, ip_b], endpoint=sim.endpoint).returncode == 0

    def cli(*args, **env):
        return json.loads(run_tool(sdk5, "cloudhsm-cli", args, env=env, endpoint=sim.endpoint).stdout)

    admin = {"CLOUDHSM_ROLE": "admin", "CLOUDHSM_PIN": "admin:" + ADMIN_PASSWORD}
    crypto_user = {"CLOUDHSM_ROLE": "crypto-user", "CLOUDHSM_PIN": "cu1:" + CU_PASSWORD}
    users_before = cli("user", "list")["data"]["users"]
    sim.transitions(cluster_modify=0.6)
    started = time.time()
    migrating = client.modify_cluster(ClusterId=cluster_id, HsmType="hsm2m.medium")["Cluster"]
    assert (migrating["State"], migrating["HsmType"]) == ("MODIFY_IN_PROGRESS", "hsm2m.medium")
    assert started + DAY - 5 <= migrating["HsmTypeRollbackExpiration"].timestamp() <= time.time() + DAY + 5

    # Limited-write mode: reads work, every documented write is refused by the HSMs.
    assert cli("user", "list")["data"]["users"] == users_before
    refused_user = cli("user", "create", "--username", "cu2", "--role", "crypto-user", "--password", CU_PASSWORD,
                       **admin)
    assert refused_user["error_code"] == 1 and "limited-write mode" in refused_user["data"]
    refused_key = cli("key", "generate-symmetric", "aes", "--label", "k1", "--key-length-bytes", "32",
                      **crypto_user)
    assert refused_key["error_code"] == 1 and "limited-write mode" in refused_key["data"]
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
        client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[0]["AvailabilityZone"])

    # HSM by HSM: one HSM runs the new type while the other still waits.
    assert wait_for(lambda: hsm_types(client, cluster_id) == ["hsm1.medium", "hsm2m.medium"], timeout=5)
    assert describe(client, cluster_id)["State"] == "MODIFY_IN_PROGRESS"
    done = sim.wait_cluster(client, cluster_id, "ACTIVE", timeout=5)
    assert hsm_types(client, cluster_id) == ["hsm2m.medium", "hsm2m.medium"]
    assert done["HsmTypeRollbackExpiration"] == migrating["HsmTypeRollbackExpiration"]
    assert time.time() - started >= 1.2  # two HSMs at 0.6 s each
    assert cli("user", "create", "--username", "cu2", "--role", "crypto-user", "--password", CU_PASSWORD,
               **admin)["error_code"] == 0

    # Rollback inside the window, then migrate again.
    rolling_back = client.modify_cluster(ClusterId=cluster_id, HsmType="hsm1.medium")["Cluster"]
    assert rolling_back["State"] == "ROLLBACK_IN_PROGRESS"
    refused_delete = cli("user", "delete", "--username", "cu2", "--role", "crypto-user", **admin)
    assert "limited-write mode" in refused_delete["data"]
    assert sim.wait_cluster(client, cluster_id, "ACTIVE", timeout=5)["HsmType"] == "hsm1.medium"
    assert hsm_types(client, cluster_id) == ["hsm1.medium", "hsm1.medium"]
    client.modify_cluster(ClusterId=cluster_id, HsmType="hsm2m.medium")
    sim.wait_cluster(client, cluster_id, "ACTIVE", timeout=5)

    # After the window: refused, naming the deadline.
    deadline = describe(client, cluster_id)["HsmTypeRollbackExpiration"].timestamp()
    sim.admin_ok("POST", "/_sim/clusters/{0}/time-passes".format(cluster_id), {"seconds": DAY + 60})
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException) as closed:
        client.modify_cluster(ClusterId=cluster_id, HsmType="hsm1.medium")
    expected = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(deadline - DAY - 60))
    assert re.search("rollback window closed at " + expected, closed.value.response["Error"]["Message"])


@pytest.fixture
def hsm():
    with HsmTestServer() as server:
        yield server


def test_limited_write_refusals_and_replicate_direction(hsm):
    from cloudhsm_sim import events

    password = "Officer-Pass1"
    hsm.cluster("cluster-mmmmmmmmmmm", ["10.7.0.1"], hsm_type="hsm1.medium")
    hsm.call("activate", hsm="10.7.0.1", password=password)
    admin = hsm.call("login", hsm="10.7.0.1", role="CO", username="admin", password=password)["session"]
    hsm.call("create_user", hsm="10.7.0.1", session=admin, role="CU", username="cu1", password=password)
    hsm.call("create_user", hsm="10.7.0.1", session=admin, role="CU", username="cu9", password=password)
    cu1 = hsm.call("login", hsm="10.7.0.1", role="CU", username="cu1", password=password)["session"]
    token_key = hsm.call("generate_key", hsm="10.7.0.1", session=cu1, key_type="aes", size=32, label="t")["key"]
    clone = hsm.clone("cluster-mmmmmmmmmmm", "cluster-nnnnnnnnnnn", ["10.8.0.1"])
    events.emit("cluster_hsm_type_changing", account="123456789012", region="us-east-1",
                cluster_id="cluster-mmmmmmmmmmm", hsm_type="hsm2m.medium", state="MODIFY_IN_PROGRESS")
    handle = token_key["handle"]
    refused = {
        "user creation": ("create_user", dict(session=admin, role="CU", username="cu2", password=password)),
        "user deletion": ("delete_user", dict(session=admin, role="CU", username="cu9")),
        "password change": ("change_password", dict(session=admin, role="CU", username="cu1", password=password)),
        "quorum": ("register_quorum_key", dict(session=admin)),
        "token key generation": ("generate_key", dict(session=cu1, key_type="aes", size=32, label="u")),
        "token key deletion": ("delete_key", dict(session=cu1, handle=handle)),
        "attribute change": ("set_attribute", dict(session=cu1, handle=handle, name="label", value="v")),
        "mTLS registration": ("register_trust_anchor", dict(session=admin, certificate="x")),
    }
    for what, (op, args) in refused.items():
        with pytest.raises(HsmError) as error:
            hsm.call(op, hsm="10.7.0.1", **args)
        assert error.value.code == "limited_write", what
    # Session keys keep working (AWS: "session key workloads continue to operate").
    session_key = hsm.call("generate_key", hsm="10.7.0.1", session=cu1, key_type="aes", size=32, label="s",
                           session_key=True)["key"]
    hsm.call("delete_key", hsm="10.7.0.1", session=cu1, handle=session_key["handle"])
    assert sorted(STATE.clusters["cluster-mmmmmmmmmmm"].users) == ["admin", "app_user", "cu1", "cu9"]

    events.emit("cluster_hsm_type_changed", account="123456789012", region="us-east-1",
                cluster_id="cluster-mmmmmmmmmmm", hsm_type="hsm2m.medium")
    hsm.call("create_user", hsm="10.7.0.1", session=admin, role="CU", username="cu2", password=password)
    dest = hsm.call("login", hsm="10.8.0.1", role="CO", username="admin", password=password)["session"]
    assert clone.hsm_type == "hsm1.medium"
    with pytest.raises(HsmError) as error:  # user replicate: not from hsm2m.medium to hsm1.medium
        hsm.call("sync_user", hsm="10.7.0.1", session=admin, username="cu2", dest_hsm="10.8.0.1", dest_session=dest)
    assert error.value.code == "replicate_to_older_type" and "cu2" not in clone.users
    # The other way round works.
    hsm.call("create_user", hsm="10.8.0.1", session=dest, role="CU", username="cu3", password=password)
    hsm.call("sync_user", hsm="10.8.0.1", session=dest, username="cu3", dest_hsm="10.7.0.1", dest_session=admin)
    assert "cu3" in STATE.clusters["cluster-mmmmmmmmmmm"].users
