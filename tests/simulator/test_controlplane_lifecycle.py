"""Cluster and HSM lifecycle through the running simulator: ids, states, CSR, InitializeCluster, activation, deletion."""

import datetime
import re

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from cryptography import x509

ID_RE = {
    "cluster": re.compile(r"^cluster-[a-z2-7]{11}$"),
    "hsm": re.compile(r"^hsm-[a-z2-7]{11}$"),
    "backup": re.compile(r"^backup-[a-z2-7]{11}$"),
}
EXACT_SECOND_HSM = "Cluster '{0}' already contains an HSM but has not yet been fully activated"


def test_create_cluster_returns_real_shapes(sim):
    client = sim.client("us-east-1")
    ec2 = sim.client("us-east-1", "ec2")
    subnets = sim.subnets("us-east-1", 2)
    cluster = client.create_cluster(
        HsmType="hsm2m.medium", Mode="FIPS", SubnetIds=[s["SubnetId"] for s in subnets],
        TagList=[{"Key": "Name", "Value": "primary"}],
    )["Cluster"]

    assert ID_RE["cluster"].match(cluster["ClusterId"])
    assert cluster["State"] == "CREATE_IN_PROGRESS"
    assert cluster["BackupRetentionPolicy"] == {"Type": "DAYS", "Value": "90"}
    assert cluster["BackupPolicy"] == "DEFAULT"
    assert cluster["NetworkType"] == "IPV4"
    assert cluster["Mode"] == "FIPS"
    assert cluster["Hsms"] == [] and cluster["Certificates"] == {}
    assert cluster["SubnetMapping"] == {s["AvailabilityZone"]: s["SubnetId"] for s in subnets}
    assert cluster["VpcId"] == subnets[0]["VpcId"]
    assert isinstance(cluster["CreateTimestamp"], datetime.datetime) and cluster["CreateTimestamp"].tzinfo
    groups = ec2.describe_security_groups(GroupIds=[cluster["SecurityGroup"]])["SecurityGroups"]
    assert groups[0]["VpcId"] == subnets[0]["VpcId"]
    assert cluster["TagList"] == [{"Key": "Name", "Value": "primary"}]
    assert client.list_tags(ResourceId=cluster["ClusterId"])["TagList"] == [{"Key": "Name", "Value": "primary"}]
    sim.wait_cluster(client, cluster["ClusterId"], "UNINITIALIZED")


def test_create_cluster_validation(sim):
    client = sim.client("us-east-1")
    subnets = sim.subnets("us-east-1", 2)
    ec2 = sim.client("us-east-1", "ec2")
    same_az = ec2.create_subnet(VpcId=subnets[0]["VpcId"], CidrBlock=subnets[0]["CidrBlock"].replace(".0.0/", ".9.0/"),
                                AvailabilityZone=subnets[0]["AvailabilityZone"])["Subnet"]
    cases = [
        (dict(HsmType="hsm2m.medium", Mode="FIPS", SubnetIds=[subnets[0]["SubnetId"], same_az["SubnetId"]]),
         "both in availability zone"),
        (dict(HsmType="hsm2m.medium", SubnetIds=[subnets[0]["SubnetId"]]), "Mode is required"),
        (dict(HsmType="hsm9.huge", Mode="FIPS", SubnetIds=[subnets[0]["SubnetId"]]), "not supported"),
        (dict(HsmType="hsm2m.medium", Mode="FIPS", SubnetIds=["subnet-0123456789abcdef0"]), "does not exist"),
        (dict(HsmType="hsm2m.medium", Mode="FIPS", SubnetIds=[subnets[0]["SubnetId"]],
              BackupRetentionPolicy={"Type": "DAYS", "Value": "400"}), "between 7 and 379"),
        (dict(HsmType="hsm2m.medium", Mode="FIPS", SubnetIds=[subnets[0]["SubnetId"]],
              SourceBackupId="backup-aaaaaaaaaaa"), None),
    ]
    for kwargs, message in cases:
        with pytest.raises(ClientError) as raised:
            client.create_cluster(**kwargs)
        error = raised.value.response["Error"]
        if message is None:
            assert error["Code"] == "CloudHsmResourceNotFoundException"
        else:
            assert error["Code"] == "CloudHsmInvalidRequestException", error
            assert message in error["Message"]
    # hsm1.medium needs no Mode (the documented exception) and reports none.
    legacy = client.create_cluster(HsmType="hsm1.medium", SubnetIds=[subnets[1]["SubnetId"]])["Cluster"]
    assert "Mode" not in legacy


