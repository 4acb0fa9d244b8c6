"""The serve process: faults, transition delays, request log, admin API and CLI, routing, start and stop."""

import json
import os
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Simulator, simulator_env, start_server, stop_server


def test_throttling_and_server_errors(sim):
    client = sim.client("us-east-1")
    ec2 = sim.client("us-east-1", "ec2")
    sim.faults(throttle_rate=1.0)
    with pytest.raises(ClientError) as raised:
        client.describe_clusters()
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    ec2.describe_vpcs()  # faults apply to cloudhsmv2 unless asked otherwise

    sim.faults(throttle_rate=0.0, error_rate=1.0)
    with pytest.raises(client.exceptions.CloudHsmInternalFailureException) as raised:
        client.describe_backups()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500

    sim.faults(error_rate=0.0, throttle_next=2, services=["cloudhsmv2", "ec2"])
    with pytest.raises(ClientError) as raised:
        ec2.describe_vpcs()
    assert raised.value.response["Error"]["Code"] == "RequestLimitExceeded"
    with pytest.raises(ClientError):
        client.describe_clusters()
    client.describe_clusters()  # the two counted faults are used up

    faulted = [entry for entry in sim.requests() if entry["fault"]]
    assert {entry["fault"] for entry in faulted} == {"throttle", "error"}


def test_seeded_faults_repeat(sim):
    client = sim.client("us-east-1")

    def outcomes():
        sim.faults(throttle_rate=0.5, seed=42, operations=["DescribeClusters"])
        found = []
        for unused_call in range(12):
            try:
                client.describe_clusters()
                found.append("ok")
            except ClientError as error:
                found.append(error.response["Error"]["Code"])
        client.describe_backups()  # not a listed operation: never faulted
        return found

    first = outcomes()
    assert "ok" in first and "ThrottlingException" in first
    assert outcomes() == first


def test_latency_and_degraded_hsm(sim):
    client = sim.client("eu-west-3")
    cluster, subnets = sim.create_cluster("eu-west-3")
    hsm = client.create_hsm(ClusterId=cluster["ClusterId"], AvailabilityZone=subnets[0]["AvailabilityZone"])["Hsm"]
    sim.faults(latency_seconds=0.3)
    started = time.monotonic()
    client.describe_clusters(Filters={"clusterIds": [cluster["ClusterId"]]})
    assert time.monotonic() - started >= 0.3
    body = sim.faults(latency_seconds=0, unresponsive_ips=[hsm["EniIp"]])
    assert body["unresponsive_ips"] == [hsm["EniIp"]]
    status, body = sim.admin("POST", "/_sim/faults", {"degrade_hsms": [hsm["HsmId"]]})
    assert status == 200 and body["degraded"][0]["State"] == "DEGRADED"
    described = client.describe_clusters(Filters={"clusterIds": [cluster["ClusterId"]]})["Clusters"][0]
    assert described["Hsms"][0]["State"] == "DEGRADED"
    status, body = sim.admin("GET", "/_sim/hsms?ip=" + hsm["EniIp"])
    assert status == 200 and body["hsm"]["state"] == "DEGRADED" and body["hsm"]["hsm_id"] == hsm["HsmId"]
    # A failed HSM creation ends DEGRADED with the real message.
    other, other_subnets = sim.create_cluster("eu-west-3")
    sim.faults(hsm_create_failures=1)
    client.create_hsm(ClusterId=other["ClusterId"], AvailabilityZone=other_subnets[0]["AvailabilityZone"])
    failed = client.describe_clusters(Filters={"clusterIds": [other["ClusterId"]]})["Clusters"][0]["Hsms"][0]
    assert failed["State"] == "DEGRADED"
    assert failed["StateMessage"] == "HSM creation failed. Please delete this HSM and try again."
    status, body = sim.admin("POST", "/_sim/faults", {"throttle_rate": 2})
    assert status == 400 and "between 0 and 1" in body["error"]


