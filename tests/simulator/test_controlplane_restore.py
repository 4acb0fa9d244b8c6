"""Regressions for behaviours seen when AWS clients were replayed against the simulator (docs/simulator.md):

- a cluster created from a backup goes CREATE_IN_PROGRESS -> ACTIVE with no HSM, takes HSMs in all its zones at
  once, and those HSMs hold the backup's users, keys and masking key;
- CopyBackupToRegion without TagList copies the source backup's tags, with TagList only those;
- a request for a region that does not exist gets an AWS-style client error naming the region, not an HTTP 500.
"""

import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudhsm_sim.tools.common import HsmClient

NO_RETRIES = Config(retries={"total_max_attempts": 1})
PASSWORD = "Admin-Pass123"


def _describe(client, cluster_id):
    return client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]


def _wait(check, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, "condition not reached in %ss" % timeout
            return value
        time.sleep(0.05)


def _copy(sim, region, backup, destination, **kwargs):
    sim.client(region).copy_backup_to_region(BackupId=backup["BackupId"], DestinationRegion=destination, **kwargs)
    west = sim.client(destination)
    return _wait(lambda: [b for b in west.describe_backups(Filters={"sourceBackupIds": [backup["BackupId"]]})["Backups"]
                          if b["BackupState"] == "READY"])[0]


def test_restored_cluster_is_active_without_hsms_and_takes_all_zones_at_once(sim, ca, tmp_path, monkeypatch):
    east = sim.client("us-east-1")
    cluster, subnets = sim.create_cluster("us-east-1")
    cluster_id = cluster["ClusterId"]
    east.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[0]["AvailabilityZone"])
    source_ip = _wait(lambda: [h for h in _describe(east, cluster_id)["Hsms"] if h["State"] == "ACTIVE"])[0]["EniIp"]
    csr = _describe(east, cluster_id)["Certificates"]["ClusterCsr"]
    east.initialize_cluster(ClusterId=cluster_id, SignedCert=ca.sign(csr), TrustAnchor=ca.pem)
    sim.wait_cluster(east, cluster_id, "INITIALIZED")

    # Users and a key on the source, through the HSM API the client tools use; then a backup holding them.
    monkeypatch.setenv("CLOUDHSM_SIM_ENDPOINT", sim.endpoint)
    hsm = HsmClient(str(tmp_path))
    hsm.call("activate", hsm=source_ip, password=PASSWORD)
    officer = hsm.call("login", hsm=source_ip, role="CO", username="admin", password=PASSWORD)["session"]
    hsm.call("create_user", hsm=source_ip, session=officer, role="CU", username="restored_cu", password=PASSWORD)
    user = hsm.call("login", hsm=source_ip, role="CU", username="restored_cu", password=PASSWORD)["session"]
    kept = hsm.call("generate_key", hsm=source_ip, session=user, key_type="aes", size=32, label="kept")["key"]
    backup = sim.take_backup(cluster_id)
    _wait(lambda: east.describe_backups(Filters={"backupIds": [backup["BackupId"]]})["Backups"][0]["BackupState"]
          == "READY")
    copy = _copy(sim, "us-east-1", backup, "us-west-2")

    # Slow cluster creation shows the in-progress state; then ACTIVE straight away, with no HSM.
    sim.transitions(cluster_create=0.5)
    west = sim.client("us-west-2")
    west_subnets = sim.subnets("us-west-2", 3)
    restored = west.create_cluster(HsmType="hsm2m.medium", SubnetIds=[s["SubnetId"] for s in west_subnets],
                                   SourceBackupId=copy["BackupId"])["Cluster"]
    assert restored["State"] == "CREATE_IN_PROGRESS"
    assert _describe(west, restored["ClusterId"])["State"] == "CREATE_IN_PROGRESS"
    active = sim.wait_cluster(west, restored["ClusterId"], "ACTIVE")
    assert active["Hsms"] == [] and "ClusterCsr" not in active["Certificates"]
    assert active["Certificates"]["ClusterCertificate"] == _describe(east, cluster_id)["Certificates"]["ClusterCertificate"]
    with pytest.raises(west.exceptions.CloudHsmInvalidRequestException):
        west.initialize_cluster(ClusterId=restored["ClusterId"], SignedCert="x", TrustAnchor="y")

    # Being ACTIVE, it accepts an HSM in every zone at once (a cluster that is not ACTIVE takes one).
    zones = [s["AvailabilityZone"] for s in west_subnets]
    created = [west.create_hsm(ClusterId=restored["ClusterId"], AvailabilityZone=zone)["Hsm"] for zone in zones]
    assert [h["State"] for h in created] == ["CREATE_IN_PROGRESS"] * 3

    def all_active():
        cluster = _describe(west, restored["ClusterId"])
        return cluster if [h["State"] for h in cluster["Hsms"]] == ["ACTIVE"] * 3 else None

    grown = _wait(all_active)
    assert grown["State"] == "ACTIVE" and sorted(h["AvailabilityZone"] for h in grown["Hsms"]) == sorted(zones)

    # Every new HSM holds the backup's users and key, under the source's masking key.
    for member in grown["Hsms"]:
        names = {u["name"] for u in hsm.call("list_users", hsm=member["EniIp"])["users"]}
        assert {"admin", "restored_cu"} <= names
    clone_ip = grown["Hsms"][0]["EniIp"]
    clone_user = hsm.call("login", hsm=clone_ip, role="CU", username="restored_cu", password=PASSWORD)["session"]
    labels = [k["label"] for k in hsm.call("list_keys", hsm=clone_ip, session=clone_user)["keys"]]
    assert labels == ["kept"], labels
    later = hsm.call("generate_key", hsm=source_ip, session=user, key_type="aes", size=16, label="later")["key"]
    synced = hsm.call("sync_key", hsm=source_ip, session=user, dest_hsm=clone_ip, dest_session=clone_user,
                      handle=later["handle"])["key"]
    assert synced["handle"] == later["handle"] and later["handle"] != kept["handle"]
    hsm.close()