def test_full_lifecycle(sim, ca, make_ca):
    client = sim.client("us-west-2")
    ec2 = sim.client("us-west-2", "ec2")
    cluster, subnets = sim.create_cluster("us-west-2")
    cluster_id = cluster["ClusterId"]
    zone = subnets[0]["AvailabilityZone"]
    assert "ClusterCsr" not in sim.wait_cluster(client, cluster_id, "UNINITIALIZED")["Certificates"]

    wanted_ip = subnets[0]["CidrBlock"].rsplit(".", 1)[0] + ".77"
    hsm = client.create_hsm(ClusterId=cluster_id, AvailabilityZone=zone, IpAddress=wanted_ip)["Hsm"]
    assert ID_RE["hsm"].match(hsm["HsmId"])
    assert hsm["State"] == "CREATE_IN_PROGRESS"
    assert hsm["EniIp"] == wanted_ip and hsm["SubnetId"] == subnets[0]["SubnetId"]
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[hsm["EniId"]])["NetworkInterfaces"][0]
    assert eni["PrivateIpAddress"] == wanted_ip
    assert [group["GroupId"] for group in eni["Groups"]] == [cluster["SecurityGroup"]]

    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException) as raised:
        client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[1]["AvailabilityZone"])
    assert raised.value.response["Error"]["Message"] == EXACT_SECOND_HSM.format(cluster_id)

    described = sim.wait_cluster(client, cluster_id, "UNINITIALIZED")
    assert described["Hsms"][0]["State"] == "ACTIVE"
    assert described["Hsms"][0]["StateMessage"] == "HSM created."
    certificates = described["Certificates"]
    assert set(certificates) == {"ClusterCsr", "HsmCertificate", "AwsHardwareCertificate",
                                 "ManufacturerHardwareCertificate"}
    csr = x509.load_pem_x509_csr(certificates["ClusterCsr"].encode())
    assert csr.is_signature_valid and csr.public_key().key_size == 2048
    subject = csr.subject.rfc4514_string()
    assert "O=Marvell" in subject and re.search(r"CN=HSM:RCN\d{4}B\d{5}:PARTN:\d+\\, for FIPS mode", subject)

    # A certificate for another key, a certificate from an untrusted CA, a trust anchor without Basic Constraints.
    other_key = make_ca("unrelated").key.public_key()
    wrong_cases = [
        (ca.sign(certificates["ClusterCsr"], public_key=other_key), ca.pem, "does not certify the public key"),
        (make_ca("Other CA").sign(certificates["ClusterCsr"]), ca.pem, "was not issued by the TrustAnchor"),
        (ca.sign(certificates["ClusterCsr"]), "not a certificate", "PEM-encoded"),
    ]
    no_constraints = make_ca("Plain CA", extensions="no-basic-constraints")
    wrong_cases.append((no_constraints.sign(certificates["ClusterCsr"]), no_constraints.pem, "Basic Constraints"))
    for signed, anchor, message in wrong_cases:
        with pytest.raises(client.exceptions.CloudHsmInvalidRequestException) as raised:
            client.initialize_cluster(ClusterId=cluster_id, SignedCert=signed, TrustAnchor=anchor)
        assert message in raised.value.response["Error"]["Message"]
    assert sim.wait_cluster(client, cluster_id, "UNINITIALIZED")

    signed = ca.sign(certificates["ClusterCsr"])
    answer = client.initialize_cluster(ClusterId=cluster_id, SignedCert=signed, TrustAnchor=ca.pem)
    assert answer["State"] == "INITIALIZE_IN_PROGRESS"
    assert answer["StateMessage"] == "Cluster is initializing. State will change to INITIALIZED upon completion."
    initialized = sim.wait_cluster(client, cluster_id, "INITIALIZED")
    assert initialized["Certificates"] == {"ClusterCertificate": signed}
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException) as raised:
        client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[1]["AvailabilityZone"])
    assert raised.value.response["Error"]["Message"] == EXACT_SECOND_HSM.format(cluster_id)
    assert client.describe_backups(Filters={"clusterIds": [cluster_id]})["Backups"] == []

    # Activation happens on the HSM; the admin API stands in for it and the service takes a backup.
    assert sim.activate(cluster_id)["State"] == "ACTIVE"
    status, body = sim.admin("POST", "/_sim/clusters/{0}/activate".format(cluster_id))
    assert status == 409 and "only an INITIALIZED cluster" in body["error"]
    backups = client.describe_backups(Filters={"clusterIds": [cluster_id]})["Backups"]
    assert len(backups) == 1 and ID_RE["backup"].match(backups[0]["BackupId"])
    assert backups[0]["BackupArn"] == "arn:aws:cloudhsm:us-west-2:123456789012:backup/" + backups[0]["BackupId"]

    second = client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[1]["AvailabilityZone"])["Hsm"]
    assert len(client.describe_backups(Filters={"clusterIds": [cluster_id]})["Backups"]) == 2

    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException) as raised:
        client.delete_cluster(ClusterId=cluster_id)
    assert "delete every HSM" in raised.value.response["Error"]["Message"]

    assert client.delete_hsm(ClusterId=cluster_id, EniIp=wanted_ip)["HsmId"] == hsm["HsmId"]
    assert client.delete_hsm(ClusterId=cluster_id, HsmId=second["HsmId"])["HsmId"] == second["HsmId"]
    assert len(client.describe_backups(Filters={"clusterIds": [cluster_id]})["Backups"]) == 4
    active = sim.wait_cluster(client, cluster_id, "ACTIVE")
    assert active["Hsms"] == []
    with pytest.raises(ClientError):
        ec2.describe_network_interfaces(NetworkInterfaceIds=[hsm["EniId"]])

    deleting = client.delete_cluster(ClusterId=cluster_id)["Cluster"]
    assert deleting["State"] == "DELETE_IN_PROGRESS"
    assert deleting["StateMessage"] == "The cluster is being deleted."
    assert client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"] == []
    # Backups outlive their cluster.
    assert len(client.describe_backups(Filters={"clusterIds": [cluster_id]})["Backups"]) == 4


