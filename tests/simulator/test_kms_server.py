"""KMS custom key stores through a running server (``cloudhsm-sim serve`` with ``cloudhsm_sim.kms.install()``),
with boto3 and the real AWS CLI as clients."""

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import Simulator, simulator_env, stop_server

# Starts the server the way `cloudhsm-sim serve` does, with the KMS extension installed in its process and its
# admin routes added (the wiring server.py is to get).
SERVE_WITH_KMS = """
import sys
from cloudhsm_sim import kms, server
from cloudhsm_sim.kms import admin
kms.install()
plain_init = server.AdminApi.__init__
def init(self, app):
    plain_init(self, app)
    self.routes.extend(admin.ROUTES)
server.AdminApi.__init__ = init
from cloudhsm_sim.cli import main
sys.exit(main(sys.argv[1:]))
"""
AWS = os.path.join(os.path.dirname(sys.executable), "aws")
KMSUSER_PASSWORD = "kmsPswd123"


@pytest.fixture(scope="module")
def kms_sim(aws_environment):
    env = simulator_env()
    env["CLOUDHSM_SIM_KMS_CONNECT_SECONDS"] = "0.5"
    process = subprocess.Popen([sys.executable, "-c", SERVE_WITH_KMS, "serve", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    endpoint = process.stdout.readline().strip()
    if not endpoint.startswith("http://127.0.0.1:"):
        process.kill()
        raise RuntimeError("server did not start: {0!r} {1}".format(endpoint, process.stderr.read()))
    yield Simulator(endpoint)
    stop_server(process)


def hsm_call(sim, op, **args):
    request = urllib.request.Request(sim.endpoint + "/_hsm/v1/call", method="POST",
                                     data=json.dumps({"op": op, "args": args}).encode())
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    assert answer["ok"], answer
    return answer["result"]


def ready_cluster(sim, ca, hsm_type="hsm2m.medium"):
    """ACTIVE, two HSMs in two zones, kmsuser present (created through the HSM API as a CO would)."""
    client = sim.client()
    cluster, subnets = sim.create_cluster(HsmType=hsm_type)
    cluster_id = cluster["ClusterId"]
    first = client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[0]["AvailabilityZone"])["Hsm"]
    csr = sim.wait_cluster(client, cluster_id, "UNINITIALIZED")["Certificates"]["ClusterCsr"]
    client.initialize_cluster(ClusterId=cluster_id, SignedCert=ca.sign(csr), TrustAnchor=ca.pem)
    sim.wait_cluster(client, cluster_id, "INITIALIZED")
    hsm_call(sim, "activate", hsm=first["EniIp"], password="adminPswd1")
    sim.wait_cluster(client, cluster_id, "ACTIVE")
    client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[1]["AvailabilityZone"])
    session = hsm_call(sim, "login", hsm=first["EniIp"], role="CO", username="admin", password="adminPswd1")["session"]
    hsm_call(sim, "create_user", hsm=first["EniIp"], session=session, role="CU", username="kmsuser",
             password=KMSUSER_PASSWORD)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        hsms = client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]["Hsms"]
        if len(hsms) == 2 and all(h["State"] == "ACTIVE" for h in hsms):
            break
        time.sleep(0.05)
    return cluster_id, first["EniIp"]


