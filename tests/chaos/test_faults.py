"""clone_cluster and sync under API faults, interruptions, HSMs that stop answering or fail, and a wrong clone.

The DR set of the session is built by clone_cluster under 30% throttling and 5% HTTP 500s on the CloudHSM API,
killed once at a task boundary and run again, still under the faults. The other tests use that DR set; the full
interruption matrix (--chaos-full) builds a DR set of its own per interruption point.
"""

import collections
import copy
import datetime
import json
import os
import re
import subprocess
import time

import pytest
import yaml

from chaos_helpers import PLAYBOOKS, ROOT, ChaosRun, converged

API_FAULTS = {"throttle_rate": 0.3, "error_rate": 0.05, "seed": 9}
# Killed here while the session's DR set is built (the fast subset's interruption point): a DR region's copy has
# just ended (its banner comes with its first result), the source's growth and the clone chains are under way.
FAST_BOUNDARY = "Copy the source's newest backup to the DR regions that have no clone yet"
# Every task of clone_cluster that changes something, in run order (the full matrix kills before each in turn).
FULL_BOUNDARIES = [
    "Create or adopt the source cluster",
    "Create the source's first HSM",
    "Install the package file (Debian family)",
    "Configure the CloudHSM CLI with the cluster id",
    # The first HSM is created without waiting; the client is installed meanwhile.
    "Wait for the source's first HSM",
    "Create the CA private key (owner only)",
    "Self-sign the CA certificate",
    "Initialize the cluster with the signed certificate and the CA as trust anchor",
    "Put the CA certificate where the client reads it",
    "Activate the cluster by setting the first admin's password",
    "Create the first users",
    "Create the keys the source must hold before it is cloned",
    # The source grows in a background job while each DR region runs its chain as a host of its own (free
    # strategy: a chain task's banner comes with its first result, so the kill lands while other regions still run).
    "Add the rest of the source's HSMs",
    "Name a host for each DR region's chain",
    "Copy the source's newest backup to the DR regions that have no clone yet",
    "Create the clones from the copies (or adopt the proven ones)",
    "Create the clones' HSMs",
    "Wait for the rest of the source's HSMs",
    "Let the client hosts reach the HSMs of every cluster of the DR set",
    "Add each missing cluster with configure-cli add-cluster",
    "Copy the source's users to the clones",
    "Copy the source's keys to the clones",
    "Summarize the DR set",
]
KEYS_FOR_A_LONG_SYNC = 1500


def faults_injected(run, since):
    requests = run.requests(since=since)
    return (sum(1 for r in requests if r.get("fault") == "throttle"), sum(1 for r in requests if r.get("fault") == "error"),
            len(requests))


def fault_free_log(output):
    """Lines of a playbook's output that report an error (retries a module hid never show up here)."""
    return [line for line in output.splitlines() if line.startswith(("fatal:", "failed:", "[ERROR]"))]


@pytest.fixture(scope="session")
def dr_set(tmp_path_factory, results):
    run = ChaosRun(str(tmp_path_factory.mktemp("chaos-dr-set") / "run"))
    outcome = {}
    try:
        run.setup()
        run.set_faults(**API_FAULTS)
        mark = run.last_seq()
        started = time.monotonic()
        outcome["killed"] = run.kill_at_task("clone_cluster.yml", FAST_BOUNDARY, "clone_cluster-killed")
        outcome["resumed"], outcome["resumed_output"] = run.try_playbook("clone_cluster.yml", "clone_cluster-resumed")
        outcome["seconds"] = time.monotonic() - started
        outcome["faults"] = faults_injected(run, mark)
        # The end state is read without injected faults (they are for the playbooks), then they are on again.
        run.clear_faults()
        outcome["problems"] = converged(run) if outcome["resumed"].ok else ["clone_cluster failed"]
        run.set_faults(**API_FAULTS)
        results.add("API throttling 30%% + HTTP 500 5%% (cloudhsmv2), clone_cluster killed before '%s', rerun"
                    % FAST_BOUNDARY,
                    "%d throttled, %d errors in %d API calls" % outcome["faults"],
                    "rerun converges, no error reported",
                    "converged" if not outcome["problems"] and outcome["resumed"].ok else
                    "FAILED: %s" % outcome["problems"], outcome["seconds"])
        yield run, outcome
    finally:
        run.stop_simulator()


