"""Fixtures for the simulator's tests: a running ``cloudhsm-sim serve`` per test worker, clients, a test CA."""

import datetime
import itertools
import os
import signal
import subprocess
import sys
import time

import boto3
import pytest
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIMULATOR = os.path.join(ROOT, "simulator")
if SIMULATOR not in sys.path:
    sys.path.insert(0, SIMULATOR)

ACCOUNT = "123456789012"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture(scope="session", autouse=True)
def aws_environment(tmp_path_factory):
    """Dummy credentials and no shared config, so nothing ever reads ~/.aws."""
    missing = str(tmp_path_factory.mktemp("aws") / "absent")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                     "AWS_ENDPOINT_URL", "MOTO_ACCOUNT_ID"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_CONFIG_FILE", missing)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", missing)
        yield


def simulator_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SIMULATOR, env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_server(*args, env=None):
    """Start ``cloudhsm-sim serve`` and return (process, endpoint URL read from its first stdout line)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cloudhsm_sim.cli", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or simulator_env(), text=True,
    )
    endpoint = process.stdout.readline().strip()
    if not endpoint.startswith("http://127.0.0.1:"):
        process.kill()
        raise RuntimeError("cloudhsm-sim did not start: {0!r} {1}".format(endpoint, process.stderr.read()))
    return process, endpoint


def stop_server(process):
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()


class Simulator:
    """A running simulator: endpoint, boto3 clients per region, admin API calls and common set-ups."""

    # One counter per test process, so every VPC a worker makes has its own 10.N.0.0/16 and HSM addresses chosen
    # by a test never collide with those of an earlier test.
    _vpc_numbers = itertools.count(1)

    def __init__(self, endpoint):
        self.endpoint = endpoint

    def client(self, region="us-east-1", service="cloudhsmv2", account_key="testing"):
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint, aws_access_key_id=account_key,
                            aws_secret_access_key="testing", config=NO_RETRIES)

    def admin(self, method, path, payload=None):
        """(HTTP status, JSON answer) of an admin API call."""
        from cloudhsm_sim.cli import admin_call

        return admin_call(self.endpoint, method, path, payload)

    def admin_ok(self, method, path, payload=None):
        status, body = self.admin(method, path, payload)
        assert status == 200, body
        return body

    def activate(self, cluster_id):
        return self.admin_ok("POST", "/_sim/clusters/{0}/activate".format(cluster_id))["cluster"]

    def take_backup(self, cluster_id):
        return self.admin_ok("POST", "/_sim/clusters/{0}/backup".format(cluster_id))["backup"]

    def faults(self, **settings):
        return self.admin_ok("POST", "/_sim/faults", settings)["faults"]

    def transitions(self, **seconds):
        return self.admin_ok("POST", "/_sim/transitions", seconds)["transitions"]

    def requests(self, since=0, **query):
        params = "&".join("{0}={1}".format(key, value) for key, value in dict(query, since=since).items())
        return self.admin_ok("GET", "/_sim/requests?" + params)["requests"]

    def last_request_seq(self):
        entries = self.requests()
        return entries[-1]["seq"] if entries else 0

    def subnets(self, region="us-east-1", count=2):
        """A fresh VPC (10.N.0.0/16) with one subnet in each of ``count`` availability zones."""
        ec2 = self.client(region, "ec2")
        second = 100 + next(self._vpc_numbers) % 150
        vpc_id = ec2.create_vpc(CidrBlock="10.{0}.0.0/16".format(second))["Vpc"]["VpcId"]
        zones = [zone["ZoneName"] for zone in ec2.describe_availability_zones()["AvailabilityZones"]][:count]
        return [
            ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.{0}.{1}.0/24".format(second, index),
                              AvailabilityZone=zone)["Subnet"]
            for index, zone in enumerate(zones)
        ]

    def wait_cluster(self, client, cluster_id, state, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            clusters = client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"]
            found = clusters[0]["State"] if clusters else "GONE"
            if found == state or time.monotonic() > deadline:
                assert found == state, "cluster {0} is {1}, expected {2}".format(cluster_id, found, state)
                return clusters[0] if clusters else None
            time.sleep(0.05)

    def create_cluster(self, region="us-east-1", subnet_count=2, **kwargs):
        client = self.client(region)
        subnets = self.subnets(region, subnet_count)
        kwargs.setdefault("HsmType", "hsm2m.medium")
        kwargs.setdefault("Mode", "FIPS")
        cluster = client.create_cluster(SubnetIds=[s["SubnetId"] for s in subnets], **kwargs)["Cluster"]
        self.wait_cluster(client, cluster["ClusterId"], "UNINITIALIZED")
        return cluster, subnets

    def active_cluster(self, ca, region="us-east-1"):
        """A cluster taken through first HSM, CSR signing, InitializeCluster and activation. Returns the cluster."""
        client = self.client(region)
        cluster, subnets = self.create_cluster(region)
        cluster_id = cluster["ClusterId"]
        client.create_hsm(ClusterId=cluster_id, AvailabilityZone=subnets[0]["AvailabilityZone"])
        csr = client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]["Certificates"]["ClusterCsr"]
        client.initialize_cluster(ClusterId=cluster_id, SignedCert=ca.sign(csr), TrustAnchor=ca.pem)
        self.wait_cluster(client, cluster_id, "INITIALIZED")
        self.activate(cluster_id)
        return self.wait_cluster(client, cluster_id, "ACTIVE")


@pytest.fixture(scope="session")
def simulator_process(aws_environment):
    process, endpoint = start_server()
    yield endpoint
    stop_server(process)


@pytest.fixture
def sim(simulator_process):
    """The worker's simulator; faults and transition delays are put back after each test."""
    simulator = Simulator(simulator_process)
    yield simulator
    simulator.admin_ok("DELETE", "/_sim/faults")
    simulator.admin_ok("DELETE", "/_sim/transitions")


class CertificateAuthority:
    """A self-signed RSA CA made in the test, able to sign the cluster CSR."""

    def __init__(self, name="Test Root CA", extensions=True, key_size=2048):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
        )
        if extensions == "no-basic-constraints":
            builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                                            critical=False)
        elif extensions:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        self.cert = builder.sign(self.key, hashes.SHA256())
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, csr_pem, public_key=None):
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key or csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="session")
def ca():
    return CertificateAuthority()


@pytest.fixture(scope="session")
def make_ca():
    """The CertificateAuthority class, for tests that need another CA (or a faulty one)."""
    return CertificateAuthority
