# -*- coding: utf-8 -*-
# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every benchmark shares: the simulator, timed playbook runs, peak memory of a process, statistics."""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
PLAYBOOKS = os.path.join(BENCH, "playbooks")
for _path in (os.path.join(ROOT, "scripts"), os.path.join(ROOT, "simulator")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import with_simulator  # noqa: E402  pylint: disable=wrong-import-position

BIN_DIR = os.path.dirname(sys.executable)
ANSIBLE_PLAYBOOK = os.path.join(BIN_DIR, "ansible-playbook")
ANSIBLE = os.path.join(BIN_DIR, "ansible")
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class BenchError(Exception):
    pass


def log(text):
    sys.stdout.write("[%s] %s\n" % (datetime.datetime.now().strftime("%H:%M:%S"), text))
    sys.stdout.flush()


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def write_private(path, text):
    """A file only the owner can read (the benchmarks' passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def machine_info():
    def version_of(package):
        try:
            from importlib import metadata
            return metadata.version(package)
        except Exception:  # pylint: disable=broad-except
            return None

    mem_total = None
    if os.path.exists("/proc/meminfo"):
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    mem_total = int(line.split()[1]) // 1024
    cpu_model = None
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model,
        "memory_mb": mem_total,
        "load_average_at_start": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ansible_core": version_of("ansible-core"),
        "boto3": version_of("boto3"),
        "moto": version_of("moto"),
        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


# --------------------------------------------------------------------------------------------------- simulator
class Simulator(object):
    """One ``cloudhsm-sim serve`` started with scripts/with_simulator.py's helpers, and its admin API."""

    def __init__(self, log_path=None, extra_args=(), endpoint=None):
        """Start a simulator, or (``endpoint``) talk to one that something else started."""
        self.proc = None
        if endpoint is None:
            self.proc, endpoint = with_simulator.start_simulator(list(extra_args), log_path)
        self.endpoint = endpoint
        self.env = bench_env(with_simulator.simulator_env(self.endpoint))

    def stop(self):
        if self.proc is not None:
            with_simulator.stop_simulator(self.proc)
            self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def hsm(self, op, **args):
        answer = self.call("POST", "/_hsm/v1/call", {"op": op, "args": args})
        if not answer.get("ok"):
            raise BenchError("HSM %s: %s" % (op, answer.get("message")))
        return answer["result"]

    def requests(self, since=0):
        return self.call("GET", "/_sim/requests?since=%d" % since)["requests"]

    def last_seq(self):
        entries = self.requests()
        return entries[-1]["seq"] if entries else 0

    def set_transitions(self, **seconds):
        return self.call("POST", "/_sim/transitions", seconds)

    def client(self, service, region):
        import boto3
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint, **DUMMY_CREDENTIALS)


def bench_env(base):
    env = dict(base)
    env.update(
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_HOST_KEY_CHECKING="0",
        PYTHONUNBUFFERED="1",
    )
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.dirname(os.path.dirname(os.path.dirname(ROOT))))
    return env


# ------------------------------------------------------------------------------------------------ processes
class PeakMemory(object):
    """Polls /proc for processes whose command line contains ``marker``: their peak RSS (VmHWM) and lifetime."""

    def __init__(self, marker, interval=0.02):
        self.marker = marker.encode()
        self.interval = interval
        self.peak_kb = {}
        self.first_seen = {}
        self.last_seen = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _poll(self):
        me = os.getpid()
        while not self._stop.is_set():
            now = time.monotonic()
            for name in os.listdir("/proc"):
                if not name.isdigit() or int(name) == me:
                    continue
                try:
                    with open("/proc/%s/cmdline" % name, "rb") as handle:
                        if self.marker not in handle.read():
                            continue
                    with open("/proc/%s/status" % name) as handle:
                        for line in handle:
                            if line.startswith("VmHWM:"):
                                self.peak_kb[name] = max(self.peak_kb.get(name, 0), int(line.split()[1]))
                except OSError:
                    continue
                self.first_seen.setdefault(name, now)
                self.last_seen[name] = now
            self._stop.wait(self.interval)

    @property
    def peak_mb(self):
        return round(max(self.peak_kb.values()) / 1024.0, 1) if self.peak_kb else None

    @property
    def seconds(self):
        """Lifetime of the longest-lived matching process (as seen by the poller)."""
        spans = [self.last_seen[p] - self.first_seen[p] for p in self.first_seen]
        return round(max(spans), 3) if spans else None


TASK_LINE = re.compile(r"^(TASK|RUNNING HANDLER) \[(.*)\]")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)")