def test_clone_cluster_converges_under_throttling_and_errors(dr_set):
    run, outcome = dr_set
    assert outcome["killed"], "clone_cluster ended before it reached '%s'" % FAST_BOUNDARY
    throttled, errors, calls = outcome["faults"]
    assert throttled > 10 and errors > 0, outcome["faults"]
    assert outcome["resumed"].ok, run.tail(outcome["resumed"].log_path, 40)
    assert fault_free_log(outcome["resumed_output"]) == []
    assert outcome["problems"] == []


def test_rerun_under_faults_changes_nothing(dr_set, results):
    run, outcome = dr_set
    assert outcome["resumed"].ok
    mark = run.last_seq()
    again, output = run.try_playbook("clone_cluster.yml", "clone_cluster-rerun")
    accepted = [r["operation"] for r in run.requests(since=mark, mutating="true") if r["status"] < 400]
    results.add("API throttling 30% + HTTP 500 5%, clone_cluster rerun", "%d throttled, %d errors in %d API calls"
                % faults_injected(run, mark), "no change, no mutating API call",
                "changed=%d, mutating calls %s" % (again.changed, accepted or "none"), again.seconds)
    assert again.ok, run.tail(again.log_path, 40)
    assert again.changed == 0, output
    assert accepted == []
    assert fault_free_log(output) == []


