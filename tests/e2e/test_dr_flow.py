"""The `make demo` flow as a test, for SDK 5 and SDK 3: clone_cluster, a rerun, a day-2 user, key, key pair and
shared key, sync; then, on the SDK 3 set, the keys real clusters hold (SDK 5: tests/e2e/test_key_material.py).

The SDK 5 flow runs with the KMS settings of `make demo KMS=1` (playbooks/examples/simulator/kms.yml): kmsuser on
every cluster and a KMS custom key store on the clone, which reruns must leave alone.

Runs from the collection's build-tree copy (ANSIBLE_COLLECTIONS_PATH pointing at it), as root: the simulated client
packages really install into /opt/cloudhsm. Users and keys are read from the simulated HSMs themselves, not through
the collection's code. The runs are serial (the two SDKs' client packages conflict).
"""

import os
import secrets
import sys
import time

import boto3
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import demo  # noqa: E402
import dr_sets  # noqa: E402
from dr_sets import Login, objects, users_of  # noqa: E402

DAY2_USER = "day2_user"
DAY2_KEY = "day2-key"
DAY2_PAIR = "day2-signing"
DAY2_SHARED = "day2-shared"


def start_flow(sdk, run_dir, kms=False):
    run = demo.DemoRun(sdk, str(run_dir), out=sys.stderr, kms=kms)
    run.prepare_run_dir()
    run.reset_client()
    run.start_simulator()
    run.build_package()
    run.write_secrets()
    run.run_playbook("prepare_network.yml", progress=False)
    return run


@pytest.fixture(scope="module", params=["5", "3"], ids=["sdk5", "sdk3"])
def flow(request, tmp_path_factory):
    run = start_flow(request.param, tmp_path_factory.mktemp("sdk" + request.param) / "run", kms=request.param == "5")
    yield run
    run.stop_simulator()