def test_transition_delays(sim, ca):
    client = sim.client("ap-south-1")
    sim.transitions(all=0.6)
    subnets = sim.subnets("ap-south-1", 1)
    cluster = client.create_cluster(HsmType="hsm2m.medium", Mode="FIPS", SubnetIds=[subnets[0]["SubnetId"]])["Cluster"]
    started = time.monotonic()
    assert client.describe_clusters(Filters={"clusterIds": [cluster["ClusterId"]]})["Clusters"][0]["State"] == \
        "CREATE_IN_PROGRESS"
    sim.wait_cluster(client, cluster["ClusterId"], "UNINITIALIZED", timeout=5)
    assert time.monotonic() - started >= 0.5
    client.create_hsm(ClusterId=cluster["ClusterId"], AvailabilityZone=subnets[0]["AvailabilityZone"])
    with pytest.raises(client.exceptions.CloudHsmInvalidRequestException):
        client.initialize_cluster(ClusterId=cluster["ClusterId"], SignedCert=ca.pem, TrustAnchor=ca.pem)
    status, body = sim.admin("POST", "/_sim/transitions", {"cluster_explode": 1})
    assert status == 400 and "unknown transition" in body["error"]
    assert sim.admin_ok("DELETE", "/_sim/transitions")["transitions"]["hsm_create"] == 0


def test_request_log_marks_mutating_calls(sim):
    client = sim.client("eu-south-1")
    mark = sim.last_request_seq()
    cluster, unused_subnets = sim.create_cluster("eu-south-1")
    client.list_tags(ResourceId=cluster["ClusterId"])
    client.tag_resource(ResourceId=cluster["ClusterId"], TagList=[{"Key": "k", "Value": "v"}])
    entries = sim.requests(since=mark, service="cloudhsmv2")
    operations = [(entry["operation"], entry["mutating"]) for entry in entries]
    assert ("CreateCluster", True) in operations and ("TagResource", True) in operations
    assert ("DescribeClusters", False) in operations and ("ListTags", False) in operations
    assert all(entry["region"] == "eu-south-1" and entry["status"] == 200 for entry in entries)
    ec2_entries = sim.requests(since=mark, service="ec2")
    assert {entry["operation"] for entry in ec2_entries} >= {"CreateVpc", "CreateSubnet"}
    mutating = sim.requests(since=mark, mutating="true")
    assert mutating and all(entry["mutating"] for entry in mutating)
    # A read-only rerun adds no mutating request.
    mark = sim.last_request_seq()
    client.describe_clusters(Filters={"clusterIds": [cluster["ClusterId"]]})
    assert sim.requests(since=mark, mutating="true") == []


def test_admin_api_errors_and_routes(sim):
    assert sim.admin("GET", "/_sim/nothing")[0] == 404
    assert sim.admin("PUT", "/_sim/faults")[0] == 405
    assert sim.admin("GET", "/_sim/clusters/cluster-aaaaaaaaaaa")[0] == 404
    assert sim.admin("GET", "/_sim/hsms?ip=10.9.9.9")[0] == 404
    health = sim.admin_ok("GET", "/_sim/health")
    assert health["status"] == "ok"
    status, _body = sim.admin("GET", "/_hsm/v1/health")
    assert status == (200 if health["dataplane"] else 404)


def test_admin_cli_against_the_server(sim, ca):
    cluster = sim.active_cluster(ca, "me-south-1")

    def cli(*args):
        result = subprocess.run([sys.executable, "-m", "cloudhsm_sim.cli", "admin", "--endpoint", sim.endpoint, *args],
                                capture_output=True, text=True, env=simulator_env(), timeout=60, check=False)
        return result.returncode, json.loads(result.stdout)

    code, body = cli("backup", cluster["ClusterId"])
    assert code == 0 and body["backup"]["BackupState"] == "CREATE_IN_PROGRESS"
    code, body = cli("activate", cluster["ClusterId"])
    assert code == 1 and "only an INITIALIZED cluster" in body["error"]
    code, body = cli("faults", "--throttle-rate", "0.25", "--services", "cloudhsmv2,ec2")
    assert code == 0 and body["faults"]["throttle_rate"] == 0.25 and body["faults"]["services"] == ["cloudhsmv2", "ec2"]
    code, body = cli("faults", "--clear")
    assert code == 0 and body["faults"]["throttle_rate"] == 0
    code, body = cli("transitions", "--set", "backup_copy=1.5")
    assert code == 0 and body["transitions"]["backup_copy"] == 1.5
    code, body = cli("requests", "--mutating", "--service", "cloudhsmv2")
    assert code == 0 and body["requests"] and all(entry["mutating"] for entry in body["requests"])
    code, body = cli("cluster", cluster["ClusterId"])
    assert code == 0 and body["cluster"]["Region"] == "me-south-1" and body["cluster"]["TrustAnchor"] == ca.pem


