"""The HSM-type change through the collection against a running ``cloudhsm-sim serve``: cloudhsm_cluster's rollback
(check mode, inside the window, refused after it) and the preflight of playbooks/migrate.yml, which runs on the
control node alone (no client host: a refused preflight stops the playbook before its client and cluster plays).

The whole migration with its clients is tests/e2e/test_dr_flow.py's."""

import json
import os
import subprocess
import sys
import time

from test_dataplane_e2e import wait_for
from test_kms_server import KMSUSER_PASSWORD, collections_path, ready_cluster

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DAY = 24 * 3600
ADMIN_PASSWORD = "adminPswd1"

# One cloudhsm_cluster call; its result is printed on one line after RESULT.
HSM_TYPE_PLAYBOOK = """---
- name: Change the HSM type of one cluster
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/hsmops.cloudhsm.aws:
      endpoint_url: "{{ cloudhsm_dr_endpoint_url }}"
      region: us-east-1
  tasks:
    - name: HSM type
      hsmops.cloudhsm.cloudhsm_cluster:
        cluster_id: "{{ cluster_id }}"
        hsm_type: "{{ hsm_type }}"
      register: changed_type
      ignore_errors: true

    - name: Result
      ansible.builtin.debug:
        msg: "RESULT {{ changed_type | to_json }}"
"""


def ansible_playbook(sim, tmp_path, playbook, *args, check=False):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), ANSIBLE_NOCOLOR="1")
    env.pop("PYTHONPATH", None)
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
         playbook, "-e", "cloudhsm_dr_endpoint_url=" + sim.endpoint, *args] + (["--check"] if check else []),
        capture_output=True, text=True, env=env, timeout=600, check=False)


def hsm_type(sim, tmp_path, cluster_id, wanted, check=False):
    """cloudhsm_cluster's result for hsm_type=wanted (a failure is a result too)."""
    playbook = tmp_path / "hsm_type.yml"
    playbook.write_text(HSM_TYPE_PLAYBOOK)
    run = ansible_playbook(sim, tmp_path, str(playbook), "-e", "cluster_id=" + cluster_id, "-e", "hsm_type=" + wanted,
                           check=check)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    line = next(line for line in run.stdout.splitlines() if '"msg": "RESULT ' in line)
    return json.loads(json.loads("{" + line.strip() + "}")["msg"][len("RESULT "):])


def migrate(sim, tmp_path, settings, mode="migrate", check=False):
    return ansible_playbook(sim, tmp_path, os.path.join(ROOT, "playbooks", "migrate.yml"), "-e", "@" + str(settings),
                            "-e", "cloudhsm_dr_migrate_mode=" + mode, check=check)


def recap_changed(run):
    return run.stdout.rsplit("PLAY RECAP", 1)[1].split("changed=", 1)[1].split()[0]


def cluster(sim, cluster_id):
    return sim.client().describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]


def wait_store(kms, store_id, state, timeout=20):
    deadline = time.monotonic() + timeout
    while kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]["ConnectionState"] != state:
        assert time.monotonic() < deadline, state
        time.sleep(0.1)


def dr_set(sim, ca, tmp_path, name):
    """A DR set as clone_cluster.yml leaves it on hsm1.medium: the source (ACTIVE, two HSMs, kmsuser) in us-east-1
    and a clone restored from a copy of its backup in us-west-2 (ACTIVE, no HSM). Returns (source id, clone id, the
    DR vars file). Names: <name>-primary and <name>-dr (the simulator is shared by the tests of a worker)."""
    source_id, _ip = ready_cluster(sim, ca, hsm_type="hsm1.medium")
    sim.client().tag_resource(ResourceId=source_id, TagList=[{"Key": "Name", "Value": name + "-primary"}])
    backup_id = sim.take_backup(source_id)["BackupId"]
    wait_for(lambda: sim.client().describe_backups(
        Filters={"backupIds": [backup_id]})["Backups"][0]["BackupState"] == "READY")
    sim.client().copy_backup_to_region(DestinationRegion="us-west-2", BackupId=backup_id)
    west = sim.client("us-west-2")
    copy_id = wait_for(lambda: [b["BackupId"] for b in west.describe_backups(
        Filters={"sourceBackupIds": [backup_id]})["Backups"] if b["BackupState"] == "READY"])[0]
    west_subnets = sim.subnets("us-west-2")
    clone_id = west.create_cluster(HsmType="hsm1.medium", SourceBackupId=copy_id,
                                   SubnetIds=[s["SubnetId"] for s in west_subnets],
                                   TagList=[{"Key": "Name", "Value": name + "-dr"}])["Cluster"]["ClusterId"]
    sim.wait_cluster(west, clone_id, "ACTIVE")
    found = cluster(sim, source_id)
    zones = sorted(found["SubnetMapping"])
    path = tmp_path / "dr.yml"
    path.write_text(json.dumps({
        "cloudhsm_dr_sdk": 3, "cloudhsm_dr_hsm_type": "hsm1.medium",
        "cloudhsm_dr_source": {"name": name + "-primary", "region": "us-east-1", "availability_zones": zones,
                               "subnet_ids": [found["SubnetMapping"][zone] for zone in zones]},
        "cloudhsm_dr_clones": [{"name": name + "-dr", "region": "us-west-2",
                                "availability_zones": [west_subnets[0]["AvailabilityZone"]],
                                "subnet_ids": [s["SubnetId"] for s in west_subnets]}],
        "cloudhsm_dr_admin_password": ADMIN_PASSWORD,
    }))
    return source_id, clone_id, path