def describe(run, region):
    return boto3.client("cloudhsmv2", region_name=region, endpoint_url=run.env["AWS_ENDPOINT_URL"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def assert_one_clone_set(run):
    """Exactly one live cluster per name and region, each with the HSMs asked for, and one copy of the backup."""
    settings = run.dr_settings()
    clusters = run.clusters()
    members = [settings["cloudhsm_dr_source"]] + settings["cloudhsm_dr_clones"]
    assert sorted((c["region"], c["name"]) for c in clusters) == sorted((m["region"], m["name"]) for m in members)
    for member in members:
        cluster = next(c for c in clusters if c["name"] == member["name"])
        assert len(cluster["hsm_ips"]) == len(member["availability_zones"]), cluster
        assert cluster["state"] == "ACTIVE"
    for clone in settings["cloudhsm_dr_clones"]:
        client = describe(run, clone["region"])
        copies = [b for b in client.describe_backups()["Backups"] if b.get("SourceBackup")]
        assert len(copies) == 1, copies
        clone_cluster = next(c for c in clusters if c["name"] == clone["name"])
        assert clone_cluster["source_backup_id"] == copies[0]["BackupId"]


def test_clone_cluster_check_mode_from_nothing_creates_nothing(flow):
    """Check mode before any cluster exists may report what it would create, but creates nothing."""
    flow.run_playbook("clone_cluster.yml", log_name="clone_cluster-check-empty", check=True, progress=False)
    assert flow.clusters() == []


def test_clone_cluster_builds_the_dr_set(flow):
    run = flow.run_playbook("clone_cluster.yml", progress=False)
    assert run.changed > 0
    assert_one_clone_set(flow)
    report = flow.report()
    source, clone = report["clusters"][0], report["clusters"][1]
    assert ("payments_app", "CU") in source["users"]
    assert [k[0] for k in source["keys"]] == ["demo-kek"]
    assert clone["users"] == source["users"] and clone["keys"] == source["keys"]
    assert report["match"]
    assert_clients_admitted(flow)
    if flow.kms:
        assert ("kmsuser", "CU") in source["users"] and ("kmsuser", "CU") in clone["users"]
        assert_clone_key_store_connected(flow)


def assert_clone_key_store_connected(run):
    """The clone's KMS key store exists once, is CONNECTED, and is backed by the clone."""
    clusters = {c["region"]: c for c in run.clusters()}
    stores = run.clone_key_stores()
    assert stores, "the KMS settings name no key store on a clone"
    for clone, store in stores:
        assert store is not None, clone
        assert store["ConnectionState"] == "CONNECTED", store
        assert store["CloudHsmClusterId"] == clusters[clone["region"]]["cluster_id"]
        listed = run.aws("kms", clone["region"]).describe_custom_key_stores()["CustomKeyStores"]
        assert [s["CustomKeyStoreName"] for s in listed].count(clone["key_store"]) == 1
    return stores


def reconnect_clone_key_stores(run):
    """Disconnect and connect each clone store: KMS logs in with the kmsuser password it rotated to, which fails
    with INVALID_CREDENTIALS if a rerun or a sync had reset the password."""
    for clone, store in run.clone_key_stores():
        kms = run.aws("kms", clone["region"])
        store_id = store["CustomKeyStoreId"]
        kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
        for wanted in ("DISCONNECTED", "CONNECTED"):
            if wanted == "CONNECTED":
                kms.connect_custom_key_store(CustomKeyStoreId=store_id)
            deadline = time.monotonic() + 30
            while True:
                store = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]
                if store["ConnectionState"] in (wanted, "FAILED") or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert store["ConnectionState"] == wanted, store


def assert_clients_admitted(run):
    """Every cluster's security group lets the client network in on the CloudHSM ports, once."""
    cidr = run.dr_settings()["cloudhsm_dr_client_cidrs"][0]
    for cluster in run.clusters():
        cloudhsm = describe(run, cluster["region"])
        group_id = cloudhsm.describe_clusters(Filters={"clusterIds": [cluster["cluster_id"]]})["Clusters"][0]["SecurityGroup"]
        ec2 = boto3.client("ec2", region_name=cluster["region"], endpoint_url=run.env["AWS_ENDPOINT_URL"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        rules = [(p.get("FromPort"), p.get("ToPort"), r["CidrIp"]) for p in group["IpPermissions"] for r in p["IpRanges"]]
        assert rules.count((2223, 2225, cidr)) == 1, rules


def test_clone_cluster_rerun_changes_nothing(flow):
    stores_before = flow.clone_key_stores() if flow.kms else []
    run = flow.run_playbook("clone_cluster.yml", log_name="clone_cluster-rerun", progress=False)
    assert run.changed_tasks == [] and run.changed == 0
    if flow.kms:
        assert [s["CustomKeyStoreId"] for _c, s in assert_clone_key_store_connected(flow)] == [
            s["CustomKeyStoreId"] for _c, s in stores_before]


def test_clone_cluster_check_mode_on_the_dr_set_changes_nothing(flow):
    run = flow.run_playbook("clone_cluster.yml", log_name="clone_cluster-check", check=True, progress=False)
    assert run.changed == 0, run.changed_tasks


def test_sync_brings_a_new_user_and_key_to_the_clone(flow):
    flow.run_playbook("add_user_and_key.yml", progress=False)
    before = flow.report()
    assert not before["match"]
    assert (DAY2_USER, "CU") not in before["clusters"][1]["users"]
    run = flow.run_playbook("sync.yml", progress=False)
    assert run.changed > 0
    report = flow.report()
    assert report["match"]
    for cluster in report["clusters"]:
        assert (DAY2_USER, "CU") in cluster["users"]
        assert DAY2_KEY in [k[0] for k in cluster["keys"]]
        # The key pair arrives whole, the shared key with its share.
        assert sorted(k[5] for k in cluster["keys"] if k[0].startswith(DAY2_PAIR)) == ["private-key", "public-key"]
        assert [k[6] for k in cluster["keys"] if k[0] == DAY2_SHARED] == [("payments_app",)]


def test_sync_with_nothing_new_changes_nothing(flow):
    run = flow.run_playbook("sync.yml", log_name="sync-rerun", progress=False)
    assert run.changed_tasks == [] and run.changed == 0
    if flow.kms:
        reconnect_clone_key_stores(flow)


def test_sdk3_pairs_shares_a_renamed_key_and_session_keys(flow):
    """SDK 3 (syncKey over SyncClusters.cfg): an RSA and an EC pair, a key shared by one crypto user with another,
    a key relabelled after cloning and a session key on the source; sync.yml copies the share user first, then
    each pair (one entry) and the shared key with owner and share; the session key is neither counted nor copied;
    the label change is reported with both values and left; a rerun changes nothing."""
    if flow.sdk != "3":
        pytest.skip("the SDK 5 case is tests/e2e/test_key_material.py")
    clusters = {c["region"]: c for c in flow.clusters()}
    source, clone = clusters["us-east-1"], clusters["us-west-2"]
    flow.passwords["partner_app"] = secrets.token_urlsafe(12)
    with Login(flow, source, "admin", flow.passwords["admin"]) as admin:
        admin.call("create_user", role="CU", username="partner_app", password=flow.passwords["partner_app"])
    with Login(flow, source, "payments_app", flow.passwords["payments_app"]) as owner:
        owner.call("generate_key_pair", key_type="rsa", public_label="tls-rsa", private_label="tls-rsa",
                   modulus_bits=2048)
        owner.call("generate_key_pair", key_type="ec", public_label="sign-ec", private_label="sign-ec",
                   curve="secp256r1")
        owner.call("generate_key", key_type="aes", size=32, label="shared-kek", share=["partner_app"])
        [kek] = [k for k in owner.call("list_keys")["keys"] if k["label"] == "demo-kek"]
        owner.call("set_attribute", name="label", value="demo-kek-v2", handle=kek["handle"])
        owner.call("generate_key", key_type="aes", size=16, label="scratch", session_key=True)
        held = objects(flow, source)
        run = flow.run_playbook("sync.yml", log_name="sync-key-material", progress=False)
        assert "scratch" in [k[1] for k in objects(flow, source)], "the session key ended before the sync did"

    lines = dr_sets.summary(run)
    copied = [line for line in lines if line.startswith("keys copied to %s this run: " % clone["cluster_id"])]
    assert len(copied) == 1, lines
    assert sorted(copied[0].split(": ", 1)[1].split(", ")) == ["shared-kek", "sign-ec", "tls-rsa"], lines
    assert "users copied to %s this run: partner_app" % clone["cluster_id"] in lines, lines

    on_clone = objects(flow, clone)
    expected = sorted(k if k[1] != "demo-kek-v2" else (k[0], "demo-kek") + k[2:] for k in held if not k[6])
    assert on_clone == expected, (on_clone, expected)
    assert [k[5] for k in on_clone if k[1] == "shared-kek"] == [("partner_app",)]
    assert ("partner_app", "CU") in users_of(flow, clone)
    drift = [line for line in lines if line.startswith("drift on %s" % clone["cluster_id"])]
    assert len(drift) == 1 and ('keys whose attributes differ [demo-kek-v2 (label "demo-kek-v2" on the source, '
                                '"demo-kek" here)]') in drift[0], lines
    assert lines[-1] == "differences left: 1", lines

    again = flow.run_playbook("sync.yml", log_name="sync-key-material-again", progress=False)
    assert again.changed == 0, again.changed_tasks
    assert objects(flow, clone) == on_clone
    assert dr_sets.summary(again)[-1] == "differences left: 1"


def test_sdk3_cloudhsm_key_counts_more_than_20_keys_under_one_label(flow):
    """key_mgmt_util findKey wraps long handle lists over lines; cloudhsm_key reads every line."""
    if flow.sdk != "3":
        pytest.skip("SDK 5 lists keys as JSON: the wrapped lists are an SDK 3 form")
    source = next(c for c in flow.clusters() if c["region"] == "us-east-1")
    with Login(flow, source, "payments_app", flow.passwords["payments_app"]) as owner:
        for unused in range(21):
            owner.call("generate_key", key_type="aes", size=32, label="bulk")
    playbook = os.path.join(flow.run_dir, "count_bulk.yml")
    with open(playbook, "w") as handle:
        handle.write(COUNT_PLAYBOOK)
    flow.run_playbook(playbook, progress=False)


COUNT_PLAYBOOK = """---
- name: Count the keys labelled bulk on the source through cloudhsm_key (SDK 3)
  hosts: cloudhsm_clients
  gather_facts: false
  tasks:
    - name: Look for the one key labelled bulk
      hsmops.cloudhsm.cloudhsm_key:
        sdk: "3"
        label: bulk
        username: payments_app
        role: crypto-user
        password: "{{ dr_passwords.payments_app }}"
      register: bulk
      ignore_errors: true

    - name: All 21 keys were seen
      ansible.builtin.assert:
        that:
          - bulk.failed
          - "'matches 21 keys' in bulk.msg"
        fail_msg: "{{ bulk.msg | default(bulk) }}"
"""
