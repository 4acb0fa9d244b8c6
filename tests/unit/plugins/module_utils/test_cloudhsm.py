# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime

import pytest

from ansible_collections.hsmops.cloudhsm.plugins.module_utils import cloudhsm
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import CloudHsmError
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import StateWaiter


@pytest.fixture
def clock(monkeypatch):
    """A fake clock: sleeping advances it; returns the list of sleeps."""
    now = [1000.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(cloudhsm, "_sleep", sleep)
    monkeypatch.setattr(cloudhsm, "_clock", lambda: now[0])
    return sleeps


def states(*sequence):
    """A fetch function returning resources in these states, then the last one forever (None = gone)."""
    queue = list(sequence)

    def fetch():
        state = queue.pop(0) if len(queue) > 1 else queue[0]
        return None if state is None else {"State": state, "Id": "x"}

    return fetch


def by_state(resource):
    return resource["State"]


def test_waiter_backs_off_from_one_second_and_caps(clock):
    fetch = states(*(["CREATE_IN_PROGRESS"] * 30 + ["ACTIVE"]))
    result = StateWaiter(1800).wait(fetch, by_state, "HSM hsm-x", ("ACTIVE",))
    assert result["State"] == "ACTIVE"
    assert clock[0] == 1.0
    assert clock[1] == pytest.approx(1.15)
    assert all(later >= earlier for earlier, later in zip(clock, clock[1:]))
    assert max(clock) == 15.0
    assert len(clock) == 31


def test_waiter_sees_a_change_within_a_second_and_fifteen_percent_of_the_wait(clock):
    """A change just after a poll is seen at the next one: at most 1 s + 15% of the time waited so far later."""
    StateWaiter(1800).wait(states(*(["CREATE_IN_PROGRESS"] * 40 + ["ACTIVE"])), by_state, "HSM hsm-x", ("ACTIVE",))
    polls = [sum(clock[:index + 1]) for index in range(len(clock))]
    assert all(later - earlier <= min(1.0 + 0.15 * earlier, 15.0) + 1e-9 for earlier, later in zip(polls, polls[1:]))


def test_waiter_returns_without_sleeping_when_initial_is_there(clock):
    result = StateWaiter(60).wait(states("ACTIVE"), by_state, "cluster c", ("ACTIVE",), initial={"State": "ACTIVE"})
    assert result == {"State": "ACTIVE"}
    assert clock == []


def test_waiter_timeout_names_resource_state_found_and_awaited(clock):
    with pytest.raises(CloudHsmError) as caught:
        StateWaiter(30).wait(states("CREATE_IN_PROGRESS"), by_state, "cluster cluster-abc", ("UNINITIALIZED",))
    message = str(caught.value)
    assert "Timed out after 30s waiting for cluster cluster-abc to reach UNINITIALIZED" in message
    assert "still in state CREATE_IN_PROGRESS" in message
    assert "wait_timeout" in message
    assert sum(clock) == pytest.approx(30)  # never sleeps past the deadline


def test_waiter_fails_fast_on_a_terminal_state(clock):
    fetch = states("CREATE_IN_PROGRESS", "DEGRADED")
    with pytest.raises(CloudHsmError) as caught:
        StateWaiter(600).wait(fetch, by_state, "HSM hsm-abc", ("ACTIVE",), failed=("DEGRADED",))
    assert "HSM hsm-abc is in state DEGRADED while waiting for ACTIVE" in str(caught.value)
    assert len(clock) == 2


def test_waiter_deletion_accepts_gone_and_flags_unexpected_disappearance(clock):
    assert StateWaiter(60).wait(states("DELETE_IN_PROGRESS", None), by_state, "c", (StateWaiter.GONE,),
                                fail_when_gone=False) is None
    with pytest.raises(CloudHsmError) as caught:
        StateWaiter(60).wait(states(None), by_state, "cluster c", ("ACTIVE",))
    assert "cluster c disappeared while waiting for ACTIVE" in str(caught.value)


@pytest.mark.parametrize(
    "kind, value",
    [
        ("cluster", "cluster-igklspoyj5v"),
        ("hsm", "hsm-ted36yp5b2x"),
        ("backup", "backup-ro5c4er4aac"),
        ("backup", "arn:aws:cloudhsm:us-east-1:123456789012:backup/backup-ro5c4er4aac"),
        ("eni", "eni-5d7ade72"),
        ("ip", "10.0.1.12"),
        ("region", "us-gov-west-1"),
        ("availability_zone", "eu-central-1b"),
    ],
)
def test_valid_ids(kind, value):
    assert cloudhsm.validate_id(kind, value, "option") == value


@pytest.mark.parametrize(
    "kind, value",
    [("cluster", "cluster-short"), ("cluster", "cluster-igklspoyj5v "), ("hsm", "hsm-0123456789a"),
     ("backup", "arn:aws:cloudhsm:us-east-1:1234:backup/backup-ro5c4er4aac"), ("eni", "eni-xyz"), ("region", "mars-1")],
)
def test_invalid_ids_name_the_option_and_the_format(kind, value):
    with pytest.raises(CloudHsmError) as caught:
        cloudhsm.validate_id(kind, value, "the_option")
    assert str(caught.value).startswith("the_option=%r is not a valid" % value)
    assert "expected" in str(caught.value)


def test_backup_reference_parsing():
    arn = "arn:aws-us-gov:cloudhsm:us-gov-west-1:123456789012:backup/backup-ro5c4er4aac"
    assert cloudhsm.parse_backup_reference(arn) == ("backup-ro5c4er4aac", "us-gov-west-1", "123456789012")
    assert cloudhsm.parse_backup_reference("backup-ro5c4er4aac") == ("backup-ro5c4er4aac", None, None)


def test_partitions_and_regions():
    assert cloudhsm.partition_of_region("us-gov-east-1") == "aws-us-gov"
    assert cloudhsm.partition_of_region("eu-west-1") == "aws"
    assert cloudhsm.validate_region("eu-west-1", "destination_regions") == "eu-west-1"
    with pytest.raises(CloudHsmError):
        cloudhsm.validate_region("us-north-7", "destination_regions")


PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_load_pem_from_text_or_file(tmp_path):
    assert cloudhsm.load_pem(PEM, "signed_cert") == PEM
    path = tmp_path / "cert.pem"
    path.write_text(PEM + "\n\n")
    assert cloudhsm.load_pem(str(path), "signed_cert") == PEM
    (tmp_path / "empty.pem").write_text("not a certificate")
    with pytest.raises(CloudHsmError) as caught:
        cloudhsm.load_pem(str(tmp_path / "empty.pem"), "trust_anchor")
    assert "trust_anchor: the file" in str(caught.value)
    with pytest.raises(CloudHsmError):
        cloudhsm.load_pem(str(tmp_path / "missing.pem"), "trust_anchor")
    assert cloudhsm.same_pem(PEM, PEM.replace("\n", "\r\n"))
    assert not cloudhsm.same_pem(PEM, PEM.replace("MIIB", "MIIC"))


def test_normalize_cluster_snake_cases_keeps_zone_keys_and_drops_the_preco_password():
    raw = {
        "ClusterId": "cluster-igklspoyj5v",
        "State": "UNINITIALIZED",
        "PreCoPassword": "secret-value",
        "SubnetMapping": {"us-east-1a": "subnet-0e358c43"},
        "Certificates": {"ClusterCsr": "CSR"},
        "BackupRetentionPolicy": {"Type": "DAYS", "Value": "90"},
        "CreateTimestamp": datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc),
        "Hsms": [{"HsmId": "hsm-ted36yp5b2x", "EniIp": "10.0.1.12", "EniIpV6": None}],
        "TagList": [{"Key": "Name", "Value": "primary"}],
    }
    result = cloudhsm.normalize_cluster(raw)
    assert result["subnet_mapping"] == {"us-east-1a": "subnet-0e358c43"}
    assert result["certificates"] == {"cluster_csr": "CSR"}
    assert result["hsms"][0]["eni_ip"] == "10.0.1.12"
    assert result["tags"] == {"Name": "primary"} and result["name"] == "primary"
    assert result["create_timestamp"] == "2026-01-02T00:00:00+00:00"
    assert "secret-value" not in repr(result)
    assert cloudhsm.retention_days(raw) == 90
    assert "hsm_type_rollback_expiration" not in result