def test_copy_without_tags_copies_the_source_tags(sim, ca):
    source = sim.active_cluster(ca, "eu-west-3")
    client = sim.client("eu-west-3")
    backup = client.describe_backups(Filters={"clusterIds": [source["ClusterId"]]})["Backups"][0]
    client.tag_resource(ResourceId=backup["BackupId"], TagList=[{"Key": "owner", "Value": "dr"},
                                                                {"Key": "tier", "Value": "gold"}])
    copied = _copy(sim, "eu-west-3", backup, "eu-north-1")
    assert sorted(copied["TagList"], key=lambda t: t["Key"]) == [{"Key": "owner", "Value": "dr"},
                                                                 {"Key": "tier", "Value": "gold"}]
    north = sim.client("eu-north-1")
    assert len(north.list_tags(ResourceId=copied["BackupId"])["TagList"]) == 2
    # With TagList: only those tags.
    only = _copy(sim, "eu-west-3", backup, "eu-south-1", TagList=[{"Key": "copy", "Value": "yes"}])
    assert only["TagList"] == [{"Key": "copy", "Value": "yes"}]
    # The copy's tags are its own: changing them leaves the source alone.
    north.untag_resource(ResourceId=copied["BackupId"], TagKeyList=["owner"])
    assert len(client.list_tags(ResourceId=backup["BackupId"])["TagList"]) == 2


@pytest.mark.parametrize("service", ["cloudhsmv2", "ec2", "kms"])
def test_unknown_region_is_a_client_error_naming_it(sim, service):
    client = boto3.client(service, region_name="xx-nowhere-7", endpoint_url=sim.endpoint, config=NO_RETRIES)
    call = {"cloudhsmv2": "describe_clusters", "ec2": "describe_vpcs", "kms": "list_keys"}[service]
    with pytest.raises(ClientError) as raised:
        getattr(client, call)()
    error = raised.value.response
    assert 400 <= error["ResponseMetadata"]["HTTPStatusCode"] < 500
    assert error["Error"]["Code"] in ("InvalidSignatureException", "SignatureDoesNotMatch")
    assert "xx-nowhere-7" in error["Error"]["Message"]
    last = sim.requests()[-1]
    assert last["region"] == "xx-nowhere-7" and 400 <= last["status"] < 500


def test_unknown_region_raw_request_is_not_an_html_page(sim):
    scope = "Credential=testing/20261207/xx-nowhere-7/cloudhsm/aws4_request, SignedHeaders=host, Signature=00"
    request = urllib.request.Request(sim.endpoint + "/", data=b"{}", method="POST", headers={
        "Authorization": "AWS4-HMAC-SHA256 " + scope, "X-Amz-Target": "BaldrApiService.DescribeClusters",
        "Content-Type": "application/x-amz-json-1.1"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    body = raised.value.read().decode()
    assert raised.value.code == 400 and "<html" not in body.lower() and "xx-nowhere-7" in body
