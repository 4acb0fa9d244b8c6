"""Canary: the simulator handles every cloudhsmv2 operation botocore knows, and moto's own coverage is what the
simulator was built against (an upstream change shows up here first)."""

import botocore.session
import pytest
from botocore import xform_name
from moto.cloudhsmv2.responses import CloudHSMV2Response

from cloudhsm_sim.controlplane import install, installed
from cloudhsm_sim.controlplane.install import MOTO_OPERATIONS, moto_native_operations
from cloudhsm_sim.controlplane.responses import HANDLERS

BOTOCORE_OPERATIONS = set(botocore.session.get_session().get_service_model("cloudhsmv2").operation_names)


def test_handlers_cover_botocore_model():
    assert len(BOTOCORE_OPERATIONS) == 18
    assert set(HANDLERS) == BOTOCORE_OPERATIONS


def test_moto_coverage_is_the_one_patched():
    assert set(moto_native_operations()) == MOTO_OPERATIONS
    install()
    assert installed()
    for operation in BOTOCORE_OPERATIONS:
        assert getattr(getattr(CloudHSMV2Response, xform_name(operation)), "cloudhsm_sim", False), operation


@pytest.mark.parametrize("operation", sorted(BOTOCORE_OPERATIONS))
def test_every_operation_answers_with_a_modeled_result(sim, operation):
    """Each operation, called with a well-formed request for a missing resource (or an empty listing), answers with
    a modeled error or result instead of moto's 500 for unimplemented actions."""
    client = sim.client("us-east-1")
    arn = "arn:aws:cloudhsm:us-east-1:123456789012:backup/backup-aaaaaaaaaaa"
    requests = {
        "CopyBackupToRegion": dict(DestinationRegion="us-west-2", BackupId="backup-aaaaaaaaaaa"),
        "CreateCluster": dict(HsmType="hsm2m.medium", SubnetIds=["subnet-0123456789abcdef0"], Mode="FIPS"),
        "CreateHsm": dict(ClusterId="cluster-aaaaaaaaaaa", AvailabilityZone="us-east-1a"),
        "DeleteBackup": dict(BackupId="backup-aaaaaaaaaaa"),
        "DeleteCluster": dict(ClusterId="cluster-aaaaaaaaaaa"),
        "DeleteHsm": dict(ClusterId="cluster-aaaaaaaaaaa", HsmId="hsm-aaaaaaaaaaa"),
        "DeleteResourcePolicy": dict(ResourceArn=arn),
        "DescribeBackups": dict(Filters={"backupIds": ["backup-aaaaaaaaaaa"]}),
        "DescribeClusters": dict(Filters={"clusterIds": ["cluster-aaaaaaaaaaa"]}),
        "GetResourcePolicy": dict(ResourceArn=arn),
        "InitializeCluster": dict(ClusterId="cluster-aaaaaaaaaaa", SignedCert="x", TrustAnchor="y"),
        "ListTags": dict(ResourceId="cluster-aaaaaaaaaaa"),
        "ModifyBackupAttributes": dict(BackupId="backup-aaaaaaaaaaa", NeverExpires=True),
        "ModifyCluster": dict(ClusterId="cluster-aaaaaaaaaaa", HsmType="hsm2m.medium"),
        "PutResourcePolicy": dict(ResourceArn=arn, Policy="{}"),
        "RestoreBackup": dict(BackupId="backup-aaaaaaaaaaa"),
        "TagResource": dict(ResourceId="cluster-aaaaaaaaaaa", TagList=[{"Key": "k", "Value": "v"}]),
        "UntagResource": dict(ResourceId="cluster-aaaaaaaaaaa", TagKeyList=["k"]),
    }
    method = getattr(client, xform_name(operation))
    if operation in ("DescribeBackups", "DescribeClusters"):
        key = "Backups" if operation == "DescribeBackups" else "Clusters"
        assert method(**requests[operation])[key] == []
        return
    expected = "CloudHsmInvalidRequestException" if operation == "CreateCluster" else "CloudHsmResourceNotFoundException"
    with pytest.raises(getattr(client.exceptions, expected)):
        method(**requests[operation])


def test_faults_do_not_import_the_control_plane():
    """Faults reach the control plane through a hook the server installs, never by importing it (no import circle)."""
    import subprocess
    import sys

    code = "import sys, cloudhsm_sim.faults; sys.exit('cloudhsm_sim.controlplane' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