def test_store_lifecycle_over_http(kms_sim, ca):
    cluster_id, _ip = ready_cluster(kms_sim, ca)
    kms = kms_sim.client(service="kms")
    store_id = kms.create_custom_key_store(CustomKeyStoreName="server-store", CloudHsmClusterId=cluster_id,
                                           TrustAnchorCertificate=ca.pem,
                                           KeyStorePassword=KMSUSER_PASSWORD)["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    states = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        store = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]
        states.append(store["ConnectionState"])
        if store["ConnectionState"] != "CONNECTING":
            break
        time.sleep(0.1)
    # The delay came from CLOUDHSM_SIM_KMS_CONNECT_SECONDS in the server's environment.
    assert states[0] == "CONNECTING" and states[-1] == "CONNECTED"
    assert kms_sim.admin_ok("GET", "/_sim/kms") == {"kms": {"connect": 0.5, "disconnect": 0.0}}
    listed = kms_sim.admin_ok("GET", "/_sim/kms/stores")["stores"]
    assert [(s["CustomKeyStoreId"], s["ConnectionState"]) for s in listed if s["CustomKeyStoreId"] == store_id] == [
        (store_id, "CONNECTED")]
    assert kms_sim.admin("POST", "/_sim/kms", {"connect": -1})[0] == 400
    assert store["CreationDate"].tzinfo is not None

    key = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)["KeyMetadata"]
    assert key["CloudHsmClusterId"] == cluster_id
    with pytest.raises(ClientError) as still_connected:
        kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert still_connected.value.response["Error"]["Code"] == "CustomKeyStoreInvalidStateException"
    assert still_connected.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/nonexistent"),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_MAX_ATTEMPTS": "1",
           "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],
           "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"]}
    listed = subprocess.run([AWS, "--region", "us-east-1", "--endpoint-url", kms_sim.endpoint, "--output", "json",
                             "kms", "describe-custom-key-stores", "--custom-key-store-name", "server-store"],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["CustomKeyStores"][0]["CustomKeyStoreId"] == store_id


def collections_path():
    """Where the collection is installed with its dependencies: $ANSIBLE_COLLECTIONS_PATH (make sets it to the
    build tree) or the repository's build tree."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for candidate in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) + [
            os.path.join(root, "build", "collections")]:
        if candidate and os.path.isdir(os.path.join(candidate, "ansible_collections", "hsmops", "cloudhsm")):
            return candidate
    raise AssertionError("the collection is not installed; run `make build-tree` first")


def run_playbook(sim, extra_vars_file, tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), ANSIBLE_NOCOLOR="1")
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
         os.path.join(root, "playbooks", "restore_in_region.yml"), "-e", "@" + str(extra_vars_file),
         "-e", "cloudhsm_dr_endpoint_url=" + sim.endpoint],
        capture_output=True, text=True, env=env, timeout=600, check=False)


def test_restore_in_region_playbook(kms_sim, ca, tmp_path):
    cluster_id, _ip = ready_cluster(kms_sim, ca, hsm_type="hsm1.medium")  # so the restored cluster can migrate
    kms = kms_sim.client(service="kms")
    hsm_client = kms_sim.client()
    store_id = kms.create_custom_key_store(CustomKeyStoreName="playbook-store", CloudHsmClusterId=cluster_id,
                                           TrustAnchorCertificate=ca.pem,
                                           KeyStorePassword=KMSUSER_PASSWORD)["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    deadline = time.monotonic() + 10
    while kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]["ConnectionState"] != "CONNECTED":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    key_id = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
    kms_sim.take_backup(cluster_id)
    described = hsm_client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]
    zones = sorted(described["SubnetMapping"])
    for hsm in described["Hsms"]:
        hsm_client.delete_hsm(ClusterId=cluster_id, HsmId=hsm["HsmId"])
    while hsm_client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]["Hsms"]:
        time.sleep(0.05)
    hsm_client.delete_cluster(ClusterId=cluster_id)  # the loss

    settings = tmp_path / "restore.yml"
    settings.write_text(json.dumps({"cloudhsm_restore": {
        "region": "us-east-1", "lost_cluster_id": cluster_id, "name": "playbook-restored",
        "subnet_ids": [described["SubnetMapping"][zone] for zone in zones], "availability_zones": zones,
        "key_store": "playbook-store"}}))
    first = run_playbook(kms_sim, settings, tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert key_id in first.stdout.split("usable_keys", 1)[1].split("other_keys", 1)[0]
    store = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]
    assert store["ConnectionState"] == "CONNECTED" and store["CloudHsmClusterId"] != cluster_id
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"

    again = run_playbook(kms_sim, settings, tmp_path)
    assert again.returncode == 0, again.stdout[-3000:]
    assert "changed=0" in again.stdout.rsplit("PLAY RECAP", 1)[1]

    # The restored cluster starts to migrate to hsm2m.medium: limited-write mode. The playbook stops at its lookup,
    # naming the cluster, its state and until about when, and makes no mutating call (as sync.yml does).
    restored_id = store["CloudHsmClusterId"]
    kms_sim.transitions(cluster_modify=60)
    try:
        hsm_client.modify_cluster(ClusterId=restored_id, HsmType="hsm2m.medium")
        mark = kms_sim.last_request_seq()
        refused = run_playbook(kms_sim, settings, tmp_path)
        assert refused.returncode != 0, refused.stdout[-3000:]
        assert "Cluster %s in us-east-1 is MODIFY_IN_PROGRESS" % restored_id in refused.stdout, refused.stdout[-3000:]
        assert "limited-write mode" in refused.stdout and "expected around" in refused.stdout
        assert "changed=0" in refused.stdout.rsplit("PLAY RECAP", 1)[1]
        assert kms_sim.requests(since=mark, mutating="true") == []
        assert kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0][
            "ConnectionState"] == "CONNECTED"
    finally:
        kms_sim.admin_ok("DELETE", "/_sim/transitions")
