"""Day 2 of a DR set with two clones (SDK 5), through the shipped playbooks against the simulator.

One DR set for the module (source in us-east-1, clones in us-west-2 and ap-southeast-1); the scenarios run in
order on it:

- check mode predicts a full run: ``sync --check`` with a new crypto user and a key it owns exits 0 with a drift
  report per clone, the real run does exactly that, and a second check reports nothing;
- counts are read from every cluster: a key deleted on one clone only shows in that clone's count and in the
  differences;
- deletions work and are deliberate: a key retired on the source leaves BOTH clones, deleted as its owner, after
  the newest READY backup of each clone was kept for good, and its owner (deleted on the source too) leaves them
  after it; purge-all needs a confirmation, and a key whose owner's password is not given is refused before
  anything changes;
- declared keys are not re-created: a declared key deleted on the source is reported by ``clone_cluster``, not
  generated again with new material.

Users and keys are read from the simulated HSMs themselves (scripts/demo.py), not through the collection's code.
"""

import os

import pytest
import yaml

import dr_sets

NEW_USER = "day2_user"
NEW_KEY = "day2-key"
# What playbooks/examples/simulator/add_user_and_key.yml gives the new user: a key, an RSA key pair and a key
# shared with payments_app, in the order the summary lists them.
NEW_KEYS = [NEW_KEY, "day2-signing", "day2-shared"]
DECLARED_KEY = "demo-kek"

SETTINGS = dr_sets.settings("day2", "hsmops-day2", ["us-west-2", "ap-southeast-1"])


@pytest.fixture(scope="module")
def dr(tmp_path_factory):
    yield from dr_sets.built_dr_set(tmp_path_factory, "day2", SETTINGS)


def extra_vars(run, name, values):
    path = os.path.join(run.run_dir, name + ".yml")
    with open(path, "w") as handle:
        handle.write("---\n" + yaml.safe_dump(values, default_flow_style=False))
    return path


def run_expecting_failure(run, name, log_name, check=False, extra_files=()):
    proc, log, log_path = run.start_playbook(name, log_name=log_name, check=check, extra_files=extra_files)
    with log:
        for line in proc.stdout:
            log.write(line)
    assert proc.wait() != 0, "%s was expected to fail" % log_name
    with open(log_path) as handle:
        return handle.read()


def clusters(run):
    """role -> {region, cluster_id, hsm_ips} of every live cluster of the DR set, by region."""
    return {c["region"]: c for c in run.clusters()}


def login(run, cluster, username, password):
    hsm = cluster["hsm_ips"][0]
    user = next(u for u in run.hsm_call("list_users", hsm=hsm)["users"] if u["name"] == username)
    return hsm, run.hsm_call("login", hsm=hsm, role=user["role"], username=username, password=password)["session"]


def keys_of(run, cluster, username="admin", password=None):
    hsm, session = login(run, cluster, username, password or run.passwords["admin"])
    try:
        return run.hsm_call("list_keys", hsm=hsm, session=session)["keys"]
    finally:
        run.hsm_call("logout", hsm=hsm, session=session)


def delete_key_as_owner(run, cluster, username, password, label):
    hsm, session = login(run, cluster, username, password)
    try:
        # A key pair is two objects under one label: both go.
        held = [k for k in run.hsm_call("list_keys", hsm=hsm, session=session)["keys"] if k["label"] == label]
        assert held, "%s holds no key labelled %s" % (username, label)
        for key in held:
            run.hsm_call("delete_key", hsm=hsm, session=session, handle=key["handle"])
    finally:
        run.hsm_call("logout", hsm=hsm, session=session)


def listed(lines, prefix):
    """The sorted names of the one summary line that starts with prefix ("keys to delete on C: a, b")."""
    found = [line[len(prefix):] for line in lines if line.startswith(prefix)]
    assert len(found) == 1, (prefix, lines)
    return sorted(found[0].split(", "))


def labels(run, cluster):
    return sorted(k["label"] for k in keys_of(run, cluster))


