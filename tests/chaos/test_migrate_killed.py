"""playbooks/migrate.yml killed at each step of an SDK 3 / hsm1.medium DR set's move to SDK 5 / hsm2m.medium.

Each interruption point gets a DR set of its own (the demo's, built with SDK 3: a source of two HSMs and a clone of
one), a simulated week without SDK 3 clients, then migrate.yml killed there (SIGKILL to its process tree) and run
again. The rerun must end with every cluster hsm2m.medium, the client on SDK 5, every HSM holding exactly the users
and keys it held before, and one ModifyCluster per cluster over both runs; a third run changes nothing.
"""

import collections
import re
import subprocess
import time

import pytest

from chaos_helpers import ChaosRun

# The simulator's HSM-type change per HSM: quick where the kill lands before or after it, long enough where it lands
# during one that the rerun reaches that cluster while its change still runs (it must wait, not call again).
FAST_SECONDS_PER_HSM = 1.0
SLOW_SECONDS_PER_HSM = 40.0
CHANGE_TASK = "Change the HSM type of the cluster to hsm2m.medium"
WAIT_TASK = "Wait for each HSM, about 30 minutes each, of"
# (id, task the kill lands at, which of its runs, the cluster whose change runs at the kill (role) or None)
MIGRATE_BOUNDARIES = [
    # The SDK 3 client is removed already (the packages conflict), SDK 5 not installed yet.
    ("client-install", "Install the package file (Debian family)", 1, None),
    # SDK 5 installed, the multi-cluster configuration not written, no cluster read or changed.
    ("client-moved", "Write the DR set as the SDK 5 multi-cluster configuration", 1, None),
    ("clone-modify", CHANGE_TASK, 1, None),
    ("clone-migrating", WAIT_TASK, 1, "clone"),
    ("source-modify", CHANGE_TASK, 2, None),
    ("source-migrating", WAIT_TASK, 2, "source"),
]


def holdings(run):
    """{cluster id: {HSM IP: (users, keys)}} read from every HSM of every cluster of the DR set."""
    found = {}
    for cluster in run.clusters():
        found[cluster["cluster_id"]] = {}
        for ip in cluster["hsm_ips"]:
            users = run.hsm_call("list_users", hsm=ip)["users"]
            admin_role = next(u["role"] for u in users if u["name"] == "admin")
            session = run.login(ip, "admin", run.passwords["admin"], role=admin_role)
            try:
                keys = run.hsm_call("list_keys", hsm=ip, session=session)["keys"]
            finally:
                run.hsm_call("logout", hsm=ip, session=session)
            found[cluster["cluster_id"]][ip] = (
                sorted((u["name"], u["role"]) for u in users),
                sorted((k["label"], k["key_type"], k["size"], k["kcv"], k["owner_name"], k["class"],
                        tuple(sorted(k["shared_names"]))) for k in keys))
    return found