def test_normalize_cluster_gives_the_rollback_deadline_in_the_form_of_every_other_deadline():
    deadline = datetime.datetime(2026, 12, 8, 5, 40, 12, 345000, tzinfo=datetime.timezone.utc)
    raw = {"ClusterId": "cluster-igklspoyj5v", "State": "MODIFY_IN_PROGRESS", "HsmType": "hsm2m.medium",
           "HsmTypeRollbackExpiration": deadline, "Hsms": [{"HsmId": "hsm-ted36yp5b2x", "HsmType": "hsm1.medium"}]}
    result = cloudhsm.normalize_cluster(raw)
    assert result["hsm_type_rollback_expiration"] == "2026-12-08T05:40:12Z"
    assert cloudhsm.limited_write(raw)["rollback_expiration"] == result["hsm_type_rollback_expiration"]
    assert cloudhsm.normalize_cluster(dict(raw, HsmTypeRollbackExpiration=None))["hsm_type_rollback_expiration"] is None


def test_live_hsms_skip_deleting_and_collapse_a_replaced_hsm_on_one_eni():
    cluster = {"Hsms": [
        {"HsmId": "hsm-aaaaaaaaaaa", "EniId": "eni-00000001", "State": "DEGRADED"},
        {"HsmId": "hsm-bbbbbbbbbbb", "EniId": "eni-00000001", "State": "ACTIVE"},
        {"HsmId": "hsm-ccccccccccc", "EniId": "eni-00000002", "State": "DELETE_IN_PROGRESS"},
        {"HsmId": "hsm-ddddddddddd", "EniId": "eni-00000003", "State": "CREATE_IN_PROGRESS"},
    ]}
    assert [hsm["HsmId"] for hsm in cloudhsm.live_hsms(cluster)] == ["hsm-bbbbbbbbbbb", "hsm-ddddddddddd"]


def test_apply_tags_locally_mirrors_reconciliation():
    resource = {"TagList": [{"Key": "A", "Value": "1"}, {"Key": "aws:x", "Value": "y"}]}
    after = cloudhsm.apply_tags_locally(resource, {"B": 2}, purge_tags=True)
    assert sorted((tag["Key"], tag["Value"]) for tag in after["TagList"]) == [("B", "2"), ("aws:x", "y")]
    assert cloudhsm.apply_tags_locally(resource, None, True) is resource
