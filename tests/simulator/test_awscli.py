"""The real AWS CLI (an independent client) against the simulator: the clone flow end to end."""

import json
import os
import shutil
import subprocess
import sys
import time

# The CLI installed next to this Python (awscli is in requirements-dev.txt), else the one on PATH.
AWS = os.path.join(os.path.dirname(sys.executable), "aws")
if not os.path.exists(AWS):
    AWS = shutil.which("aws") or AWS


def aws(sim, region, *args, **kwargs):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/nonexistent"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],
        "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"],
        "AWS_MAX_ATTEMPTS": "1",
    }
    result = subprocess.run(
        [AWS, "--region", region, "--endpoint-url", sim.endpoint, "--output", "json", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False, **kwargs,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_clone_flow_with_the_aws_cli(sim, ca, tmp_path):
    subnets = sim.subnets("us-east-1", 1)
    cluster = aws(sim, "us-east-1", "cloudhsmv2", "create-cluster", "--hsm-type", "hsm2m.medium", "--mode", "FIPS",
                  "--subnet-ids", subnets[0]["SubnetId"],
                  "--backup-retention-policy", "Type=DAYS,Value=30")["Cluster"]
    cluster_id = cluster["ClusterId"]
    assert cluster["State"] == "CREATE_IN_PROGRESS" and cluster["BackupRetentionPolicy"]["Value"] == "30"
    hsm = aws(sim, "us-east-1", "cloudhsmv2", "create-hsm", "--cluster-id", cluster_id,
              "--availability-zone", subnets[0]["AvailabilityZone"])["Hsm"]
    assert hsm["State"] == "CREATE_IN_PROGRESS"
    client = sim.client("us-east-1")
    csr = sim.wait_cluster(client, cluster_id, "UNINITIALIZED")["Certificates"]["ClusterCsr"]
    (tmp_path / "cert.pem").write_text(ca.sign(csr))
    (tmp_path / "ca.pem").write_text(ca.pem)
    answer = aws(sim, "us-east-1", "cloudhsmv2", "initialize-cluster", "--cluster-id", cluster_id,
                 "--signed-cert", "file://" + str(tmp_path / "cert.pem"),
                 "--trust-anchor", "file://" + str(tmp_path / "ca.pem"))
    assert answer["State"] == "INITIALIZE_IN_PROGRESS"
    sim.wait_cluster(sim.client("us-east-1"), cluster_id, "INITIALIZED")
    sim.activate(cluster_id)
    backups = client.describe_backups(Filters={"clusterIds": [cluster_id], "states": ["READY"]})["Backups"]
    assert len(backups) == 1
    backup_id = backups[0]["BackupId"]
    copied = aws(sim, "us-east-1", "cloudhsmv2", "copy-backup-to-region", "--destination-region", "us-west-2",
                 "--backup-id", backup_id)["DestinationBackup"]
    assert copied["SourceBackup"] == backup_id and copied["SourceRegion"] == "us-east-1"
    assert "BackupId" not in copied
    west = sim.client("us-west-2")
    copy = west.describe_backups(Filters={"sourceBackupIds": [backup_id]})["Backups"][0]
    west_subnets = sim.subnets("us-west-2", 2)
    clone = aws(sim, "us-west-2", "cloudhsmv2", "create-cluster", "--hsm-type", "hsm2m.medium",
                "--subnet-ids", *[s["SubnetId"] for s in west_subnets], "--source-backup-id", copy["BackupId"])["Cluster"]
    assert clone["SourceBackupId"] == copy["BackupId"] and clone["Mode"] == "FIPS"
    assert clone["State"] == "CREATE_IN_PROGRESS"
    assert isinstance(clone["CreateTimestamp"], (int, float))  # epoch seconds on the wire, as AWS sends them
    # The user guide: a cluster from a backup needs no initialization or activation; it is ACTIVE before any HSM.
    sim.wait_cluster(west, clone["ClusterId"], "ACTIVE")
    seen = aws(sim, "us-west-2", "cloudhsmv2", "describe-clusters",
               "--filters", "clusterIds=" + clone["ClusterId"])["Clusters"][0]
    assert seen["State"] == "ACTIVE" and seen["Hsms"] == [] and seen["SourceBackupId"] == copy["BackupId"]
    # Being ACTIVE, it takes an HSM in each of its zones at once.
    for subnet in west_subnets:
        hsm = aws(sim, "us-west-2", "cloudhsmv2", "create-hsm", "--cluster-id", clone["ClusterId"],
                  "--availability-zone", subnet["AvailabilityZone"])["Hsm"]
        assert hsm["State"] == "CREATE_IN_PROGRESS"
    deadline = time.monotonic() + 10
    while True:
        seen = aws(sim, "us-west-2", "cloudhsmv2", "describe-clusters",
                   "--filters", "clusterIds=" + clone["ClusterId"])["Clusters"][0]
        if [h["State"] for h in seen["Hsms"]] == ["ACTIVE", "ACTIVE"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert seen["State"] == "ACTIVE" and [h["State"] for h in seen["Hsms"]] == ["ACTIVE", "ACTIVE"]
