"""Backups through the running simulator: copies across regions, clusters from copies, deletion, tags, sharing."""

import json

import boto3
import pytest
from botocore.config import Config

NO_RETRIES = Config(retries={"total_max_attempts": 1})


def _backups(client, **filters):
    return client.describe_backups(Filters=filters)["Backups"] if filters else client.describe_backups()["Backups"]


def test_copy_to_two_regions_and_clone(sim, ca):
    source = sim.active_cluster(ca, "us-east-1")
    east = sim.client("us-east-1")
    backup = _backups(east, clusterIds=[source["ClusterId"]])[0]
    assert backup["BackupState"] == "READY"

    for region in ("us-west-2", "eu-central-1"):
        answer = east.copy_backup_to_region(BackupId=backup["BackupId"], DestinationRegion=region,
                                            TagList=[{"Key": "role", "Value": "dr"}])["DestinationBackup"]
        assert answer == {"CreateTimestamp": backup["CreateTimestamp"], "SourceRegion": "us-east-1",
                          "SourceBackup": backup["BackupId"], "SourceCluster": source["ClusterId"]}
        destination = sim.client(region)
        copies = _backups(destination, sourceBackupIds=[backup["BackupId"]])
        assert len(copies) == 1
        copy = copies[0]
        assert copy["BackupId"] != backup["BackupId"]
        assert copy["BackupArn"].startswith("arn:aws:cloudhsm:{0}:123456789012:backup/".format(region))
        assert copy["SourceRegion"] == "us-east-1" and copy["SourceCluster"] == source["ClusterId"]
        assert copy["CreateTimestamp"] == backup["CreateTimestamp"] and copy["CopyTimestamp"] >= backup["CreateTimestamp"]
        assert destination.list_tags(ResourceId=copy["BackupId"])["TagList"] == [{"Key": "role", "Value": "dr"}]
    # Nothing was copied into the source region.
    assert _backups(east, sourceBackupIds=[backup["BackupId"]]) == []

    west = sim.client("us-west-2")
    copy = _backups(west, sourceBackupIds=[backup["BackupId"]])[0]
    subnets = sim.subnets("us-west-2", 2)
    clone = west.create_cluster(HsmType="hsm2m.medium", SubnetIds=[s["SubnetId"] for s in subnets],
                                SourceBackupId=copy["BackupArn"])["Cluster"]
    assert clone["SourceBackupId"] == copy["BackupId"]
    assert clone["Mode"] == "FIPS"  # inherited from the backup
    assert clone["Certificates"] == {"ClusterCertificate": source["Certificates"]["ClusterCertificate"]}
    # A cluster from a backup is ACTIVE with no HSM (nothing to initialize or activate).
    restored = sim.wait_cluster(west, clone["ClusterId"], "ACTIVE")
    assert restored["Hsms"] == [] and "ClusterCsr" not in restored["Certificates"]
    with pytest.raises(west.exceptions.CloudHsmInvalidRequestException) as raised:
        west.initialize_cluster(ClusterId=clone["ClusterId"], SignedCert="x", TrustAnchor="y")
    assert "created from backup" in raised.value.response["Error"]["Message"]
    west.create_hsm(ClusterId=clone["ClusterId"], AvailabilityZone=subnets[0]["AvailabilityZone"])
    active = sim.wait_cluster(west, clone["ClusterId"], "ACTIVE")
    assert active["Hsms"][0]["State"] == "ACTIVE"
    # Its first HSM had nothing to back up; adding one to the clone with an ACTIVE HSM takes a backup there.
    assert _backups(west, clusterIds=[clone["ClusterId"]]) == []
    west.create_hsm(ClusterId=clone["ClusterId"], AvailabilityZone=subnets[1]["AvailabilityZone"])
    assert len(_backups(west, clusterIds=[clone["ClusterId"]])) == 1

    with pytest.raises(west.exceptions.CloudHsmInvalidRequestException) as raised:
        west.create_cluster(HsmType="hsm2m.medium", Mode="NON_FIPS", SubnetIds=[subnets[0]["SubnetId"]],
                            SourceBackupId=copy["BackupId"])
    assert "FIPS" in raised.value.response["Error"]["Message"]


