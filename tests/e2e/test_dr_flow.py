"""The `make demo` flow as a test, for SDK 5 and SDK 3: clone_cluster, a rerun, a day-2 user and key, sync.

The SDK 5 flow runs with the KMS settings of `make demo KMS=1` (playbooks/examples/simulator/kms.yml): kmsuser on
every cluster and a KMS custom key store on the clone, which reruns must leave alone.

Runs from the collection's build-tree copy (ANSIBLE_COLLECTIONS_PATH pointing at it), as root: the simulated client
packages really install into /opt/cloudhsm. Users and keys are read from the simulated HSMs themselves, not through
the collection's code. The runs are serial (the two SDKs' client packages conflict).
"""

import os
import subprocess
import sys

import time

import boto3
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import demo  # noqa: E402

DAY2_USER = "day2_user"
DAY2_KEY = "day2-key"


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


def test_sync_with_nothing_new_changes_nothing(flow):
    run = flow.run_playbook("sync.yml", log_name="sync-rerun", progress=False)
    assert run.changed_tasks == [] and run.changed == 0
    if flow.kms:
        reconnect_clone_key_stores(flow)


def test_migrate_moves_the_dr_set_to_the_current_client_and_hsm_type(flow):
    """Last on the SDK 3 DR set: playbooks/migrate.yml. The clients move to SDK 5 and the clones, then the source,
    become hsm2m.medium with exactly the users and keys they held; a rerun changes nothing; sync works with SDK 5.
    (The week AWS wants between the last SDK 3 connection and the migration passes in the simulator first; the
    refusal before it is tests/simulator/test_hsm_type_migration.py's.) Afterwards the flow runs with SDK 5."""
    if flow.sdk != 3:
        pytest.skip("the migration starts from the SDK 3 / hsm1.medium DR set")
    before = flow.report()
    assert before["match"]
    migrate_vars = flow.prepare_migration(seconds_per_hsm=1.0)
    flow.let_a_week_pass()
    run = flow.run_playbook("migrate.yml", progress=False, extra_files=[migrate_vars])
    assert run.changed > 0
    installed = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", "cloudhsm-cli",
                                "cloudhsm-client"], capture_output=True, text=True, check=False).stdout
    assert "cloudhsm-cli ii" in installed and "cloudhsm-client ii" not in installed
    assert set(flow.hsm_types().values()) == {("ACTIVE", "hsm2m.medium")}
    after = flow.report()
    assert [(c["cluster_id"], c["users"], c["keys"]) for c in after["clusters"]] == [
        (c["cluster_id"], c["users"], c["keys"]) for c in before["clusters"]]

    rerun = flow.run_playbook("migrate.yml", log_name="migrate-rerun", progress=False, extra_files=[migrate_vars])
    assert rerun.changed_tasks == [] and rerun.changed == 0

    flow.use_sdk5()
    synced = flow.run_playbook("sync.yml", log_name="sync-sdk5", progress=False)
    assert synced.changed == 0, synced.changed_tasks