class PlaybookRun(object):
    def __init__(self):
        self.seconds = None
        self.returncode = None
        self.tasks = []  # [{"name", "start", "items", "changed"}] in order
        self.recap = {}
        self.log_path = None

    @property
    def changed(self):
        return sum(counts["changed"] for counts in self.recap.values())

    @property
    def ok(self):
        return self.returncode == 0 and all(c["failed"] == 0 and c["unreachable"] == 0 for c in self.recap.values())


def run_playbook(command, env, log_path, cwd=None, check=True):
    """Run an ansible command, timestamping each task start as its header line arrives on stdout."""
    run = PlaybookRun()
    run.log_path = log_path
    started = time.monotonic()
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(command, cwd=cwd or ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            now = time.time()
            log_file.write(line)
            match = TASK_LINE.match(line)
            if match:
                run.tasks.append({"name": match.group(2), "start": now, "items": 0, "changed": False})
                continue
            if run.tasks and "(item=" in line and line.split(":", 1)[0] in ("ok", "changed", "skipping", "failed"):
                run.tasks[-1]["items"] += 1
            if run.tasks and line.startswith("changed:"):
                run.tasks[-1]["changed"] = True
            match = RECAP.match(line)
            if match:
                run.recap[match.group(1)] = dict(zip(("ok", "changed", "unreachable", "failed", "skipped"),
                                                     map(int, match.groups()[1:])))
        run.returncode = proc.wait()
    run.seconds = time.monotonic() - started
    if check and not run.ok:
        with open(log_path) as handle:
            tail = "".join(handle.readlines()[-30:])
        what = [word for word in command if word.endswith(".yml")] or command[:1]
        raise BenchError("%s failed (rc %s); see %s\n%s" % (what[0], run.returncode, log_path, tail))
    return run


# -------------------------------------------------------------------------------------------- AWS set-up
def make_subnet(sim, region, cidr_prefix, zone_suffix="a"):
    """A VPC and one subnet in region (the simulator's EC2); returns the subnet id."""
    ec2 = sim.client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="%s.0.0/16" % cidr_prefix)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="%s.1.0/24" % cidr_prefix,
                               AvailabilityZone=region + zone_suffix)["Subnet"]["SubnetId"]
    return subnet


class CertificateAuthority(object):
    """A throw-away RSA CA that signs cluster CSRs (the customer's trust anchor)."""

    def __init__(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self._x509, self._hashes, self._serialization = x509, hashes, serialization
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u"hsmops bench CA")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, csr_pem):
        x509 = self._x509
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder().subject_name(csr.subject).issuer_name(self.cert.subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .sign(self.key, self._hashes.SHA256())
        )
        return cert.public_bytes(self._serialization.Encoding.PEM).decode()


def wait_until(fetch, done, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise BenchError("timed out waiting for %s" % what)
        time.sleep(0.2)


def describe_cluster(hsm_client, cluster_id):
    return hsm_client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]


def create_cluster_with_hsm(hsm_client, subnet, zone, name, hsm_type="hsm2m.medium", backup_id=None):
    """A cluster (new, or from backup_id) with one ACTIVE-bound HSM; returns (cluster_id, hsm ENI IP)."""
    params = {"HsmType": hsm_type, "SubnetIds": [subnet], "TagList": [{"Key": "Name", "Value": name}]}
    if backup_id:
        params["SourceBackupId"] = backup_id
    elif hsm_type != "hsm1.medium":
        params["Mode"] = "FIPS"
    cluster_id = hsm_client.create_cluster(**params)["Cluster"]["ClusterId"]
    wait_until(lambda: describe_cluster(hsm_client, cluster_id), lambda c: c["State"] != "CREATE_IN_PROGRESS",
               "cluster %s" % cluster_id)
    hsm = hsm_client.create_hsm(ClusterId=cluster_id, AvailabilityZone=zone)["Hsm"]
    wait_until(lambda: describe_cluster(hsm_client, cluster_id),
               lambda c: all(h["State"] == "ACTIVE" for h in c.get("Hsms", [])), "HSM of %s" % cluster_id)
    return cluster_id, hsm["EniIp"]


def initialize_cluster(hsm_client, ca, cluster_id):
    cluster = wait_until(lambda: describe_cluster(hsm_client, cluster_id),
                         lambda c: c.get("Certificates", {}).get("ClusterCsr"), "CSR of %s" % cluster_id)
    hsm_client.initialize_cluster(ClusterId=cluster_id, SignedCert=ca.sign(cluster["Certificates"]["ClusterCsr"]),
                                  TrustAnchor=ca.pem)
    wait_until(lambda: describe_cluster(hsm_client, cluster_id), lambda c: c["State"] == "INITIALIZED",
               "initialization of %s" % cluster_id)
