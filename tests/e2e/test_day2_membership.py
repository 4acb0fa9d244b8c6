"""Day 2 of a DR set, through the shipped playbooks against the simulator (SDK 5, one DR set for the module).

In order: a preflight that reports every settings problem before any AWS change; a cluster that only shares the
clone's name is refused by clone_cluster and teardown (zero accepted mutating calls, the cluster described the same
before and after); the DR set built under another name; two live clusters of one name refused by every playbook; a
clone proven by lineage alone once its ownership tag is gone; teardown previewed in check mode, then run: only
proven members deleted, the client configuration clean, the backups as chosen (keep-last); copy_backups pruning the
copies of the deleted source by its pinned id. copy_backups and teardown run without the secrets file, as their
headers print them. The SDK 3 half of the client clean-up (SyncClusters.cfg) is shown on a file written by the
cloudhsm_sync_config role rather than by a second, SDK 3 DR set.

Runs from the collection's build-tree copy, as root (the simulated client installs into /opt/cloudhsm).
"""

import copy
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import demo  # noqa: E402

CLONE_REGION = "us-west-2"
OWNERSHIP_TAG = "hsmops.cloudhsm:dr-source"
CLI_CFG = "/opt/cloudhsm/etc/cloudhsm-cli.cfg"


class Day2Run(demo.DemoRun):
    """A DemoRun whose settings can be replaced, that keeps failed runs, and reads the simulator's request log."""

    # As their headers print them: no secrets file (they read no password).
    WITHOUT_SECRETS = ("teardown.yml", "copy_backups.yml")

    def playbook_command(self, path, check=False, extra_files=()):
        command = super().playbook_command(path, check, extra_files)
        if os.path.basename(path) in self.WITHOUT_SECRETS:
            index = command.index("@" + self.secrets_file)
            del command[index - 1:index + 1]
        return command

    def use_settings(self, settings, name):
        path = os.path.join(self.run_dir, "dr-%s.yml" % name)
        with open(path, "w") as handle:
            yaml.safe_dump(settings, handle)
        self.settings = path

    def run_failing(self, playbook, log_name, check=False, extra_files=()):
        """Run a playbook that must fail; returns its log."""
        with pytest.raises(demo.DemoError):
            self.run_playbook(playbook, log_name=log_name, check=check, progress=False, extra_files=extra_files)
        with open(os.path.join(self.run_dir, log_name + ".log")) as handle:
            return handle.read()

    def extra(self, name, values):
        path = os.path.join(self.run_dir, "extra-%s.yml" % name)
        with open(path, "w") as handle:
            yaml.safe_dump(values, handle)
        return path

    def sim(self, path):
        with urllib.request.urlopen(self.env["CLOUDHSM_SIM_ENDPOINT"].rstrip("/") + path, timeout=30) as response:
            return json.loads(response.read())

    def mark(self):
        return max((entry["seq"] for entry in self.sim("/_sim/requests")["requests"]), default=0)

    def accepted_mutations(self, since):
        """Mutating AWS calls the simulator accepted since the mark (a refused call changed nothing)."""
        return [(entry["service"], entry["operation"]) for entry in
                self.sim("/_sim/requests?mutating=true&since=%d" % since)["requests"] if entry["status"] < 400]

    def subnets(self, region):
        with open(self.network_file) as handle:
            return yaml.safe_load(handle)["dr_subnet_ids"][region]


@pytest.fixture(scope="module")
def day2(tmp_path_factory):
    run = Day2Run("5", str(tmp_path_factory.mktemp("day2") / "run"), out=sys.stderr)
    run.prepare_run_dir()
    run.reset_client()
    run.start_simulator()
    run.build_package()
    run.write_secrets()
    run.run_playbook("prepare_network.yml", progress=False)
    run.base_settings = run.dr_settings()
    run.state = {}
    yield run
    run.stop_simulator()


def settings_with(run, **changes):
    settings = copy.deepcopy(run.base_settings)
    for key, value in changes.items():
        settings[key] = value
    return settings


def clone_named(run, name, **extra):
    clone = dict(copy.deepcopy(run.base_settings["cloudhsm_dr_clones"][0]), name=name)
    clone.update(extra)
    return [clone]


def wait_for(fetch, done, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def describe_cluster(run, region, cluster_id):
    cluster = run.aws("cloudhsmv2", region).describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]
    cluster.pop("Certificates", None)
    return cluster