def client_packages():
    """{package: dpkg status} of the two client packages on this machine."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", "cloudhsm-cli",
                          "cloudhsm-client"], capture_output=True, text=True, check=False).stdout
    return dict(line.split()[:2] for line in out.splitlines() if len(line.split()) >= 2)


def describe(run, role):
    cluster = run.cluster(role)
    return run.client("cloudhsmv2", cluster["region"]).describe_clusters(
        Filters={"clusterIds": [cluster["cluster_id"]]})["Clusters"][0]


@pytest.fixture
def sdk3_dr_set(tmp_path):
    """The demo's DR set built with Client SDK 3 (hsm1.medium), ready to migrate: a week without SDK 3 clients has
    passed. Yields (run, vars file of migrate.yml)."""
    run = ChaosRun(str(tmp_path / "run"), sdk="3")
    try:
        run.setup()
        run.run_playbook("clone_cluster.yml", progress=False)
        migrate_vars = run.prepare_migration(seconds_per_hsm=FAST_SECONDS_PER_HSM)
        run.let_a_week_pass()
        yield run, migrate_vars
    finally:
        run.stop_simulator()


@pytest.mark.chaos_full
@pytest.mark.parametrize("point,task,occurrence,migrating", MIGRATE_BOUNDARIES,
                         ids=[b[0] for b in MIGRATE_BOUNDARIES])
def test_migrate_killed_at_a_step_converges(point, task, occurrence, migrating, sdk3_dr_set, results):
    run, migrate_vars = sdk3_dr_set
    before = holdings(run)
    assert {describe(run, role)["HsmType"] for role in ("source", "clone")} == {"hsm1.medium"}
    assert client_packages().get("cloudhsm-client") == "ii"
    started = time.monotonic()
    mark = run.last_seq()
    when = None
    if migrating:
        run.sim("POST", "/_sim/transitions", {"cluster_modify": SLOW_SECONDS_PER_HSM})

        def when():
            return describe(run, migrating)["State"] == "MODIFY_IN_PROGRESS"
    killed = run.kill_at_task("migrate.yml", task, "migrate-killed", when=when, occurrence=occurrence,
                              extra_files=[migrate_vars])
    at_kill = {role: "%s %s" % (c["State"], c["HsmType"]) for role, c in
               ((role, describe(run, role)) for role in ("clone", "source"))}
    # Later changes are quick again; the one under way keeps the duration it started with.
    run.sim("POST", "/_sim/transitions", {"cluster_modify": FAST_SECONDS_PER_HSM})
    resumed, output = run.try_playbook("migrate.yml", "migrate-resumed", extra_files=[migrate_vars])
    modify_calls = collections.Counter(
        r["region"] for r in run.requests(since=mark, mutating="true")
        if r["operation"] == "ModifyCluster" and r["status"] < 400)
    types = {role: "%s %s" % (c["State"], c["HsmType"]) for role, c in
             ((role, describe(run, role)) for role in ("clone", "source"))}
    packages = client_packages()
    after = holdings(run)
    # The rerun found the change under way (its plan says so) and polled that cluster until the change ended,
    # instead of calling ModifyCluster again.
    under_way = waited = False
    if migrating:
        name = re.escape(run.cluster(migrating)["name"])
        under_way = bool(re.search(r"%s \([^)]*\): the change to hsm2m.medium is under way \(MODIFY_IN_PROGRESS"
                                   % name, output))
        waited = bool(re.search(r"^FAILED - RETRYING: \[[^]]*\]: %s %s " % (re.escape(WAIT_TASK), name), output,
                                re.M))
    mark_again = run.last_seq()
    again, again_output = (run.try_playbook("migrate.yml", "migrate-again", extra_files=[migrate_vars])
                           if resumed.ok else (resumed, ""))
    accepted = [r["operation"] for r in run.requests(since=mark_again, mutating="true") if r["status"] < 400]
    results.add("migrate killed before '%s' (%s run of the task)" % (task, "first" if occurrence == 1 else "second"),
                "SIGKILL to the playbook's process tree; at the kill clone %s, source %s" % (
                    at_kill["clone"], at_kill["source"]),
                "rerun converges: every cluster hsm2m.medium, client on SDK 5, users and keys as before on every "
                "HSM, one ModifyCluster per cluster; a third run changes nothing",
                "killed=%s, rerun ok=%s%s, clusters %s, client %s, users and keys as before: %s, ModifyCluster "
                "accepted per region %s; third run changed=%d, mutating calls %s" % (
                    killed, resumed.ok,
                    " (found the %s's change under way%s)" % (migrating, ", waited for it" if waited else "")
                    if under_way else "",
                    "/".join(sorted(set(types.values()))), "SDK 5" if packages.get("cloudhsm-cli") == "ii"
                    and packages.get("cloudhsm-client") != "ii" else packages, after == before, dict(modify_calls),
                    again.changed, accepted or "none"),
                time.monotonic() - started)
    assert killed, "migrate.yml ended before it reached '%s'" % task
    if migrating:
        assert at_kill[migrating] == "MODIFY_IN_PROGRESS hsm2m.medium", at_kill
        assert under_way and waited, output[-3000:]
    assert resumed.ok, output[-3000:]
    assert set(types.values()) == {"ACTIVE hsm2m.medium"}, types
    assert packages.get("cloudhsm-cli") == "ii" and packages.get("cloudhsm-client") != "ii", packages
    assert after == before
    assert sorted(modify_calls.items()) == [(r, 1) for r in sorted({c["region"] for c in run.clusters()})], modify_calls
    assert again.ok, again_output[-3000:]
    assert again.changed == 0 and accepted == [], again_output[-3000:]