def run_module_playbook(run, name, extra, log_name):
    """Run one of tests/chaos/playbooks in the background with extra vars; returns the process."""
    command = run.playbook_command(os.path.join(PLAYBOOKS, name)) + ["-e", json.dumps(extra)]
    log = open(os.path.join(run.run_dir, log_name + ".log"), "w")
    return subprocess.Popen(command, cwd=ROOT, env=run.env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def module_result(run, name, extra, log_name):
    """Run one of tests/chaos/playbooks to the end and return the module result it wrote."""
    result_path = os.path.join(run.run_dir, log_name + ".json")
    proc = run_module_playbook(run, name, dict(extra, chaos_result_path=result_path), log_name)
    proc.wait(timeout=600)
    with open(result_path) as handle:
        return json.load(handle)


def bulk_keys(run, prefix, count):
    source = run.cluster("source")
    labels = ["%s-%04d" % (prefix, n) for n in range(count)]
    run.generate_keys(source["hsm_ips"][0], "payments_app", run.passwords["payments_app"], labels)
    return labels


def test_hsm_that_stops_answering_during_a_key_sync(dr_set, results):
    run, _outcome = dr_set
    run.clear_faults()
    source, clone = run.cluster("source"), run.cluster("clone")
    clone_ip = clone["hsm_ips"][0]
    labels = bulk_keys(run, "bulk", KEYS_FOR_A_LONG_SYNC)
    before = len(run.keys_of(clone_ip))
    extra = {"chaos_source": source["cluster_id"], "chaos_destinations": [clone["cluster_id"]]}
    started = time.monotonic()
    result_path = os.path.join(run.run_dir, "key-sync-unresponsive.json")
    sync = run_module_playbook(run, "key_sync.yml", dict(extra, chaos_result_path=result_path), "key-sync-unresponsive")
    deadline = time.monotonic() + 120
    while len(run.keys_of(clone_ip)) < before + 20 and sync.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    run.set_faults(unresponsive_ips=[clone_ip])
    sync.wait(timeout=600)
    with open(result_path) as handle:
        failed_run = json.load(handle)
    run.clear_faults()
    partial = len(run.keys_of(clone_ip))
    recovered = module_result(run, "key_sync.yml", extra, "key-sync-after-recovery")
    final_labels = [k["label"] for k in run.keys_of(clone_ip)]
    failed_keys = (failed_run.get("destinations") or [{}])[0].get("failed", [])
    complete = len(final_labels) == len(set(final_labels)) and set(labels) <= set(final_labels)
    results.add("the clone's HSM stops answering during a key sync of %d keys" % KEYS_FOR_A_LONG_SYNC,
                "unresponsive_ips=[clone HSM] after %d keys had arrived" % (partial - before),
                "module fails naming the failed keys and why; rerun after recovery completes",
                "failed=%s, %d keys listed as failed (%r); rerun synced %d, every key once on the clone: %s" % (
                    failed_run.get("failed"), len(failed_keys), (failed_keys[:1] or [{}])[0].get("reason"),
                    recovered.get("summary", {}).get("synced", 0), complete),
                time.monotonic() - started)
    assert failed_run.get("failed") is True
    assert before < partial < before + KEYS_FOR_A_LONG_SYNC, "the HSM stopped answering part-way"
    assert failed_keys and all(k.get("reason") and k.get("label", "").startswith("bulk-") for k in failed_keys)
    assert failed_run["destinations"][0]["cluster"] == clone["cluster_id"]
    assert "%d key(s) could not be synced" % len(failed_keys) in failed_run["msg"], failed_run["msg"]
    # The summary names the destination, how many keys failed for which reason, and what to do.
    reason, count = collections.Counter(k["reason"] for k in failed_keys).most_common(1)[0]
    first = next(k["label"] for k in failed_keys if k["reason"] == reason)
    assert "to %s, %d key(s) (%s, " % (clone["cluster_id"], count, first) in failed_run["msg"], failed_run["msg"]
    assert "%s (the HSMs of %s did not answer" % (reason, clone["cluster_id"]) in failed_run["msg"]
    assert recovered.get("failed") is not True, recovered.get("msg")
    assert recovered["summary"]["failed"] == 0
    assert complete


def test_key_sync_killed_part_way_resumes(dr_set, results):
    run, _outcome = dr_set
    run.clear_faults()
    clone_ip = run.cluster("clone")["hsm_ips"][0]
    labels = bulk_keys(run, "resume", KEYS_FOR_A_LONG_SYNC)
    before = len(run.keys_of(clone_ip))
    started = time.monotonic()
    killed = run.kill_at_task("sync.yml", "Copy the source's keys to the clones", "sync-killed",
                              when=lambda: len(run.keys_of(clone_ip)) > before + 20)
    partial = len(run.keys_of(clone_ip))
    resumed, output = run.try_playbook("sync.yml", "sync-resumed")
    final_labels = [k["label"] for k in run.keys_of(clone_ip)]
    complete = len(final_labels) == len(set(final_labels)) and set(labels) <= set(final_labels)
    results.add("sync.yml killed in the middle of a key sync of %d keys" % KEYS_FOR_A_LONG_SYNC,
                "SIGKILL to the playbook's process tree after %d keys had arrived" % (partial - before),
                "rerun completes, no duplicate and no missing key",
                "killed=%s, rerun ok=%s, every key once on the clone: %s, DR set converged: %s" % (
                    killed, resumed.ok, complete, not converged(run)), time.monotonic() - started)
    assert killed
    assert before < partial < before + KEYS_FOR_A_LONG_SYNC
    assert resumed.ok, output[-3000:]
    assert complete
    assert converged(run) == []


def degraded_hsm(run, role="clone"):
    """Turn the first HSM of the DR set's clone (or source) DEGRADED; returns (settings member, cluster, HSM)."""
    settings = run.dr_settings()
    member = settings["cloudhsm_dr_clones"][0] if role == "clone" else settings["cloudhsm_dr_source"]
    cluster = run.cluster(role)
    client = run.client("cloudhsmv2", member["region"])
    hsm = client.describe_clusters(Filters={"clusterIds": [cluster["cluster_id"]]})["Clusters"][0]["Hsms"][0]
    run.sim("POST", "/_sim/hsms/%s/degrade" % hsm["HsmId"], {"message": "simulated hardware failure"})
    return member, cluster, hsm


def test_degraded_hsm_is_reported_with_the_way_to_replace_it(dr_set, results):
    run, _outcome = dr_set
    run.clear_faults()
    member, clone, hsm = degraded_hsm(run)
    started = time.monotonic()
    extra = {"chaos_cluster_id": clone["cluster_id"], "chaos_region": member["region"]}
    wanted = {"availability_zones": member["availability_zones"]}
    reported = module_result(run, "hsm.yml", dict(extra, chaos_hsm_args=wanted), "hsm-degraded")
    # Follow the advice: delete it, then run the same task again.
    removed = module_result(run, "hsm.yml", dict(extra, chaos_hsm_args={"state": "absent", "hsm_id": hsm["HsmId"]}),
                            "hsm-degraded-removed")
    replaced = module_result(run, "hsm.yml", dict(extra, chaos_hsm_args=wanted), "hsm-replaced")
    new_ips = run.cluster("clone")["hsm_ips"]
    source = run.cluster("source")
    holds = (run.users_of(new_ips[0]), sorted(k["label"] for k in run.keys_of(new_ips[0]))) if new_ips else None
    expected = (run.users_of(source["hsm_ips"][0]), sorted(k["label"] for k in run.keys_of(source["hsm_ips"][0])))
    results.add("an HSM of the clone turns DEGRADED", "POST /_sim/hsms/%s/degrade" % hsm["HsmId"],
                "reported with the way to replace it; following it gives a working HSM with every user and key",
                "message: %s; removed: %s; replacement %s holds the source's users and keys: %s" % (
                    reported.get("msg"), removed.get("changed"), new_ips, holds == expected),
                time.monotonic() - started)
    assert reported.get("failed") is True and reported.get("changed") is False
    assert hsm["HsmId"] in reported["msg"] and "DEGRADED" in reported["msg"]
    assert "state=absent, hsm_id=%s" % hsm["HsmId"] in reported["msg"] and "rerun to replace it" in reported["msg"]
    assert removed.get("changed") is True
    assert replaced.get("changed") is True and len(new_ips) == len(member["availability_zones"])
    assert new_ips != [hsm["EniIp"]]
    assert holds == expected


def test_clone_with_another_masking_key_is_refused_up_front(dr_set, results):
    run, _outcome = dr_set
    run.clear_faults()
    settings = run.dr_settings()
    member = settings["cloudhsm_dr_clones"][0]
    impostor = make_unrelated_cluster(run, member, "demo-impostor")
    source = run.cluster("source")
    admin = run.login(source["hsm_ips"][0], "admin", run.passwords["admin"])
    try:
        run.hsm_call("create_user", hsm=source["hsm_ips"][0], session=admin, role="CU", username="chaos_day2",
                     password="Chaos-" + run.passwords["new_user"])
    finally:
        run.hsm_call("logout", hsm=source["hsm_ips"][0], session=admin)
    bulk_keys(run, "impostor-era", 3)
    clone_ip = run.cluster("clone")["hsm_ips"][0]
    before = {ip: (run.users_of(ip), sorted(k["label"] for k in run.keys_of(ip))) for ip in (clone_ip, impostor["ip"])}
    # The DR set takes one clone per region: the impostor stands in for the clone of its region. It is pinned by
    # id (the settings declare it the clone), since an unproven cluster of that name is refused before the HSMs are
    # reached; the HSMs' own check is what this case is about.
    with_impostor = copy.deepcopy(settings)
    with_impostor["cloudhsm_dr_clones"] = [dict(member, name="demo-impostor", cluster_id=impostor["cluster_id"])]
    original = run.settings
    run.use_settings(with_impostor)
    started = time.monotonic()
    try:
        refused, output = run.try_playbook("sync.yml", "sync-with-impostor")
    finally:
        run.settings = original
    after = {ip: (run.users_of(ip), sorted(k["label"] for k in run.keys_of(ip))) for ip in (clone_ip, impostor["ip"])}
    results.add("a clone whose masking key differs (not made from the source's backup)",
                "cluster demo-impostor, initialized and activated on its own, as the DR set's clone",
                "sync refuses up front, nothing changes (a new user and keys wait on the source)",
                "sync ok=%s, lineage named: %s, clone and impostor unchanged: %s" % (
                    refused.ok, "not clones of one backup" in output, before == after), time.monotonic() - started)
    assert not refused.ok
    assert "not clones of one backup" in output and impostor["cluster_id"] in output
    assert before == after


@pytest.mark.chaos_full
@pytest.mark.parametrize("role", ["clone", "source"])
def test_clone_cluster_converges_after_an_hsm_replacement(role, dr_set, results):
    """An HSM of the clone (or the source) DEGRADED, then replaced as the message says: clone_cluster converges."""
    run, _outcome = dr_set
    run.clear_faults()
    member, cluster, hsm = degraded_hsm(run, role)
    extra = {"chaos_cluster_id": cluster["cluster_id"], "chaos_region": member["region"]}
    module_result(run, "hsm.yml", dict(extra, chaos_hsm_args={"state": "absent", "hsm_id": hsm["HsmId"]}),
                  "hsm-replacement-removed-" + role)
    started = time.monotonic()
    rerun, output = run.try_playbook("clone_cluster.yml", "clone_cluster-after-%s-replacement" % role)
    problems = converged(run) if rerun.ok else ["clone_cluster failed"]
    # The client's entry for the cluster now names the new HSM, so one more run changes nothing.
    again, again_output = run.try_playbook("clone_cluster.yml", "clone_cluster-after-%s-replacement-again" % role)
    results.add("the %s's HSM DEGRADED and deleted, clone_cluster rerun" % role, "a new HSM with a new ENI IP",
                "clone_cluster adds the HSM, points the client at it and converges; one more run changes nothing",
                "ok=%s, %s, next run changed=%d" % (
                    rerun.ok, "converged" if not problems else problems, again.changed),
                time.monotonic() - started)
    assert rerun.ok, output[-3000:]
    # The sync config rewrote the cluster's entry (it named a gone HSM) with the HSMs the cluster has now.
    updated = re.search(r"changed: \[.*\] => \(item=%s: configured (\S*), current (\S*)\)" % cluster["cluster_id"],
                        output)
    assert updated, output[-3000:]
    if role == "source":
        # Renewed before the activation play logs in to the source, not only by the reconcile play after it.
        assert updated.start() < output.index("Create the first users]"), output[-3000:]
    assert hsm["EniIp"] not in updated.group(2).split(",")
    assert set(run.cluster(role)["hsm_ips"]) <= set(updated.group(2).split(","))
    assert "=> (item=%s: configured" % cluster["cluster_id"] not in again_output
    assert problems == []
    assert again.ok and again.changed == 0, again_output[-3000:]


def make_unrelated_cluster(run, member, name):
    """A cluster in the clone's region, initialized with the DR set's CA and activated, but not from a backup."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    region = member["region"]
    client = run.client("cloudhsmv2", region)
    with open(run.network_file) as handle:
        subnets = yaml.safe_load(handle)["dr_subnet_ids"][region]
    cluster_id = client.create_cluster(HsmType="hsm2m.medium", Mode="FIPS", SubnetIds=subnets,
                                       TagList=[{"Key": "Name", "Value": name}])["Cluster"]["ClusterId"]
    wait_state(client, cluster_id, "UNINITIALIZED")
    client.create_hsm(ClusterId=cluster_id, AvailabilityZone=member["availability_zones"][0])
    cluster = wait_state(client, cluster_id, "UNINITIALIZED", csr=True)
    ca_dir = os.path.join(run.run_dir, "ca")
    with open(os.path.join(ca_dir, "customerCA.crt"), "rb") as handle:
        ca_cert = x509.load_pem_x509_certificate(handle.read())
    with open(os.path.join(ca_dir, "customerCA.key"), "rb") as handle:
        ca_key = serialization.load_pem_private_key(handle.read(), password=None)
    csr = x509.load_pem_x509_csr(cluster["Certificates"]["ClusterCsr"].encode())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca_cert.subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=30))
            .sign(ca_key, hashes.SHA256()))
    client.initialize_cluster(ClusterId=cluster_id, SignedCert=cert.public_bytes(serialization.Encoding.PEM).decode(),
                              TrustAnchor=ca_cert.public_bytes(serialization.Encoding.PEM).decode())
    cluster = wait_state(client, cluster_id, "INITIALIZED")
    ip = cluster["Hsms"][0]["EniIp"]
    run.hsm_call("activate", hsm=ip, password=run.passwords["admin"])
    wait_state(client, cluster_id, "ACTIVE")
    return {"cluster_id": cluster_id, "ip": ip}


def wait_state(client, cluster_id, state, csr=False, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        cluster = client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]
        if cluster["State"] == state and (not csr or cluster.get("Certificates", {}).get("ClusterCsr")):
            return cluster
        if time.monotonic() > deadline:
            raise AssertionError("cluster %s stayed %s, wanted %s" % (cluster_id, cluster["State"], state))
        time.sleep(0.2)


@pytest.mark.chaos_full
@pytest.mark.parametrize("boundary", FULL_BOUNDARIES)
def test_clone_cluster_killed_at_a_task_boundary_converges(boundary, fresh_run, results):
    run = fresh_run
    started = time.monotonic()
    killed = run.kill_at_task("clone_cluster.yml", boundary, "clone_cluster-killed")
    resumed, output = run.try_playbook("clone_cluster.yml", "clone_cluster-resumed")
    problems = converged(run) if resumed.ok else ["the rerun failed"]
    mark = run.last_seq()
    again, unused_output = run.try_playbook("clone_cluster.yml", "clone_cluster-again") if resumed.ok else (resumed, "")
    accepted = [r["operation"] for r in run.requests(since=mark, mutating="true") if r["status"] < 400]
    results.add("clone_cluster killed before '%s'" % boundary, "SIGKILL to the playbook's process tree",
                "rerun converges: no duplicate cluster, HSM or copy, no user or key missing; a third run changes nothing",
                "killed=%s, rerun ok=%s, %s, third run changed=%d, mutating calls %s" % (
                    killed, resumed.ok, "converged" if not problems else "problems: %s" % problems, again.changed,
                    accepted or "none"), time.monotonic() - started)
    assert killed, "clone_cluster ended before it reached '%s'" % boundary
    assert resumed.ok, output[-3000:]
    assert problems == []
    assert again.changed == 0 and accepted == []