def test_modeled_errors_and_id_validation(sim):
    client = sim.client("eu-west-1")
    with pytest.raises(client.exceptions.CloudHsmResourceNotFoundException):
        client.create_hsm(ClusterId="cluster-aaaaaaaaaaa", AvailabilityZone="eu-west-1a")
    with pytest.raises(client.exceptions.CloudHsmResourceNotFoundException):
        client.list_tags(ResourceId="backup-aaaaaaaaaaa")
    with pytest.raises(client.exceptions.CloudHsmResourceNotFoundException):
        client.delete_backup(BackupId="backup-aaaaaaaaaaa")
    for call in (
        lambda: client.delete_cluster(ClusterId="cluster-1"),
        lambda: client.list_tags(ResourceId="hsm-aaaaaaaaaaa"),
        lambda: client.restore_backup(BackupId="backup_bad"),
    ):
        with pytest.raises(client.exceptions.CloudHsmInvalidRequestException) as raised:
            call()
        assert "failed to satisfy constraint" in raised.value.response["Error"]["Message"]
    with pytest.raises(ParamValidationError):
        client.describe_clusters(MaxResults=0)


def test_hsm_creation_rules(sim):
    client = sim.client("us-east-2")
    cluster, subnets = sim.create_cluster("us-east-2")
    cluster_id = cluster["ClusterId"]
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException) as raised:
        client.create_hsm(ClusterId=cluster_id, AvailabilityZone="us-east-2c")
    assert "not one of cluster" in raised.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException) as raised:
        client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[0]["AvailabilityZone"], IpAddress="192.0.2.5")
    assert "not a usable address" in raised.value.response["Error"]["Message"]
    first = client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[0]["AvailabilityZone"])["Hsm"]
    assert first["EniIp"].startswith(subnets[0]["CidrBlock"].rsplit(".", 1)[0] + ".")
    # Deleting the only HSM of an uninitialized cluster allows a new first HSM (with a new CSR).
    csr = sim.wait_cluster(client, cluster_id, "UNINITIALIZED")["Certificates"]["ClusterCsr"]
    client.delete_hsm(ClusterId=cluster_id, HsmId=first["HsmId"])
    assert sim.wait_cluster(client, cluster_id, "UNINITIALIZED")["Certificates"] == {}
    client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[1]["AvailabilityZone"])
    assert sim.wait_cluster(client, cluster_id, "UNINITIALIZED")["Certificates"]["ClusterCsr"] != csr
    with pytest.raises(client.exceptions.CloudHsmResourceNotFoundException):
        client.delete_hsm(ClusterId=cluster_id, EniIp="10.255.255.255")
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
        client.delete_hsm(ClusterId=cluster_id)