def test_preflight_reports_every_problem_before_any_change(day2):
    source = dict(day2.base_settings["cloudhsm_dr_source"], availability_zones=["us-east-1a", "eu-west-1b"])
    clones = clone_named(day2, "demo-primary", region="us-west2", availability_zones=["us-west2a"])
    clones.append(dict(clones[0], region="eu-west-1", name="demo-dr-eu", subnet_ids=[]))
    day2.use_settings(settings_with(day2, cloudhsm_dr_source=source, cloudhsm_dr_clones=clones), "typos")
    mark = day2.mark()
    log = day2.run_failing("clone_cluster.yml", "preflight")
    for expected in ("'us-west2' is not a region where AWS CloudHSM is offered", "did you mean 'us-west-2'?)",
                     "'eu-west-1b' is not an availability zone of us-east-1",
                     "The name 'demo-primary' is given to cloudhsm_dr_source and cloudhsm_dr_clones[0]",
                     "The DR settings have 6 problems; nothing was changed"):
        assert expected in log, expected
    assert day2.accepted_mutations(mark) == []
    for region in ("us-east-1", CLONE_REGION, "eu-west-1"):
        assert day2.aws("cloudhsmv2", region).describe_clusters()["Clusters"] == []


def test_a_cluster_that_only_shares_the_clone_name_is_never_touched(day2):
    clone = day2.base_settings["cloudhsm_dr_clones"][0]
    client = day2.aws("cloudhsmv2", CLONE_REGION)
    unrelated = client.create_cluster(
        HsmType="hsm2m.medium", Mode="FIPS", SubnetIds=day2.subnets(CLONE_REGION),
        BackupRetentionPolicy={"Type": "DAYS", "Value": "90"},
        TagList=[{"Key": "Name", "Value": clone["name"]}, {"Key": "owner", "Value": "other-team"}])["Cluster"]
    day2.state["unrelated"] = unrelated_id = unrelated["ClusterId"]
    before = wait_for(lambda: describe_cluster(day2, CLONE_REGION, unrelated_id),
                      lambda cluster: cluster["State"] == "UNINITIALIZED")
    day2.use_settings(day2.base_settings, "as-example")

    mark = day2.mark()
    log = day2.run_failing("clone_cluster.yml", "clone-unrelated")
    assert "cluster %s in %s is named %r like a clone of the DR set but is not proven" % (
        unrelated_id, CLONE_REGION, clone["name"]) in log
    assert "'cluster_id: %s'" % unrelated_id in log and "another name" in log
    assert day2.accepted_mutations(mark) == [], "clone_cluster changed something"
    assert [c["cluster_id"] for c in day2.clusters()] == [unrelated_id]  # no source was created either

    mark = day2.mark()
    log = day2.run_failing("teardown.yml", "teardown-unrelated",
                           extra_files=[day2.extra("teardown-all", {"cloudhsm_dr_teardown_source": True})])
    assert "not proven to belong" in log
    assert day2.accepted_mutations(mark) == [], "teardown changed something"
    assert describe_cluster(day2, CLONE_REGION, unrelated_id) == before


def test_the_dr_set_is_built_under_another_name(day2):
    settings = settings_with(day2, cloudhsm_dr_clones=clone_named(day2, "demo-dr-b"))
    day2.use_settings(settings, "renamed")
    day2.base_settings = settings
    day2.run_playbook("clone_cluster.yml", log_name="clone-renamed", progress=False)
    clusters = {c["role"]: c for c in day2.clusters()}
    assert set(clusters) == {"source", "clone"}
    clone = describe_cluster(day2, CLONE_REGION, clusters["clone"]["cluster_id"])
    tags = {t["Key"]: t["Value"] for t in clone["TagList"]}
    assert tags[OWNERSHIP_TAG] == clusters["source"]["cluster_id"]
    day2.state.update(source=clusters["source"]["cluster_id"], clone=clusters["clone"]["cluster_id"])
    unrelated = describe_cluster(day2, CLONE_REGION, day2.state["unrelated"])
    assert {t["Key"]: t["Value"] for t in unrelated["TagList"]}.get("owner") == "other-team"
    assert not unrelated.get("Hsms")