def test_sync_check_predicts_a_new_user_and_the_key_it_owns(dr):
    dr.run_playbook("add_user_and_key.yml", progress=False)
    before = dr.report()

    check = dr.run_playbook("sync.yml", log_name="sync-check-new-user-and-key", check=True, progress=False)
    lines = dr_sets.summary(check)
    assert dr.report() == before, "check mode changed the HSMs"
    for region in ("us-west-2", "ap-southeast-1"):
        clone_id = clusters(dr)[region]["cluster_id"]
        assert "users to copy to %s: %s" % (clone_id, NEW_USER) in lines, lines
        assert "keys to copy to %s: %s" % (clone_id, ", ".join(NEW_KEYS)) in lines, lines
        assert any(line.startswith("drift on %s: users to add [%s]" % (clone_id, NEW_USER)) and
                   "keys to add [%s]" % ", ".join(NEW_KEYS) in line for line in lines), lines
    assert not any("this run" in line for line in lines), lines

    real = dr.run_playbook("sync.yml", log_name="sync-new-user-and-key", progress=False)
    assert real.changed > 0
    lines = dr_sets.summary(real)
    after = dr.report()
    assert after["match"], after
    for cluster in after["clusters"]:
        assert (NEW_USER, "CU") in cluster["users"]
        assert set(NEW_KEYS) <= set(k[0] for k in cluster["keys"]), cluster["keys"]
    for region in ("us-west-2", "ap-southeast-1"):
        clone_id = clusters(dr)[region]["cluster_id"]
        assert "users copied to %s this run: %s" % (clone_id, NEW_USER) in lines
        assert "keys copied to %s this run: %s" % (clone_id, ", ".join(NEW_KEYS)) in lines, lines
    assert lines[-1] == "differences left: 0"

    again = dr.run_playbook("sync.yml", log_name="sync-check-again", check=True, progress=False)
    assert again.changed == 0, again.changed_tasks
    lines = dr_sets.summary(again)
    assert not any(line.startswith(("drift on", "users to", "keys to")) for line in lines), lines
    assert lines[-1].startswith("differences found: 0")


def test_summary_counts_are_read_from_every_cluster(dr):
    by_region = clusters(dr)
    west = by_region["us-west-2"]
    held = len(keys_of(dr, by_region["us-east-1"]))
    delete_key_as_owner(dr, west, NEW_USER, dr.passwords["new_user"], NEW_KEY)

    check = dr.run_playbook("sync.yml", log_name="sync-check-clone-lost-a-key", check=True, progress=False)
    lines = dr_sets.summary(check)
    counts = dict((line.split()[2], line) for line in lines if line.startswith("held by "))
    assert counts[by_region["us-east-1"]["cluster_id"]].endswith("keys %3d" % held)
    assert counts[west["cluster_id"]].endswith("keys %3d" % (held - 1)), lines
    assert counts[by_region["ap-southeast-1"]["cluster_id"]].endswith("keys %3d" % held)
    assert lines[-1].startswith("differences found: 1"), lines
    # Columns line up whatever the region names' lengths.
    rows = [line for line in lines if line.startswith(("source ", "clone  "))]
    assert len(rows) == 3 and len(set(row.index("cluster-") for row in rows)) == 1, rows

    real = dr.run_playbook("sync.yml", log_name="sync-clone-lost-a-key", progress=False)
    lines = dr_sets.summary(real)
    assert "keys copied to %s this run: %s" % (west["cluster_id"], NEW_KEY) in lines
    assert lines[-1] == "differences left: 0"
    assert NEW_KEY in labels(dr, west)


