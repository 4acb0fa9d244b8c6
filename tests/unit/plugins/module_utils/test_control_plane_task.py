# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ControlPlaneTask: how a control-plane module run calls AWS, waits and fails.

The task runs inside a real AnsibleAWSModule; its client is a real botocore client whose answers come from a
Stubber, wrapped with the collection's retry decorator as cloudhsm_client wraps it.
"""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest
from botocore.stub import Stubber

from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

from ansible_collections.hsmops.cloudhsm.plugins.module_utils import cloudhsm
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import RETRY_DECORATOR
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import CloudHsmError
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import ControlPlaneTask
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import get_cluster
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.cloudhsm import wait_for_cluster

CLUSTER_ID = "cluster-abcdefghijk"
HSM = {"HsmId": "hsm-abcdefghijk", "ClusterId": CLUSTER_ID, "AvailabilityZone": "us-east-1a", "State": "CREATE_IN_PROGRESS"}


class HsmAdder(ControlPlaneTask):
    """A task the size of a module: adds HSMs and reports the ones it made."""

    def __init__(self, module, client):
        super(HsmAdder, self).__init__(module, client=client)
        self.created = []

    def partial_results(self):
        return dict(created=self.created)

    def add(self, zone):
        hsm = self.call("create_hsm", "create an HSM in %s" % zone, ClusterId=CLUSTER_ID, AvailabilityZone=zone)["Hsm"]
        self.created.append(hsm["HsmId"])


@pytest.fixture
def sleeps(monkeypatch):
    """The backoff sleeps of AWSRetry and of the waiter, recorded instead of slept."""
    recorded = []
    now = [0.0]

    def sleep(seconds):
        recorded.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(cloud.time, "sleep", sleep)
    monkeypatch.setattr(cloudhsm, "_sleep", sleep)
    monkeypatch.setattr(cloudhsm, "_clock", lambda: now[0])
    return recorded


@pytest.fixture
def stubbed():
    """(the client as the task gets it, its Stubber)."""
    raw = boto3.client("cloudhsmv2", region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    with Stubber(raw) as stubber:
        yield RetryingBotoClientWrapper(raw, RETRY_DECORATOR), stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def module():
    with patch_module_args({"region": "us-east-1"}):
        yield AnsibleAWSModule(argument_spec={}, supports_check_mode=True)


def failure(capsys, action):
    """Run action, which must fail the module; returns the failure result."""
    with pytest.raises(SystemExit):
        action()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    return result


def refuse(stubber, operation, code, times=1):
    for _attempt in range(times):
        stubber.add_client_error(operation, service_error_code=code, service_message="%s says no" % code)


def test_a_failure_after_a_change_reports_changed_and_what_was_done(module, stubbed, capsys, sleeps):
    client, stubber = stubbed
    stubber.add_response("create_hsm", {"Hsm": HSM})
    refuse(stubber, "create_hsm", "CloudHsmAccessDeniedException")
    task = HsmAdder(module, client)
    task.add("us-east-1a")
    result = failure(capsys, lambda: task.add("us-east-1b"))
    assert result["changed"] is True
    assert result["created"] == ["hsm-abcdefghijk"]
    assert result["msg"].startswith("Failed to create an HSM in us-east-1b (CreateHsm): ")
    assert "CloudHsmAccessDeniedException says no" in result["msg"]
    assert result["error"]["code"] == "CloudHsmAccessDeniedException"


def test_a_failure_before_any_change_reports_unchanged(module, stubbed, capsys, sleeps):
    client, stubber = stubbed
    refuse(stubber, "create_hsm", "CloudHsmInvalidRequestException")
    task = HsmAdder(module, client)
    result = failure(capsys, lambda: task.add("us-east-1a"))
    assert result["changed"] is False
    assert result["created"] == []


def test_a_refusal_reports_changed_and_partial_results(module, stubbed, capsys, sleeps):
    client, stubber = stubbed
    task = HsmAdder(module, client)
    before = failure(capsys, lambda: task.fail("Cluster %s is DEGRADED." % CLUSTER_ID))
    assert before == dict(before, changed=False, created=[], msg="Cluster %s is DEGRADED." % CLUSTER_ID)
    stubber.add_response("create_hsm", {"Hsm": HSM})
    task.add("us-east-1a")
    after = failure(capsys, lambda: task.fail("Later refusal.", hint="extra keys are kept"))
    assert after["changed"] is True and after["created"] == ["hsm-abcdefghijk"]
    assert after["hint"] == "extra keys are kept"


def test_a_read_does_not_count_as_a_change(module, stubbed, capsys, sleeps):
    client, stubber = stubbed
    stubber.add_response("describe_clusters", {"Clusters": []})
    task = HsmAdder(module, client)
    assert task.call("describe_clusters") == {"Clusters": []}
    assert task.changed is False


def test_throttling_is_retried_with_backoff_in_call_and_in_look_ups(module, stubbed, capsys, sleeps):
    client, stubber = stubbed
    refuse(stubber, "create_hsm", "ThrottlingException", times=2)
    stubber.add_response("create_hsm", {"Hsm": HSM})
    refuse(stubber, "describe_clusters", "CloudHsmInternalFailureException")
    refuse(stubber, "describe_clusters", "ThrottlingException")
    stubber.add_response("describe_clusters", {"Clusters": [{"ClusterId": CLUSTER_ID, "State": "ACTIVE"}]})
    task = HsmAdder(module, client)
    task.add("us-east-1a")
    assert task.created == ["hsm-abcdefghijk"]
    assert len(sleeps) == 2
    cluster = task.look_up("describe cluster %s" % CLUSTER_ID, get_cluster, task.client, CLUSTER_ID)
    assert cluster["State"] == "ACTIVE"
    assert len(sleeps) == 4


def test_throttling_that_does_not_stop_fails_naming_the_operation(module, stubbed, capsys, sleeps):
    client, stubber = stubbed
    refuse(stubber, "describe_clusters", "ThrottlingException", times=10)
    task = HsmAdder(module, client)
    result = failure(capsys, lambda: task.look_up("describe cluster %s" % CLUSTER_ID, get_cluster, task.client, CLUSTER_ID))
    assert len(sleeps) == 9  # RETRY_DECORATOR: ten attempts, a backoff before each but the first
    assert result["msg"].startswith("Failed to describe cluster %s (DescribeClusters): " % CLUSTER_ID)
    assert result["changed"] is False


def test_errors_without_an_aws_answer_still_name_the_operation(module, capsys, sleeps):
    class Unreachable:
        meta = boto3.client("cloudhsmv2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").meta

        def delete_backup(self, **params):
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://cloudhsmv2.us-east-1.amazonaws.com/")

    task = ControlPlaneTask(module, client=Unreachable())
    result = failure(capsys, lambda: task.call("delete_backup", "delete backup backup-abcdefghijk", BackupId="x"))
    assert result["msg"].startswith("Failed to delete backup backup-abcdefghijk (DeleteBackup): Could not connect")


def test_refusals_explain_modeled_errors_and_ignored_codes_return_none(module, stubbed, capsys, sleeps):
    client, stubber = stubbed
    refuse(stubber, "delete_hsm", "CloudHsmResourceNotFoundException")
    refuse(stubber, "initialize_cluster", "CloudHsmInvalidRequestException")
    task = HsmAdder(module, client)
    gone = task.call("delete_hsm", ignore_codes=("CloudHsmResourceNotFoundException",), ClusterId=CLUSTER_ID,
                     HsmId="hsm-abcdefghijk")
    assert gone is None and task.changed is False
    result = failure(capsys, lambda: task.call(
        "initialize_cluster", "initialize the cluster",
        refusals={"CloudHsmInvalidRequestException": "The cluster refused the certificates"},
        ClusterId=CLUSTER_ID, SignedCert="x", TrustAnchor="y"))
    assert result["msg"].startswith("The cluster refused the certificates (InitializeCluster): ")


def test_a_wait_that_ends_badly_fails_with_the_waiters_message_and_the_partial_result(module, stubbed, capsys, sleeps):
    client, stubber = stubbed
    stubber.add_response("create_hsm", {"Hsm": HSM})
    stubber.add_response("describe_clusters", {"Clusters": [{"ClusterId": CLUSTER_ID, "State": "DEGRADED"}]})
    task = HsmAdder(module, client)
    task.add("us-east-1a")
    result = failure(capsys, lambda: task.wait("cluster %s" % CLUSTER_ID, wait_for_cluster, task.client, CLUSTER_ID,
                                               ("ACTIVE",), 60))
    assert result["msg"].startswith("cluster %s is in state DEGRADED while waiting for ACTIVE" % CLUSTER_ID)
    assert result["changed"] is True and result["created"] == ["hsm-abcdefghijk"]


def test_an_aws_error_while_waiting_names_what_was_awaited_and_the_operation(module, stubbed, capsys, sleeps):
    client, stubber = stubbed
    refuse(stubber, "describe_clusters", "CloudHsmAccessDeniedException")
    task = HsmAdder(module, client)
    result = failure(capsys, lambda: task.wait("cluster %s" % CLUSTER_ID, wait_for_cluster, task.client, CLUSTER_ID,
                                               ("ACTIVE",), 60))
    assert result["msg"].startswith("Failed while waiting for cluster %s (DescribeClusters): " % CLUSTER_ID)
    assert result["changed"] is False


def test_wait_failed_is_where_a_task_takes_over_a_failed_wait(module, capsys, sleeps):
    class Resuming(ControlPlaneTask):
        def wait_failed(self, error):
            self.fail("took over: %s" % error, resumed=True)

    def waiter():
        raise CloudHsmError("backup x is in state DELETED")

    result = failure(capsys, lambda: Resuming(module, client=object()).wait("backup x", waiter))
    assert result["msg"] == "took over: backup x is in state DELETED" and result["resumed"] is True


def test_tags_are_reconciled_through_call_and_count_as_a_change(module, stubbed, capsys, sleeps):
    client, stubber = stubbed
    stubber.add_response("untag_resource", {}, {"ResourceId": CLUSTER_ID, "TagKeyList": ["old"]})
    stubber.add_response("tag_resource", {}, {"ResourceId": CLUSTER_ID, "TagList": [{"Key": "new", "Value": "1"}]})
    task = HsmAdder(module, client)
    assert task.reconcile_tags(CLUSTER_ID, {"old": "x", "kept": "y"}, {"kept": "y", "new": "1"}, True) is True
    assert task.changed is True
    assert task.reconcile_tags(CLUSTER_ID, {"kept": "y"}, {"kept": "y"}, True) is False
    assert task.reconcile_tags(CLUSTER_ID, {"kept": "y"}, None, True) is False