def test_modify_cluster_retention_and_hsm_type(sim, ca):
    cluster = sim.active_cluster(ca, "ap-southeast-1")
    client = sim.client("ap-southeast-1")
    cluster_id = cluster["ClusterId"]
    modified = client.modify_cluster(ClusterId=cluster_id, BackupRetentionPolicy={"Type": "DAYS", "Value": "7"})
    assert modified["Cluster"]["BackupRetentionPolicy"] == {"Type": "DAYS", "Value": "7"}
    for value in ("6", "380", "x"):
        with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
            client.modify_cluster(ClusterId=cluster_id, BackupRetentionPolicy={"Type": "DAYS", "Value": value})
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException) as raised:
        client.modify_cluster(ClusterId=cluster_id, HsmType="hsm1.medium")
    assert "migration goes from hsm1.medium to hsm2m.medium" in raised.value.response["Error"]["Message"]

    old, subnets = sim.create_cluster("ap-southeast-1", HsmType="hsm1.medium", Mode="FIPS")
    client.create_hsm(ClusterId=old["ClusterId"], AvailabilityZone=subnets[0]["AvailabilityZone"])
    csr = sim.wait_cluster(client, old["ClusterId"], "UNINITIALIZED")["Certificates"]["ClusterCsr"]
    assert "O=Cavium" in x509.load_pem_x509_csr(csr.encode()).subject.rfc4514_string()
    client.initialize_cluster(ClusterId=old["ClusterId"], SignedCert=ca.sign(csr), TrustAnchor=ca.pem)
    sim.wait_cluster(client, old["ClusterId"], "INITIALIZED")
    sim.activate(old["ClusterId"])
    sim.transitions(cluster_modify=0.4)
    migrating = client.modify_cluster(ClusterId=old["ClusterId"], HsmType="hsm2m.medium")["Cluster"]
    assert migrating["State"] == "MODIFY_IN_PROGRESS" and migrating["HsmType"] == "hsm2m.medium"
    assert migrating["HsmTypeRollbackExpiration"] > migrating["CreateTimestamp"]
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
        client.create_hsm(ClusterId=old["ClusterId"], AvailabilityZone=subnets[1]["AvailabilityZone"])
    done = sim.wait_cluster(client, old["ClusterId"], "ACTIVE")
    assert {hsm["HsmType"] for hsm in done["Hsms"]} == {"hsm2m.medium"}
    rollback = client.modify_cluster(ClusterId=old["ClusterId"], HsmType="hsm1.medium")["Cluster"]
    assert rollback["State"] == "ROLLBACK_IN_PROGRESS"
    assert sim.wait_cluster(client, old["ClusterId"], "ACTIVE")["HsmType"] == "hsm1.medium"


def test_describe_clusters_filters_and_pagination(sim):
    client = sim.client("ca-central-1")
    subnets = sim.subnets("ca-central-1", 1)
    made = [
        client.create_cluster(HsmType="hsm2m.medium", Mode="NON_FIPS", SubnetIds=[subnets[0]["SubnetId"]])["Cluster"]
        for unused_cluster in range(27)
    ]
    ids = {cluster["ClusterId"] for cluster in made}
    first = client.describe_clusters()
    assert len(first["Clusters"]) == 25 and first["NextToken"]
    pages = list(client.get_paginator("describe_clusters").paginate(PaginationConfig={"PageSize": 10}))
    assert [len(page["Clusters"]) for page in pages][:2] == [10, 10]
    assert ids <= {c["ClusterId"] for page in pages for c in page["Clusters"]}
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
        client.describe_clusters(MaxResults=26)
    filtered = client.get_paginator("describe_clusters").paginate(
        Filters={"vpcIds": [subnets[0]["VpcId"]], "states": ["UNINITIALIZED"]})
    assert {c["ClusterId"] for page in filtered for c in page["Clusters"]} == ids
    assert client.describe_clusters(Filters={"vpcIds": ["vpc-0000000a"]})["Clusters"] == []
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
        client.describe_clusters(Filters={"names": ["x"]})
