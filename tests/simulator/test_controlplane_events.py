"""Decorator mode (moto's mock_aws in this process): install(), the events the control plane emits, and the
Python functions the data plane calls."""

import boto3
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from moto import mock_aws

from cloudhsm_sim import controlplane, events
from cloudhsm_sim.controlplane import transitions


class Recorder:
    NAMES = ("cluster_created", "cluster_initialized", "cluster_deleted", "hsm_created", "hsm_deleted",
             "backup_created", "backup_copied", "reset")

    def __init__(self):
        self.seen = []
        for name in self.NAMES:
            events.subscribe(name, getattr(self, "on_" + name))

    def __getattr__(self, attribute):
        if not attribute.startswith("on_"):
            raise AttributeError(attribute)
        name = attribute[3:]

        def record(**kwargs):
            self.seen.append((name, kwargs))

        # Bound once, so subscribe() sees the same callback and stays idempotent across tests.
        setattr(self, attribute, record)
        return record

    def names(self):
        return [name for name, unused_record in self.seen]


RECORDER = Recorder()


@pytest.fixture
def mocked():
    RECORDER.seen.clear()
    transitions.reset()
    with mock_aws():
        controlplane.install()
        controlplane.install()  # idempotent
        yield
    transitions.reset()


def _subnets(region):
    ec2 = boto3.client("ec2", region_name=region)
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    return [ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.{0}.0/24".format(i), AvailabilityZone=zone)["Subnet"]
            for i, zone in enumerate(zones)]


def test_events_and_data_plane_functions(mocked, ca):
    assert controlplane.installed()
    client = boto3.client("cloudhsmv2", region_name="us-east-1")
    subnets = _subnets("us-east-1")
    cluster_id = client.create_cluster(HsmType="hsm2m.medium", Mode="NON_FIPS",
                                       SubnetIds=[s["SubnetId"] for s in subnets])["Cluster"]["ClusterId"]
    assert RECORDER.seen[-1] == ("cluster_created", {
        "account": "123456789012", "region": "us-east-1", "cluster_id": cluster_id, "hsm_type": "hsm2m.medium",
        "mode": "NON_FIPS", "source_backup_id": None})
    hsm = client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[0]["AvailabilityZone"])["Hsm"]
    assert RECORDER.seen[-1] == ("hsm_created", {
        "account": "123456789012", "region": "us-east-1", "cluster_id": cluster_id, "hsm_id": hsm["HsmId"],
        "eni_ip": hsm["EniIp"], "availability_zone": subnets[0]["AvailabilityZone"]})
    assert controlplane.find_hsm_by_ip(hsm["EniIp"]) == {
        "account": "123456789012", "region": "us-east-1", "cluster_id": cluster_id, "hsm_id": hsm["HsmId"],
        "state": "ACTIVE"}
    assert controlplane.find_hsm_by_ip("10.99.99.99") is None

    described = controlplane.describe_cluster(cluster_id)
    assert described["State"] == "UNINITIALIZED" and described["TrustAnchor"] is None
    csr = x509.load_pem_x509_csr(described["Certificates"]["ClusterCsr"].encode())
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value.endswith(", for NON-FIPS mode")
    with pytest.raises(controlplane.SimulatorError):
        controlplane.activate_cluster(cluster_id)
    client.initialize_cluster(ClusterId=cluster_id, SignedCert=ca.sign(described["Certificates"]["ClusterCsr"]),
                              TrustAnchor=ca.pem)
    assert "cluster_initialized" not in RECORDER.names()  # only once the transition completes
    assert controlplane.describe_cluster(cluster_id)["TrustAnchor"] == ca.pem
    assert RECORDER.seen[-1] == ("cluster_initialized",
                                 {"account": "123456789012", "region": "us-east-1", "cluster_id": cluster_id})

    with pytest.raises(controlplane.SimulatorError):
        controlplane.take_backup(cluster_id)  # not ACTIVE yet
    assert controlplane.activate_cluster(cluster_id)["State"] == "ACTIVE"
    name, activation = RECORDER.seen[-1]
    assert name == "backup_created" and activation["cluster_id"] == cluster_id
    on_demand = controlplane.take_backup(cluster_id)
    assert RECORDER.seen[-1] == ("backup_created", {"account": "123456789012", "region": "us-east-1",
                                                    "cluster_id": cluster_id, "backup_id": on_demand["BackupId"]})

    second = client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[1]["AvailabilityZone"])["Hsm"]
    assert RECORDER.names()[-2:] == ["backup_created", "hsm_created"]
    client.copy_backup_to_region(BackupId=activation["backup_id"], DestinationRegion="eu-west-1")
    copy_id = boto3.client("cloudhsmv2", region_name="eu-west-1").describe_backups()["Backups"][0]["BackupId"]
    assert RECORDER.seen[-1] == ("backup_copied", {
        "account": "123456789012", "region": "eu-west-1", "cluster_id": cluster_id,
        "source_backup_id": activation["backup_id"], "source_region": "us-east-1", "backup_id": copy_id})

    clone_subnets = _subnets("eu-west-1")
    clone_id = boto3.client("cloudhsmv2", region_name="eu-west-1").create_cluster(
        HsmType="hsm2m.medium", SubnetIds=[clone_subnets[0]["SubnetId"]], SourceBackupId=copy_id)["Cluster"]["ClusterId"]
    assert RECORDER.seen[-1] == ("cluster_created", {
        "account": "123456789012", "region": "eu-west-1", "cluster_id": clone_id, "hsm_type": "hsm2m.medium",
        "mode": "NON_FIPS", "source_backup_id": copy_id})

    for hsm_id in (hsm["HsmId"], second["HsmId"]):
        client.delete_hsm(ClusterId=cluster_id, HsmId=hsm_id)
        assert RECORDER.seen[-1][0] == "hsm_deleted" and RECORDER.seen[-1][1]["hsm_id"] == hsm_id
    client.describe_clusters()
    client.delete_cluster(ClusterId=cluster_id)
    assert client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"] == []
    assert RECORDER.seen[-1] == ("cluster_deleted",
                                 {"account": "123456789012", "region": "us-east-1", "cluster_id": cluster_id})

    controlplane.reset()
    assert RECORDER.seen[-1] == ("reset", {})
    assert controlplane.describe_cluster(clone_id) is None


def test_subscriber_may_call_back_in(mocked):
    """Events are emitted after the control plane lets go of its lock, so a subscriber can query it."""
    answers = []

    def on_hsm_created(**event):
        answers.append(controlplane.find_hsm_by_ip(event["eni_ip"]))

    events.subscribe("hsm_created", on_hsm_created)
    try:
        client = boto3.client("cloudhsmv2", region_name="us-east-2")
        subnets = _subnets("us-east-2")
        cluster_id = client.create_cluster(HsmType="hsm2m.medium", Mode="FIPS",
                                           SubnetIds=[subnets[0]["SubnetId"]])["Cluster"]["ClusterId"]
        client.describe_clusters()
        client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[0]["AvailabilityZone"])
    finally:
        events._listeners["hsm_created"].remove(on_hsm_created)
    assert len(answers) == 1 and answers[0]["cluster_id"] == cluster_id
