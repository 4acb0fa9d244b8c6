# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared set-up for the control-plane module tests: moto in decorator mode with the simulator's cloudhsmv2
extension, a VPC with subnets per region, and a runner that calls a module's main() and returns its result."""

from __future__ import annotations

import json
import os
import sys

import boto3
import pytest
from botocore.config import Config

from ansible.module_utils.testing import patch_module_args

# The simulator lives next to the collection (it is not shipped in the artifact).
_SIMULATOR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "simulator"))
if os.path.isdir(_SIMULATOR) and _SIMULATOR not in sys.path:
    sys.path.insert(0, _SIMULATOR)

# Imported here, not in the tests: ansible-test runs each test in a forked process, so what the parent has
# imported (moto's EC2 and cloudhsmv2 backends, the simulator) is not imported again for every test.
import moto.ec2.models  # noqa: E402,F401 pylint: disable=unused-import
from moto import mock_aws  # noqa: E402
from cloudhsm_sim import controlplane  # noqa: E402

REGION = "us-east-1"
NO_RETRY = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def aws_env(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def fast_waits(monkeypatch):
    """Waits poll at once instead of sleeping; the recorded sleeps show the backoff."""
    from ansible_collections.hsmops.cloudhsm.plugins.module_utils import cloudhsm

    sleeps = []
    now = [0.0]

    def fake_sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(cloudhsm, "_sleep", fake_sleep)
    monkeypatch.setattr(cloudhsm, "_clock", lambda: now[0])
    return sleeps


@pytest.fixture
def aws(aws_env, fast_waits):
    """moto with the simulator's cloudhsmv2 extension, transitions instant."""
    with mock_aws():
        controlplane.install()
        controlplane.reset()
        yield controlplane
        controlplane.transitions.reset()  # durations a test set must not leak into the next one


def client(service, region=REGION):
    return boto3.client(service, region_name=region, config=NO_RETRY)


def make_subnets(region=REGION, count=2):
    """A VPC with one subnet per availability zone; returns (vpc_id, [subnet ids])."""
    ec2 = client("ec2", region)
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    zones = [zone["ZoneName"] for zone in ec2.describe_availability_zones()["AvailabilityZones"]][:count]
    subnet_ids = []
    for index, zone in enumerate(zones):
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.%d.0/24" % index, AvailabilityZone=zone)
        subnet_ids.append(subnet["Subnet"]["SubnetId"])
    return vpc_id, subnet_ids


def create_cluster(subnet_ids, name=None, region=REGION, tags=None, **extra):
    tag_list = [{"Key": key, "Value": value} for key, value in (tags or {}).items()]
    if name:
        tag_list.append({"Key": "Name", "Value": name})
    params = dict(HsmType="hsm2m.medium", Mode="FIPS", SubnetIds=subnet_ids)
    if tag_list:
        params["TagList"] = tag_list
    params.update(extra)
    return client("cloudhsmv2", region).create_cluster(**params)["Cluster"]


def run_module(main, args, check_mode=False, diff=False, capsys=None):
    """Run a module's main() with args; returns its result dict (with 'failed' on failure)."""
    module_args = dict(args)
    module_args.setdefault("region", REGION)
    if check_mode:
        module_args["_ansible_check_mode"] = True
    if diff:
        module_args["_ansible_diff"] = True
    with patch_module_args(module_args):
        with pytest.raises(SystemExit):
            main()
    out = capsys.readouterr().out
    return json.loads(out)


MUTATING_OPERATIONS = frozenset([
    "CreateCluster", "DeleteCluster", "InitializeCluster", "ModifyCluster", "CreateHsm", "DeleteHsm",
    "CopyBackupToRegion", "DeleteBackup", "RestoreBackup", "ModifyBackupAttributes", "TagResource", "UntagResource",
    "PutResourcePolicy", "DeleteResourcePolicy",
])


@pytest.fixture
def api_calls(monkeypatch):
    """Every cloudhsmv2 operation the code under test calls, as (region, operation name)."""
    from botocore.client import BaseClient

    calls = []
    original = BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if self.meta.service_model.service_name == "cloudhsmv2":
            calls.append((self.meta.region_name, operation_name))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


def mutating(calls):
    return [call for call in calls if call[1] in MUTATING_OPERATIONS]


def make_ca(common_name="Test Issuing CA"):
    """A self-signed RSA CA: (key, certificate)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def sign_csr(csr_pem, ca=None):
    """Sign a cluster CSR; returns (signed certificate PEM, trust anchor PEM)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    ca_key, ca_cert = ca or make_ca()
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM).decode(), ca_cert.public_bytes(Encoding.PEM).decode()


def describe_cluster(cluster_id, region=REGION):
    clusters = client("cloudhsmv2", region).describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"]
    return clusters[0] if clusters else None


def add_hsm(cluster_id, zone, region=REGION):
    return client("cloudhsmv2", region).create_hsm(ClusterId=cluster_id, AvailabilityZone=zone)["Hsm"]


def initialized_cluster(subnets, name="primary", activate=True, region=REGION):
    """A cluster with one ACTIVE HSM, initialized (and activated unless told not to); returns its id."""
    cluster_id = create_cluster(subnets, name=name, region=region)["ClusterId"]
    cluster = describe_cluster(cluster_id, region)
    zone = sorted(cluster["SubnetMapping"])[0]
    add_hsm(cluster_id, zone, region)
    csr = describe_cluster(cluster_id, region)["Certificates"]["ClusterCsr"]
    signed, anchor = sign_csr(csr)
    client("cloudhsmv2", region).initialize_cluster(ClusterId=cluster_id, SignedCert=signed, TrustAnchor=anchor)
    describe_cluster(cluster_id, region)  # completes the instant transition
    if activate:
        controlplane.activate_cluster(cluster_id)
    return cluster_id


@pytest.fixture
def restored_uninitialized(aws, monkeypatch):
    """The older shape of a cluster from a backup: UNINITIALIZED until its first HSM is ACTIVE, then ACTIVE.

    AWS makes such a cluster ACTIVE with no HSM (as the simulator does); the collection still accepts a cluster that
    reports the older shape, and these tests show it.
    """
    from cloudhsm_sim.controlplane import clusters, hsms

    cluster_created, hsm_created = clusters._cluster_created, hsms._hsm_created

    def created_uninitialized(cluster):
        cluster_created(cluster)
        if cluster.source_backup_id:
            cluster.state = "UNINITIALIZED"

    def first_hsm_activates(cluster, hsm):
        hsm_created(cluster, hsm)
        if cluster.source_backup_id and cluster.state == "UNINITIALIZED" and hsm.state == "ACTIVE":
            cluster.state = "ACTIVE"

    monkeypatch.setattr(clusters, "_cluster_created", created_uninitialized)
    monkeypatch.setattr(hsms, "_hsm_created", first_hsm_activates)
    return aws