def test_copy_refusals(sim, ca):
    source = sim.active_cluster(ca, "eu-west-2")
    client = sim.client("eu-west-2")
    backup_id = _backups(client, clusterIds=[source["ClusterId"]])[0]["BackupId"]
    cases = [
        ("eu-west-2", "DestinationRegion must be a different region"),
        ("us-gov-west-1", "GovCloud"),
        ("xx-east-9", "not a region where CloudHSM is available"),
    ]
    for region, message in cases:
        with pytest.raises(client.exceptions.CloudHsmInvalidRequestException) as raised:
            client.copy_backup_to_region(BackupId=backup_id, DestinationRegion=region)
        assert message in raised.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.CloudHsmResourceNotFoundException):
        client.copy_backup_to_region(BackupId="backup-aaaaaaaaaaa", DestinationRegion="us-east-1")


def test_govcloud_copies_stay_in_govcloud(sim, ca):
    source = sim.active_cluster(ca, "us-gov-west-1")
    client = sim.client("us-gov-west-1")
    backup = _backups(client, clusterIds=[source["ClusterId"]])[0]
    assert backup["BackupArn"].startswith("arn:aws-us-gov:cloudhsm:us-gov-west-1:")
    client.copy_backup_to_region(BackupId=backup["BackupId"], DestinationRegion="us-gov-east-1")
    assert len(_backups(sim.client("us-gov-east-1"), sourceBackupIds=[backup["BackupId"]])) == 1
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
        client.copy_backup_to_region(BackupId=backup["BackupId"], DestinationRegion="us-east-1")


def test_delete_restore_and_never_expires(sim, ca):
    source = sim.active_cluster(ca, "sa-east-1")
    client = sim.client("sa-east-1")
    backup = _backups(client, clusterIds=[source["ClusterId"]])[0]
    backup_id = backup["BackupId"]

    deleted = client.delete_backup(BackupId=backup_id)["Backup"]
    assert deleted["BackupState"] == "PENDING_DELETION"
    seven_days = (deleted["DeleteTimestamp"] - backup["CreateTimestamp"]).total_seconds()
    assert 7 * 86400 - 60 < seven_days < 7 * 86400 + 60
    assert [b["BackupId"] for b in _backups(client, states=["PENDING_DELETION"])] == [backup_id]
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
        client.copy_backup_to_region(BackupId=backup_id, DestinationRegion="us-east-1")
    restored = client.restore_backup(BackupId=backup_id)["Backup"]
    assert restored["BackupState"] == "READY" and "DeleteTimestamp" not in restored
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
        client.restore_backup(BackupId=backup_id)

    assert client.modify_backup_attributes(BackupId=backup_id, NeverExpires=True)["Backup"]["NeverExpires"] is True
    assert [b["BackupId"] for b in _backups(client, neverExpires=["true"])] == [backup_id]
    assert backup_id not in [b["BackupId"] for b in _backups(client, neverExpires=["false"])]
    client.modify_backup_attributes(BackupId=backup_id, NeverExpires=False)
    assert _backups(client, neverExpires=["true"]) == []


def test_backups_on_demand_sorting_and_pagination(sim, ca):
    source = sim.active_cluster(ca, "ap-northeast-1")
    client = sim.client("ap-northeast-1")
    for unused_backup in range(52):
        sim.take_backup(source["ClusterId"])
    page = client.describe_backups(Filters={"clusterIds": [source["ClusterId"]]})
    assert len(page["Backups"]) == 50 and page["NextToken"]
    rest = client.describe_backups(Filters={"clusterIds": [source["ClusterId"]]}, NextToken=page["NextToken"])
    assert len(rest["Backups"]) == 3 and "NextToken" not in rest
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
        client.describe_backups(MaxResults=51)
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
        client.describe_backups(NextToken="garbage")
    ascending = client.describe_backups(Filters={"clusterIds": [source["ClusterId"]]}, SortAscending=True,
                                        MaxResults=3)["Backups"]
    times = [b["CreateTimestamp"] for b in ascending]
    assert times == sorted(times)
    descending = client.describe_backups(Filters={"clusterIds": [source["ClusterId"]]}, MaxResults=3)["Backups"]
    assert descending[0]["CreateTimestamp"] >= ascending[-1]["CreateTimestamp"]
    status, body = sim.admin("POST", "/_sim/clusters/cluster-aaaaaaaaaaa/backup")
    assert status == 409 and "not found" in body["error"]