def test_serve_options_and_clean_stop(tmp_path):
    endpoint_file = tmp_path / "endpoint"
    state_dir = tmp_path / "state"
    process, endpoint = start_server("--endpoint-file", str(endpoint_file), "--state-dir", str(state_dir),
                                     "--transition-seconds", "0.5")
    try:
        assert endpoint_file.read_text().strip() == endpoint
        assert (state_dir / "endpoint").read_text().strip() == endpoint
        assert oct(os.stat(state_dir).st_mode & 0o777) == "0o700"
        sim = Simulator(endpoint)
        assert set(sim.admin_ok("GET", "/_sim/transitions")["transitions"].values()) == {0.5, 7 * 86400}
        sim.transitions(all=3)
        sim.admin_ok("POST", "/_sim/reset")
        assert sim.admin_ok("GET", "/_sim/transitions")["transitions"]["cluster_create"] == 0.5
    finally:
        assert stop_server(process) == 0
    assert not endpoint_file.exists()


def test_reset_forgets_everything(sim):
    cluster, unused_subnets = sim.create_cluster("af-south-1")
    sim.faults(latency_seconds=0.01)
    assert sim.admin_ok("POST", "/_sim/reset") == {"reset": True}
    assert sim.admin_ok("GET", "/_sim/faults")["faults"]["latency_seconds"] == 0
    assert sim.requests() == []
    assert sim.client("af-south-1").describe_clusters()["Clusters"] == []
    assert [entry["operation"] for entry in sim.requests()] == ["DescribeClusters"]
    assert sim.admin("GET", "/_sim/clusters/" + cluster["ClusterId"])[0] == 404


def test_serve_refuses_other_hosts():
    result = subprocess.run([sys.executable, "-m", "cloudhsm_sim.cli", "serve", "--host", "0.0.0.0"],
                            capture_output=True, text=True, env=simulator_env(), timeout=60, check=False)
    assert result.returncode == 2 and "only listens on loopback" in result.stderr
    assert result.stdout == ""


def test_package_command_hands_over_to_packaging(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cloudhsm_sim.cli", "package", "--sdk", "5", "--out", str(tmp_path)],
                            capture_output=True, text=True, env=simulator_env(), timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    built = result.stdout.strip().splitlines()[-1]
    assert os.path.dirname(built) == str(tmp_path) and built.endswith(".deb") and os.path.getsize(built) > 0


def test_request_classification():
    from cloudhsm_sim.server import describe_request, is_mutating

    scope = "AWS4-HMAC-SHA256 Credential=testing/20261128/{0}/{1}/aws4_request, SignedHeaders=host, Signature=x"
    json_call = {"HTTP_AUTHORIZATION": scope.format("eu-west-1", "cloudhsm"),
                 "HTTP_X_AMZ_TARGET": "BaldrApiService.CopyBackupToRegion"}
    assert describe_request(json_call, b"{}") == ("cloudhsmv2", "CopyBackupToRegion", "eu-west-1")
    query_call = {"HTTP_AUTHORIZATION": scope.format("us-east-2", "ec2")}
    assert describe_request(query_call, b"Action=DescribeSubnets&Version=2016-11-15") == \
        ("ec2", "DescribeSubnets", "us-east-2")
    rest_call = {"HTTP_AUTHORIZATION": scope.format("us-east-1", "s3"), "REQUEST_METHOD": "PUT", "PATH_INFO": "/b/k"}
    assert describe_request(rest_call, b"data") == ("s3", "PUT /b/k", "us-east-1")
    assert [is_mutating(op) for op in ("DescribeClusters", "ListTags", "GetResourcePolicy", "GET /b", "HEAD /b")] == \
        [False] * 5
    assert [is_mutating(op) for op in ("CreateHsm", "TagResource", "InitializeCluster", "PUT /b/k")] == [True] * 4
