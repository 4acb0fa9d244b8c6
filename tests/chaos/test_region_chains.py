"""A DR region whose chain fails while the other region's chain goes on (make chaos).

clone_cluster.yml runs each DR region's chain (copy the backup, create the clone, create its HSMs) on a host of its
own with the free strategy, so a failure in one region stops that region only. The run then stops before anything
uses the DR set, naming the region; a rerun continues from what exists.
"""

import time

import pytest

from chaos_helpers import ChaosRun, converged

SETTINGS = {
    "cloudhsm_dr_source": {"name": "chain-primary", "region": "us-east-1", "availability_zones": ["us-east-1a"],
                           "subnet_ids": "{{ dr_subnet_ids['us-east-1'] | default([]) }}"},
    "cloudhsm_dr_clones": [
        {"name": "chain-dr-%s" % region, "region": region, "availability_zones": [region + "a"],
         "subnet_ids": "{{ dr_subnet_ids['%s'] | default([]) }}" % region}
        for region in ("us-west-2", "eu-west-1")
    ],
}
FIRST_CHAIN_TASK = "Copy the source's newest backup to the DR regions that have no clone yet"


@pytest.fixture
def two_region_run(tmp_path):
    """A simulator, the network of a source and two DR regions (one HSM each), the client package and secrets."""
    run = ChaosRun(str(tmp_path / "run"))
    try:
        yield run.setup(settings=SETTINGS)
    finally:
        run.stop_simulator()


def run_failing_one_clone_hsm(run):
    """clone_cluster.yml with the first HSM created after the chains start failing (the source has its only HSM by
    then, so it is one clone's). Returns (return code, log text)."""
    proc, log, log_path = run.start_playbook("clone_cluster.yml", log_name="clone_cluster-one-chain-fails")
    armed = False
    with log:
        for line in proc.stdout:
            log.write(line)
            if not armed and line.startswith("TASK [") and FIRST_CHAIN_TASK in line:
                run.set_faults(hsm_create_failures=1)
                armed = True
    returncode = proc.wait()
    with open(log_path) as handle:
        return returncode, handle.read()


def delete_degraded_hsms(run, clones):
    """Delete the DEGRADED HSMs of these clones, as the error message says, and wait until they are gone."""
    deleted = []
    for clone in clones:
        cluster = live_clone(run, clone)
        client = run.client("cloudhsmv2", clone["region"])
        for hsm in (cluster or {}).get("Hsms", []):
            if hsm["State"] == "DEGRADED":
                client.delete_hsm(ClusterId=cluster["ClusterId"], HsmId=hsm["HsmId"])
                deleted.append(hsm["HsmId"])
        deadline = time.monotonic() + 60
        while deleted and time.monotonic() < deadline and any(
                h["HsmId"] in deleted for h in live_clone(run, clone).get("Hsms", [])):
            time.sleep(0.2)
    return deleted


def live_clone(run, clone):
    client = run.client("cloudhsmv2", clone["region"])
    found = [c for c in client.describe_clusters()["Clusters"]
             if c["State"] not in ("DELETED", "DELETE_IN_PROGRESS")
             and {"Key": "Name", "Value": clone["name"]} in c.get("TagList", [])]
    return found[0] if found else None


@pytest.mark.chaos_full
def test_one_regions_chain_fails_the_other_region_finishes_and_a_rerun_converges(two_region_run, results):
    run = two_region_run
    started = time.monotonic()
    returncode, text = run_failing_one_clone_hsm(run)
    run.clear_faults()
    clones = run.dr_settings()["cloudhsm_dr_clones"]
    named = [c for c in clones if "The chain of DR region(s) %s " % c["region"] in text]
    others = [c for c in clones if c not in named]
    finished = [live_clone(run, c) for c in others]
    finished_ok = all(c is not None and c["State"] == "ACTIVE" and [h["State"] for h in c.get("Hsms", [])] == ["ACTIVE"]
                      for c in finished)
    # Nothing after the chains ran: the clients were not configured and no user reached a clone.
    reconciled = "TASK [Reconcile the DR set]" in text
    # The failed HSM stays DEGRADED (AWS does not replace it by itself); the error says to delete it and rerun.
    degraded = delete_degraded_hsms(run, named)

    mark = run.last_seq()
    rerun, output = run.try_playbook("clone_cluster.yml", "clone_cluster-after-chain-failure")
    problems = converged(run) if rerun.ok else ["the rerun failed"]
    created = [r["operation"] for r in run.requests(since=mark, mutating="true") if r["status"] < 400]
    mark = run.last_seq()
    again, unused_output = run.try_playbook("clone_cluster.yml", "clone_cluster-again")
    accepted = [r["operation"] for r in run.requests(since=mark, mutating="true") if r["status"] < 400]
    results.add("one DR region's clone HSM fails to create (two DR regions), clone_cluster rerun",
                "hsm_create_failures=1 once the chains started",
                "the run fails naming that region only, the other region's clone is finished, nothing after the chains "
                "runs; after the DEGRADED HSM is deleted as the message says, a rerun converges without a second copy or clone; a third run changes nothing",
                "exit %d, named %s, other finished: %s, reconciled: %s, DEGRADED HSM deleted: %s; rerun ok=%s, %s, calls %s; third run changed=%d, "
                "mutating calls %s" % (returncode, [c["region"] for c in named], finished_ok, reconciled, degraded, rerun.ok,
                                       "converged" if not problems else "problems: %s" % problems, created,
                                       again.changed, accepted or "none"),
                time.monotonic() - started)
    assert returncode != 0
    assert len(named) == 1, text[-3000:]
    assert finished_ok, finished
    assert not reconciled
    assert len(degraded) == 1, degraded
    assert rerun.ok, output[-3000:]
    assert problems == []
    # The failed region gets its HSM again; neither region gets a second copy or a second clone.
    assert "CopyBackupToRegion" not in created and "CreateCluster" not in created, created
    assert again.changed == 0 and accepted == []