def test_migrate_preflight_stops_at_a_key_store_with_a_pending_connect_or_disconnect(sim, ca, tmp_path):
    cluster_id, _clone_id, settings = dr_set(sim, ca, tmp_path, "kms-pending")
    kms = sim.client(service="kms")
    store_id = kms.create_custom_key_store(CustomKeyStoreName="migrating-store", CloudHsmClusterId=cluster_id,
                                           TrustAnchorCertificate=ca.pem,
                                           KeyStorePassword=KMSUSER_PASSWORD)["CustomKeyStoreId"]
    # The connect stays pending; the disconnect ends after the run that sees it pending (with room for a slow,
    # loaded machine: the run must start and reach its preflight while the disconnect is still pending).
    sim.admin_ok("POST", "/_sim/kms", {"connect": 600, "disconnect": 45})
    try:
        kms.connect_custom_key_store(CustomKeyStoreId=store_id)
        wait_store(kms, store_id, "CONNECTING")
        mark = sim.last_request_seq()
        connecting = migrate(sim, tmp_path, settings)
        assert connecting.returncode != 0, connecting.stdout[-3000:]
        expected = ("KMS custom key store migrating-store (%s, us-east-1), backed by source kms-pending-primary (%s), "
                    "is CONNECTING: KMS has a connect pending on the cluster. Wait until it is CONNECTED (or FAILED) "
                    "(aws kms describe-custom-key-stores --custom-key-store-id %s --region us-east-1), then run this "
                    "again." % (store_id, cluster_id, store_id))
        assert expected in connecting.stdout, connecting.stdout[-3000:]
        assert "The migration preflight found 1 problem(s); nothing was changed" in connecting.stdout
        assert recap_changed(connecting) == "0"
        assert sim.requests(since=mark, mutating="true") == []

        kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
        wait_store(kms, store_id, "DISCONNECTING")
        disconnecting = migrate(sim, tmp_path, settings)
        assert disconnecting.returncode != 0
        assert "is DISCONNECTING: KMS has a disconnect pending on the cluster. Wait until it is DISCONNECTED" in \
            disconnecting.stdout, disconnecting.stdout[-3000:]
        # The plan still shows what would change once the store is settled.
        assert "source kms-pending-primary (%s, us-east-1): hsm1.medium -> hsm2m.medium, 2 HSM(s), about 60 minutes" % (
            cluster_id) in disconnecting.stdout
        assert (cluster(sim, cluster_id)["State"], cluster(sim, cluster_id)["HsmType"]) == ("ACTIVE", "hsm1.medium")
    finally:
        sim.admin_ok("DELETE", "/_sim/kms")

    wait_store(kms, store_id, "DISCONNECTED", timeout=90)
    settled = migrate(sim, tmp_path, settings, check=True)
    assert settled.returncode == 0, settled.stdout[-3000:]
    assert "pending on the cluster" not in settled.stdout and "problem(s)" not in settled.stdout