def test_tags_on_clusters_and_backups(sim, ca):
    source = sim.active_cluster(ca, "eu-north-1")
    client = sim.client("eu-north-1")
    backup_id = _backups(client, clusterIds=[source["ClusterId"]])[0]["BackupId"]
    for resource_id in (source["ClusterId"], backup_id):
        client.tag_resource(ResourceId=resource_id, TagList=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
        client.tag_resource(ResourceId=resource_id, TagList=[{"Key": "a", "Value": "updated"}])
        client.untag_resource(ResourceId=resource_id, TagKeyList=["b"])
        expected = [{"Key": "a", "Value": "updated"}]
        assert client.list_tags(ResourceId=resource_id)["TagList"] == expected
    assert client.describe_clusters(Filters={"clusterIds": [source["ClusterId"]]})["Clusters"][0]["TagList"] == expected
    assert _backups(client, backupIds=[backup_id])[0]["TagList"] == expected
    with pytest.raises(client.exceptions.CloudHsmTagException):
        client.tag_resource(ResourceId=backup_id, TagList=[{"Key": "aws:reserved", "Value": "x"}])
    with pytest.raises(client.exceptions.CloudHsmTagException):
        client.tag_resource(ResourceId=backup_id,
                            TagList=[{"Key": "k{0}".format(n), "Value": "v"} for n in range(50)])
    with pytest.raises(client.exceptions.CloudHsmResourceNotFoundException):
        client.tag_resource(ResourceId="cluster-aaaaaaaaaaa", TagList=[{"Key": "a", "Value": "b"}])
    many = [{"Key": "k{0:03d}".format(n), "Value": "v"} for n in range(40)]
    client.tag_resource(ResourceId=source["ClusterId"], TagList=many)
    pages = list(client.get_paginator("list_tags").paginate(ResourceId=source["ClusterId"],
                                                            PaginationConfig={"PageSize": 15}))
    assert [len(page["TagList"]) for page in pages] == [15, 15, 11]


def test_resource_policy_and_sharing(sim, ca):
    source = sim.active_cluster(ca, "us-west-1")
    client = sim.client("us-west-1")
    backup = _backups(client, clusterIds=[source["ClusterId"]])[0]
    # Credentials of another account: moto maps an assumed role's keys to the role's account.
    other_account = "210987654321"
    credentials = sim.client("us-west-1", "sts").assume_role(
        RoleArn="arn:aws:iam::{0}:role/dr".format(other_account), RoleSessionName="test")["Credentials"]
    other = boto3.client("cloudhsmv2", region_name="us-west-1", endpoint_url=sim.endpoint,
                         aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"], config=NO_RETRIES)
    assert "Policy" not in client.get_resource_policy(ResourceArn=backup["BackupArn"])
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::{0}:root".format(other_account)},
        "Action": ["cloudhsm:CreateCluster", "cloudhsm:DescribeBackups"], "Resource": backup["BackupArn"]}]})
    assert other.describe_backups(Shared=True)["Backups"] == []
    put = client.put_resource_policy(ResourceArn=backup["BackupArn"], Policy=policy)
    assert put["ResourceArn"] == backup["BackupArn"] and put["Policy"] == policy
    assert client.get_resource_policy(ResourceArn=backup["BackupArn"])["Policy"] == policy
    shared = other.describe_backups(Shared=True)["Backups"]
    assert [b["BackupId"] for b in shared] == [backup["BackupId"]]
    assert other.describe_backups()["Backups"] == []  # shared, not owned
    other_ec2 = boto3.client("ec2", region_name="us-west-1", endpoint_url=sim.endpoint,
                             aws_access_key_id=credentials["AccessKeyId"],
                             aws_secret_access_key=credentials["SecretAccessKey"],
                             aws_session_token=credentials["SessionToken"], config=NO_RETRIES)
    subnet_id = other_ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    with pytest.raises(other.exceptions.CloudHsmResourceNotFoundException):
        other.create_cluster(HsmType="hsm2m.medium", SubnetIds=[subnet_id], SourceBackupId=backup["BackupId"])
    clone = other.create_cluster(HsmType="hsm2m.medium", SubnetIds=[subnet_id],
                                 SourceBackupId=backup["BackupArn"])["Cluster"]
    assert clone["SourceBackupId"] == backup["BackupId"]
    deleted = client.delete_resource_policy(ResourceArn=backup["BackupArn"])
    assert deleted["Policy"] == policy
    assert other.describe_backups(Shared=True)["Backups"] == []
    with pytest.raises(client.exceptions.CloudHsmResourceNotFoundException):
        client.get_resource_policy(ResourceArn=backup["BackupArn"].replace(backup["BackupId"], "backup-aaaaaaaaaaa"))
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
        client.put_resource_policy(ResourceArn=backup["BackupArn"], Policy="not json")