def test_two_live_clusters_of_one_name_are_refused_by_every_playbook(day2):
    client = day2.aws("cloudhsmv2", CLONE_REGION)
    unrelated_id = day2.state["unrelated"]
    client.tag_resource(ResourceId=unrelated_id, TagList=[{"Key": "Name", "Value": "demo-dr-b"}])
    try:
        mark = day2.mark()
        for playbook in ("sync.yml", "copy_backups.yml", "clone_cluster.yml", "teardown.yml"):
            log = day2.run_failing(playbook, "duplicate-" + playbook[:-4])
            assert "2 live clusters are named 'demo-dr-b' in %s" % CLONE_REGION in log, playbook
            assert unrelated_id in log and day2.state["clone"] in log
        assert day2.accepted_mutations(mark) == []
    finally:
        client.tag_resource(ResourceId=unrelated_id, TagList=[{"Key": "Name", "Value": "other-team-cluster"}])


def test_a_clone_without_its_tag_is_still_proven_by_lineage(day2):
    client = day2.aws("cloudhsmv2", CLONE_REGION)
    client.untag_resource(ResourceId=day2.state["clone"], TagKeyList=[OWNERSHIP_TAG])
    # Without its tag the clone is proven by its source backup, a copy whose SourceCluster is the source.
    assert day2.run_playbook("sync.yml", log_name="sync-lineage", progress=False).ok
    # copy_backups runs on the proven set and tags its copies with the ownership tag.
    day2.run_playbook("copy_backups.yml", log_name="copy-backups", progress=False)
    copies = [b for b in client.describe_backups()["Backups"] if b.get("SourceCluster") == day2.state["source"]]
    assert copies


def test_teardown_check_mode_lists_the_plan_and_changes_nothing(day2):
    teardown_all = day2.extra("teardown-all", {"cloudhsm_dr_teardown_source": True})
    mark = day2.mark()
    run = day2.run_playbook("teardown.yml", log_name="teardown-check", check=True, progress=False,
                            extra_files=[teardown_all])
    with open(run.log_path) as handle:
        log = handle.read()
    assert "%s %s demo-dr-b" % (CLONE_REGION, day2.state["clone"]) in log
    assert "us-east-1 %s demo-primary" % day2.state["source"] in log
    assert "keep_with_never_expires" in log
    assert day2.accepted_mutations(mark) == []
    assert len(day2.clusters()) == 2


def test_teardown_deletes_only_members_cleans_the_client_and_keeps_the_last_backup(day2):
    source_id, clone_id, unrelated_id = day2.state["source"], day2.state["clone"], day2.state["unrelated"]
    unrelated_before = describe_cluster(day2, CLONE_REGION, unrelated_id)
    with open(CLI_CFG) as handle:
        assert clone_id in handle.read()
    day2.run_playbook("teardown.yml", log_name="teardown", progress=False,
                      extra_files=[day2.extra("teardown-all", {"cloudhsm_dr_teardown_source": True})])
    assert day2.clusters() == []
    assert describe_cluster(day2, CLONE_REGION, unrelated_id) == unrelated_before
    with open(CLI_CFG) as handle:
        config = handle.read()
    assert clone_id not in config and source_id not in config

    source_backups = day2.aws("cloudhsmv2", "us-east-1").describe_backups(
        Filters={"clusterIds": [source_id]})["Backups"]
    ready = [b for b in source_backups if b["BackupState"] == "READY"]
    assert len(ready) == 1 and ready[0]["NeverExpires"], source_backups
    day2.state["kept_backup"] = ready[0]["BackupId"]
    dr_backups = day2.aws("cloudhsmv2", CLONE_REGION).describe_backups()["Backups"]
    left = [b["BackupId"] for b in dr_backups if b["BackupState"] == "READY"
            and (b.get("SourceCluster") == source_id or b.get("ClusterId") == clone_id)]
    assert left == [], dr_backups

    # A rerun finds nothing to do.
    rerun = day2.run_playbook("teardown.yml", log_name="teardown-rerun", progress=False,
                              extra_files=[day2.extra("teardown-all", {"cloudhsm_dr_teardown_source": True})])
    assert rerun.changed == 0