def test_a_retired_key_leaves_both_clones_as_its_owner_after_a_backup_is_kept(dr):
    by_region = clusters(dr)
    clones = [by_region["us-west-2"], by_region["ap-southeast-1"]]
    # The daily backup AWS takes of every cluster: the clones' newest backups now hold the key.
    for clone in clones:
        dr.take_backup(clone["cluster_id"])
    source = by_region["us-east-1"]
    for label in NEW_KEYS:
        delete_key_as_owner(dr, source, NEW_USER, dr.passwords["new_user"], label)
    # Their owner goes on the source too (a user who owns keys cannot be deleted): the clones lose the user after its key (check mode assumes that order).
    hsm, session = login(dr, source, "admin", dr.passwords["admin"])
    try:
        dr.hsm_call("delete_user", hsm=hsm, session=session, role="CU", username=NEW_USER)
    finally:
        dr.hsm_call("logout", hsm=hsm, session=session)

    # Purging everything the source lacks needs a confirmation.
    text = run_expecting_failure(dr, "sync.yml", "sync-purge-unconfirmed", check=True,
                                 extra_files=[extra_vars(dr, "purge-all", {"cloudhsm_dr_key_purge": True})])
    assert "need cloudhsm_dr_purge_confirmed=true" in text

    # Without the owner's password the purge is refused before anything changes.
    retire = extra_vars(dr, "retire", {"cloudhsm_dr_retired_key_labels": NEW_KEYS,
                                       "cloudhsm_dr_retired_users": [NEW_USER]})
    text = run_expecting_failure(dr, "sync.yml", "sync-purge-no-owner", extra_files=[retire])
    assert "only the owner of a key can delete it" in text and NEW_USER in text
    assert all(set(NEW_KEYS) <= set(labels(dr, clone)) for clone in clones)

    owners = extra_vars(dr, "owners", {"cloudhsm_dr_users": [
        {"name": "payments_app", "role": "crypto-user", "password": "{{ dr_passwords.payments_app }}"},
        {"name": NEW_USER, "role": "crypto-user", "password": "{{ dr_passwords.new_user }}"}]})
    check = dr.run_playbook("sync.yml", log_name="sync-purge-check", check=True, extra_files=[retire, owners],
                            progress=False)
    plan = dr_sets.summary(check)
    for clone in clones:
        assert listed(plan, "keys to delete on %s: " % clone["cluster_id"]) == sorted(NEW_KEYS), plan
        assert "users to delete on %s: %s" % (clone["cluster_id"], NEW_USER) in plan, plan
        assert any(line.startswith("backup to keep backup-") and " of %s " % clone["cluster_id"] in line
                   for line in plan), plan
        assert NEW_KEY in labels(dr, clone)

    real = dr.run_playbook("sync.yml", log_name="sync-purge", extra_files=[retire, owners], progress=False)
    lines = dr_sets.summary(real)
    for clone in clones:
        assert listed(lines, "keys deleted on %s this run: " % clone["cluster_id"]) == sorted(NEW_KEYS), lines
        assert "users deleted on %s this run: %s" % (clone["cluster_id"], NEW_USER) in lines, lines
        assert not set(NEW_KEYS) & set(labels(dr, clone))
        backups = dr.aws("cloudhsmv2", clone["region"]).describe_backups(
            Filters={"clusterIds": [clone["cluster_id"]], "states": ["READY"]})["Backups"]
        newest = max(backups, key=lambda b: b["CreateTimestamp"])
        assert newest["NeverExpires"] is True, newest
        assert any(line.startswith("backup kept %s of %s in %s (NeverExpires), for " % (
            newest["BackupId"], clone["cluster_id"], clone["region"])) and NEW_KEY in line for line in lines), lines
    # The real run deleted exactly what check mode showed.
    planned = [line.split(":")[0].replace("keys to delete on ", "") for line in plan if line.startswith("keys to delete")]
    done = [line.split(":")[0].replace("keys deleted on ", "").replace(" this run", "")
            for line in lines if line.startswith("keys deleted")]
    assert planned == done and len(done) == 2
    assert lines[-1] == "differences left: 0"

    report = dr.report()
    assert report["match"] and all((NEW_USER, "CU") not in c["users"] for c in report["clusters"]), report

    rerun = dr.run_playbook("sync.yml", log_name="sync-purge-rerun", extra_files=[retire, owners], progress=False)
    assert rerun.changed == 0, rerun.changed_tasks


def test_a_declared_key_deleted_on_the_source_is_reported_not_regenerated(dr):
    by_region = clusters(dr)
    source = by_region["us-east-1"]
    [declared] = [k for k in keys_of(dr, source) if k["label"] == DECLARED_KEY]
    delete_key_as_owner(dr, source, "payments_app", dr.passwords["payments_app"], DECLARED_KEY)

    rerun = dr.run_playbook("clone_cluster.yml", log_name="clone-declared-key-gone", progress=False)
    with open(rerun.log_path) as handle:
        assert "missing on the source %s, which was already" % source["cluster_id"] in handle.read()
    # The summary, read from every cluster, shows the key the clones still hold.
    lines = dr_sets.summary(rerun)
    assert [line for line in lines if line.startswith("drift on")] == [
        "drift on %s: users to add [], users to remove [], keys to add [], keys to remove [%s], keys whose attributes "
        "differ []" % (by_region[region]["cluster_id"], DECLARED_KEY) for region in ("us-west-2", "ap-southeast-1")]
    assert lines[-1] == "differences left: 2"
    assert DECLARED_KEY not in labels(dr, source)
    for region in ("us-west-2", "ap-southeast-1"):
        [kept] = [k for k in keys_of(dr, by_region[region]) if k["label"] == DECLARED_KEY]
        assert kept["kcv"] == declared["kcv"]
    assert rerun.changed == 0, rerun.changed_tasks
