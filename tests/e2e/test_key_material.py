"""The keys real clusters hold, synced through the shipped playbooks (SDK 5) against the simulator.

One DR set for the module (source in us-east-1, one clone in us-west-2); the scenarios run in order on it:

- a source with an RSA and an EC key pair, a key one crypto user shares with another (who exists on the source
  only), a key whose label changed after cloning and a session key: ``sync.yml`` copies the share user first, then
  both objects of each pair (reported as one entry each) and the shared key with its owner and share; the session
  key is neither counted nor copied; the label change is reported as drift with both values and left alone; a
  rerun changes nothing;
- the same sync with ``cloudhsm_dr_key_attribute_drift: align``: check mode names the label change it would make
  and changes nothing, the run sets the clone's label as the key's owner and names the change, a rerun changes
  nothing;
- a source with quorum (M of N) for user management and users to copy: the sync fails before any change with the
  approval workflow, and the clone holds exactly what it held before.

Users and keys are read from the simulated HSMs themselves (scripts/demo.py), not through the collection's code.
"""

import os
import secrets

import pytest

import dr_sets
from dr_sets import Login, objects, users_of

OWNER = "payments_app"
PARTNER = "partner_app"
RENAMED = "demo-kek-v2"

SETTINGS = dr_sets.settings("material", "hsmops-key-material", ["us-west-2"])


@pytest.fixture(scope="module")
def dr(tmp_path_factory):
    yield from dr_sets.built_dr_set(tmp_path_factory, "material", SETTINGS)


def by_region(run):
    return {c["region"]: c for c in run.clusters()}


def test_pairs_shared_keys_and_a_renamed_key_arrive_and_session_keys_stay(dr):
    clusters = by_region(dr)
    source, clone = clusters["us-east-1"], clusters["us-west-2"]
    dr.passwords[PARTNER] = secrets.token_urlsafe(12)
    with Login(dr, source, "admin", dr.passwords["admin"]) as admin:
        admin.call("create_user", role="CU", username=PARTNER, password=dr.passwords[PARTNER])
    with Login(dr, source, OWNER, dr.passwords[OWNER]) as owner:
        owner.call("generate_key_pair", key_type="rsa", public_label="tls-rsa-pub", private_label="tls-rsa",
                   modulus_bits=2048)
        owner.call("generate_key_pair", key_type="ec", public_label="sign-ec-pub", private_label="sign-ec",
                   curve="secp256r1")
        owner.call("generate_key", key_type="aes", size=32, label="shared-kek", share=[PARTNER])
        [kek] = [k for k in owner.call("list_keys")["keys"] if k["label"] == "demo-kek"]
        owner.call("set_attribute", name="label", value=RENAMED, handle=kek["handle"])
        # The session key lives while this session does, so it exists during the whole sync.
        owner.call("generate_key", key_type="aes", size=16, label="scratch", session_key=True)
        held = objects(dr, source)
        assert [k[1] for k in held if k[6]] == ["scratch"]

        run = dr.run_playbook("sync.yml", log_name="sync-key-material", progress=False)
        assert "scratch" in [k[1] for k in objects(dr, source)], "the session key ended before the sync did"

    lines = dr_sets.summary(run)
    copied = [line for line in lines if line.startswith("keys copied to %s this run: " % clone["cluster_id"])]
    assert len(copied) == 1, lines
    names = copied[0].split(": ", 1)[1].split(", ")
    # A pair is one entry, named by its private key; the session key is not there.
    assert sorted(names) == ["shared-kek", "sign-ec", "tls-rsa"], lines
    assert "users copied to %s this run: %s" % (clone["cluster_id"], PARTNER) in lines, lines

    # Every token object of the source is on the clone with its owner and shares; the renamed key keeps its old
    # label there (drift is reported, never changed silently).
    tokens = [k for k in held if not k[6]]
    on_clone = objects(dr, clone)
    expected = sorted(k if k[1] != RENAMED else (k[0], "demo-kek") + k[2:] for k in tokens)
    assert on_clone == expected, (on_clone, expected)
    assert ("shared-kek" in [k[1] for k in on_clone]
            and [k[5] for k in on_clone if k[1] == "shared-kek"] == [(PARTNER,)])
    assert sorted(k[2] for k in on_clone if k[1].startswith(("tls-rsa", "sign-ec"))) == [
        "private-key", "private-key", "public-key", "public-key"]
    assert (PARTNER, "CU") in users_of(dr, clone)

    drift = [line for line in lines if line.startswith("drift on %s" % clone["cluster_id"])]
    assert len(drift) == 1 and 'keys whose attributes differ [%s (label "%s" on the source, "demo-kek" here)]' % (
        RENAMED, RENAMED) in drift[0], lines
    assert lines[-1] == "differences left: 1", lines

    again = dr.run_playbook("sync.yml", log_name="sync-key-material-again", progress=False)
    assert again.changed == 0, again.changed_tasks
    assert objects(dr, clone) == on_clone
    assert dr_sets.summary(again)[-1] == "differences left: 1"