def test_copy_backups_prunes_the_copies_of_a_deleted_source_by_its_pinned_id(day2):
    source_id = day2.state["source"]
    primary = day2.aws("cloudhsmv2", "us-east-1")
    copies = [primary.copy_backup_to_region(DestinationRegion=CLONE_REGION, BackupId=day2.state["kept_backup"])
              for unused in range(2)]
    assert len(copies) == 2
    dr = day2.aws("cloudhsmv2", CLONE_REGION)
    copies_of_source = wait_for(
        lambda: [b for b in dr.describe_backups()["Backups"] if b.get("SourceCluster") == source_id
                 and b["BackupState"] in ("CREATE_IN_PROGRESS", "READY")],
        lambda backups: all(b["BackupState"] == "READY" for b in backups))
    assert len(copies_of_source) == 2, copies_of_source
    log = day2.run_failing("copy_backups.yml", "copy-backups-gone")
    assert "set cloudhsm_dr_source.cluster_id to its id" in log

    pinned = dict(day2.base_settings["cloudhsm_dr_source"], cluster_id=source_id)
    day2.use_settings(settings_with(day2, cloudhsm_dr_source=pinned, cloudhsm_dr_copy_retention_days=0), "pinned")
    day2.run_playbook("copy_backups.yml", log_name="copy-backups-pinned", progress=False)
    ready = [b for b in dr.describe_backups()["Backups"]
             if b.get("SourceCluster") == source_id and b["BackupState"] == "READY"]
    assert len(ready) == 1, ready  # the newest copy stays


FORGET_PLAYBOOK = """
- name: Write a SyncClusters.cfg for three clusters, then forget some of them
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    cloudhsm_dr_sdk: 3
    dr_sync_clusters_config: "{{ cfg }}"
    dr_clusters:
      - {cluster_id: cluster-sourceaaaaaa, cluster: {hsms: [{eni_ip: 10.0.0.11}, {eni_ip: 10.0.0.12}]}}
      - {cluster_id: cluster-cloneaaaaaaa, cluster: {hsms: [{eni_ip: 10.1.0.11}]}}
      - {cluster_id: cluster-clonebbbbbbb, cluster: {hsms: [{eni_ip: 10.2.0.11}]}}
  tasks:
    - name: The configuration the DR playbooks write
      ansible.builtin.include_role:
        name: hsmops.cloudhsm.cloudhsm_sync_config
      vars:
        cloudhsm_sync_config_sdk: 3
        cloudhsm_sync_config_path: "{{ cfg }}"
        cloudhsm_sync_config_clusters:
          - {cluster_id: cluster-sourceaaaaaa, hsm_ip: 10.0.0.11}
          - {cluster_id: cluster-cloneaaaaaaa, hsm_ip: 10.1.0.11}
          - {cluster_id: cluster-clonebbbbbbb, hsm_ip: 10.2.0.11}
      when: write | bool

    - name: Forget the removed clusters as teardown does
      ansible.builtin.include_tasks: "{{ tasks_file }}"
      vars:
        dr_removed: "{{ dr_clusters | selectattr('cluster_id', 'in', removed) | list }}"
"""


def forget(tmp_path, cfg, removed, write):
    playbook = tmp_path / "forget.yml"
    playbook.write_text(FORGET_PLAYBOOK)
    extra = {"cfg": str(cfg), "removed": removed, "write": write,
             "tasks_file": os.path.join(ROOT, "playbooks", "tasks", "forget_clusters.yml"),
             "ansible_python_interpreter": sys.executable}
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(playbook),
                             "-i", "localhost,", "-e", json.dumps(extra)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_sdk3_teardown_drops_the_deleted_clusters_from_sync_clusters_cfg(tmp_path):
    """The SDK 3 half of teardown's client clean-up, on a SyncClusters.cfg written by cloudhsm_sync_config (the
    SDK 3 flow itself is costly to run twice; the SDK 5 half is run end to end above)."""
    cfg = tmp_path / "SyncClusters.cfg"
    forget(tmp_path, cfg, ["cluster-cloneaaaaaaa"], True)
    servers = json.loads(cfg.read_text())["servers"]
    assert [server["hostname"] for server in servers] == ["10.0.0.11", "10.2.0.11"]  # the source stays server 0
    assert oct(os.stat(cfg).st_mode & 0o777) == "0o600"
    cluster_map = tmp_path / "SyncClusters.clusters.json"  # the SDK 3 driver's cluster ids follow the servers
    assert json.loads(cluster_map.read_text()) == {"clusters": [
        {"cluster_id": "cluster-sourceaaaaaa", "hostname": "10.0.0.11"},
        {"cluster_id": "cluster-clonebbbbbbb", "hostname": "10.2.0.11"}]}
    forget(tmp_path, cfg, ["cluster-cloneaaaaaaa"], False)  # a rerun changes nothing
    assert [server["hostname"] for server in json.loads(cfg.read_text())["servers"]] == ["10.0.0.11", "10.2.0.11"]
    forget(tmp_path, cfg, ["cluster-sourceaaaaaa", "cluster-clonebbbbbbb"], False)
    assert not cfg.exists() and not cluster_map.exists()