def test_rollback_inside_the_window_and_refused_after_it(sim, ca, tmp_path):
    cluster_id, _clone_id, settings = dr_set(sim, ca, tmp_path, "rolling-back")
    sim.transitions(cluster_modify=0.2)

    migrated = hsm_type(sim, tmp_path, cluster_id, "hsm2m.medium")
    assert migrated["changed"] is True and migrated["cluster"]["state"] == "ACTIVE"
    deadline = migrated["hsm_type_change"]["rollback_expiration"]
    assert deadline == migrated["cluster"]["hsm_type_rollback_expiration"] and deadline.endswith("Z")

    # Check mode previews the rollback exactly and calls nothing that changes.
    mark = sim.last_request_seq()
    preview = hsm_type(sim, tmp_path, cluster_id, "hsm1.medium", check=True)
    assert preview["changed"] is True
    change = preview["hsm_type_change"]
    assert (change["from_type"], change["to_type"], change["rollback"], change["state"], change["hsms_total"]) == (
        "hsm2m.medium", "hsm1.medium", True, "ROLLBACK_IN_PROGRESS", 2)
    assert preview["cluster"]["hsm_type"] == "hsm1.medium"
    assert sim.requests(since=mark, mutating="true") == []
    assert (cluster(sim, cluster_id)["State"], cluster(sim, cluster_id)["HsmType"]) == ("ACTIVE", "hsm2m.medium")
    # migrate.yml's rollback preflight, in check mode, plans the same change inside the window.
    plan = migrate(sim, tmp_path, settings, mode="rollback", check=True)
    assert plan.returncode == 0, plan.stdout[-3000:]
    assert "source rolling-back-primary (%s, us-east-1): hsm2m.medium -> hsm1.medium, 2 HSM(s)" % cluster_id in plan.stdout

    mark = sim.last_request_seq()
    rolled_back = hsm_type(sim, tmp_path, cluster_id, "hsm1.medium")
    assert rolled_back["changed"] is True
    assert {k: rolled_back["hsm_type_change"][k] for k in ("from_type", "to_type", "rollback", "hsms_total")} == {
        k: change[k] for k in ("from_type", "to_type", "rollback", "hsms_total")}
    assert [r["operation"] for r in sim.requests(since=mark, mutating="true")] == ["ModifyCluster"]
    found = cluster(sim, cluster_id)
    assert (found["State"], found["HsmType"]) == ("ACTIVE", "hsm1.medium")
    assert {h["HsmType"] for h in found["Hsms"]} == {"hsm1.medium"}
    assert hsm_type(sim, tmp_path, cluster_id, "hsm1.medium")["changed"] is False

    # Migrated again, then the 24 hours pass: the rollback is refused with the deadline, in check mode too.
    hsm_type(sim, tmp_path, cluster_id, "hsm2m.medium")
    sim.admin_ok("POST", "/_sim/clusters/{0}/time-passes".format(cluster_id), {"seconds": DAY + 60})
    closed_at = cluster(sim, cluster_id)["HsmTypeRollbackExpiration"].strftime("%Y-%m-%dT%H:%M:%S")
    mark = sim.last_request_seq()
    for check in (True, False):
        refused = hsm_type(sim, tmp_path, cluster_id, "hsm1.medium", check=check)
        assert refused["failed"] is True and refused["changed"] is False
        assert ("cannot be rolled back to hsm1.medium: its rollback window closed at " + closed_at) in refused["msg"]
    refused_run = migrate(sim, tmp_path, settings, mode="rollback")
    assert refused_run.returncode != 0
    assert ("source rolling-back-primary (%s, us-east-1) cannot be rolled back: its rollback window closed at %s"
            % (cluster_id, closed_at)) in refused_run.stdout, refused_run.stdout[-3000:]
    assert "nothing was changed" in refused_run.stdout and recap_changed(refused_run) == "0"
    assert sim.requests(since=mark, mutating="true") == []
    assert (cluster(sim, cluster_id)["State"], cluster(sim, cluster_id)["HsmType"]) == ("ACTIVE", "hsm2m.medium")


def test_a_change_killed_half_way_reruns_to_the_end_without_a_second_modify_cluster(sim, ca, tmp_path):
    """The playbook dies while the cluster is MODIFY_IN_PROGRESS (one HSM of two done); the rerun sees the change
    under way, calls no second ModifyCluster, and returns when the cluster is ACTIVE on the new type."""
    cluster_id, _clone_id, _settings = dr_set(sim, ca, tmp_path, "killed")
    sim.transitions(cluster_modify=20)  # the rerun starts well before the second HSM is done
    playbook = tmp_path / "hsm_type.yml"
    playbook.write_text(HSM_TYPE_PLAYBOOK)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    env.pop("PYTHONPATH", None)
    mark = sim.last_request_seq()
    first = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
         str(playbook), "-e", "cloudhsm_dr_endpoint_url=" + sim.endpoint, "-e", "cluster_id=" + cluster_id,
         "-e", "hsm_type=hsm2m.medium"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        wait_for(lambda: sorted(h["HsmType"] for h in cluster(sim, cluster_id)["Hsms"])
                 == ["hsm1.medium", "hsm2m.medium"], timeout=30)
    finally:
        os.killpg(first.pid, 9)
        first.wait(timeout=10)
    assert cluster(sim, cluster_id)["State"] == "MODIFY_IN_PROGRESS"

    rerun = hsm_type(sim, tmp_path, cluster_id, "hsm2m.medium")
    assert rerun["changed"] is False and rerun["cluster"]["state"] == "ACTIVE"
    assert rerun["hsm_type_change"]["hsms_done"] == 2
    assert [r["operation"] for r in sim.requests(since=mark, mutating="true")] == ["ModifyCluster"]
    assert {h["HsmType"] for h in cluster(sim, cluster_id)["Hsms"]} == {"hsm2m.medium"}