def test_align_previews_then_sets_the_clone_label_as_the_owner_and_a_rerun_changes_nothing(dr):
    clone = by_region(dr)["us-west-2"]
    before = objects(dr, clone)
    align = os.path.join(dr.run_dir, "align.yml")
    with open(align, "w") as handle:
        handle.write("---\ncloudhsm_dr_key_attribute_drift: align\n")
    change = 'demo-kek label "demo-kek" -> "%s"' % RENAMED
    preview = dr.run_playbook("sync.yml", log_name="sync-align-check", check=True, extra_files=[align],
                              progress=False)
    assert "key attributes to align on %s: %s" % (clone["cluster_id"], change) in dr_sets.summary(preview)
    assert objects(dr, clone) == before

    run = dr.run_playbook("sync.yml", log_name="sync-align", extra_files=[align], progress=False)
    lines = dr_sets.summary(run)
    assert "key attributes aligned on %s this run: %s" % (clone["cluster_id"], change) in lines, lines
    assert lines[-1] == "differences left: 0", lines
    assert objects(dr, clone) == sorted(k if k[1] != "demo-kek" else (k[0], RENAMED) + k[2:] for k in before)

    again = dr.run_playbook("sync.yml", log_name="sync-align-again", extra_files=[align], progress=False)
    assert again.changed == 0, again.changed_tasks
    assert dr_sets.summary(again)[-1] == "differences left: 0"


def test_a_quorum_source_fails_up_front_and_no_clone_changes(dr):
    clusters = by_region(dr)
    source = clusters["us-east-1"]
    clones = [c for c in dr.clusters() if c["region"] != "us-east-1"]
    dr.passwords["officer2"] = secrets.token_urlsafe(12)
    dr.passwords["late_app"] = secrets.token_urlsafe(12)
    with Login(dr, source, "admin", dr.passwords["admin"]) as admin:
        admin.call("create_user", role="CO", username="officer2", password=dr.passwords["officer2"])
        admin.call("create_user", role="CU", username="late_app", password=dr.passwords["late_app"])
    with Login(dr, source, "late_app", dr.passwords["late_app"]) as late:
        late.call("generate_key", key_type="aes", size=32, label="late-key")
    with Login(dr, source, "officer2", dr.passwords["officer2"]) as officer:
        officer.call("register_quorum_key")
    with Login(dr, source, "admin", dr.passwords["admin"]) as admin:
        admin.call("register_quorum_key")
        admin.call("set_user_quorum", value=2)
    before = dict((c["cluster_id"], (users_of(dr, c), objects(dr, c))) for c in clones)

    proc, log, log_path = dr.start_playbook("sync.yml", log_name="sync-quorum-source")
    with log:
        for line in proc.stdout:
            log.write(line)
    assert proc.wait() != 0, "the sync of a quorum source was expected to fail"
    with open(log_path) as handle:
        text = handle.read()
    assert "quorum (M of N) authentication for user management" in text, text[-3000:]
    assert "quorum token-sign generate --service user" in text and "Nothing was changed" in text
    assert "officer2" in text and "late_app" in text
    for clone in clones:
        assert (users_of(dr, clone), objects(dr, clone)) == before[clone["cluster_id"]], clone["cluster_id"]
