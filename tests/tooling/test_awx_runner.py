"""clone_cluster and sync run as AWX / Automation Controller runs them: ansible-runner on a private data dir.

Each job gets its own private data dir, laid out as the controller writes it: ``project/`` (docs/awx/project/ and
collections/requirements.yml), ``inventory/hosts`` (docs/awx/inventory.yml with the simulator's networks, localhost
as the control node and the client host), ``env/envvars`` (what the AWS credential type injects, with temporary
credentials under AWS_SECURITY_TOKEN), ``env/extravars`` (the survey answers, marked ``!unsafe`` as the controller
does, and the paths the "CloudHSM DR CA" credential type injects) and ``env/settings``.

The AWS endpoint is a recording proxy in front of the simulator, so the test sees the access key and session token
every API call was signed with. Users and keys are read from the simulated HSMs, not through the collection.
"""

import datetime
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import awx_definitions as awx
from aws_recording_proxy import RecordingProxy
from secret_scanner import ProcessSampler, SecretScanner

sys.path.insert(0, os.path.join(awx.ROOT, "scripts"))

import demo  # noqa: E402  (the flow tests/e2e and make demo use)

pytestmark = pytest.mark.client_host

RUNNER = os.path.join(os.path.dirname(sys.executable), "ansible-runner")
# The collection and its dependencies: the build tree of `make build-tree` (what `make pytests` exports).
BUILD_COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.path.join(awx.ROOT, "build", "collections")
DAY2_USER = "day2_user"
DAY2_KEY = "day2-key"
CLONE_TASKS = {
    "Create or adopt the source cluster",
    "Initialize and activate the source cluster and create the first users",
    "Copy the source's newest backup to the DR regions that have no clone yet",
    "Create the clones from the copies (or adopt the proven ones)",
    "Let the client hosts reach the HSMs of every cluster of the DR set",
    "Reconcile the DR set",
    "Print the summary",
}
SYNC_TASKS = {"Fail unless the source and at least one clone exist", "Reconcile the DR set", "Print the summary"}


class UnsafeText(str):
    """A survey answer: the controller writes it with the !unsafe tag so that it is never templated."""


yaml.SafeDumper.add_representer(UnsafeText, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value)))


def make_ca(passphrase):
    """The issuing CA a user keeps in the "CloudHSM DR CA" credential: a certificate and an encrypted key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hsmops AWX test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(passphrase.encode()))
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def write_private(path, data, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as handle:
        handle.write(data)


class AwxSite:
    """The simulator, its networks, the credentials and the answers shared by the jobs of one test module."""

    def __init__(self, base):
        self.base = base
        self.run = demo.DemoRun("5", str(base / "site"), out=sys.stderr)
        self.aws = {
            "AWS_ACCESS_KEY_ID": "ASIA" + secrets.token_hex(8).upper(),
            "AWS_SECRET_ACCESS_KEY": "awx-secret-" + secrets.token_urlsafe(24),
            "AWS_SECURITY_TOKEN": "awx-session-" + secrets.token_urlsafe(32),
        }
        self.answers = {
            "cloudhsm_dr_admin_password": "Adm-" + secrets.token_urlsafe(12),
            "dr_crypto_user_password": "Cu-" + secrets.token_urlsafe(12),
        }
        self.ca_passphrase = "ca-" + secrets.token_urlsafe(16)
        self.ca_pem = make_ca(self.ca_passphrase)
        self.proxy = None
        self.inventory_vars = None

    def start(self):
        run = self.run
        run.prepare_run_dir()
        run.reset_client()
        run.start_simulator()
        run.env["ANSIBLE_COLLECTIONS_PATH"] = BUILD_COLLECTIONS
        run.build_package()
        # The demo's helper playbooks read the DR set from run.settings: the inventory's, on the simulator.
        settings = {key: INVENTORY_VARS[key] for key in ("cloudhsm_dr_source", "cloudhsm_dr_clones", "cloudhsm_dr_sdk")}
        settings["cloudhsm_dr_endpoint_url"] = "{{ lookup('env', 'AWS_ENDPOINT_URL') }}"
        settings["cloudhsm_dr_admin_password"] = "{{ dr_passwords.admin }}"
        run.settings = os.path.join(run.run_dir, "dr.yml")
        with open(run.settings, "w") as handle:
            yaml.safe_dump(settings, handle)
        run.passwords = {"admin": self.answers["cloudhsm_dr_admin_password"], "new_user": "Day2-" + secrets.token_urlsafe(9)}
        write_private(run.secrets_file, yaml.safe_dump({"dr_passwords": run.passwords}))
        run.run_playbook("prepare_network.yml", progress=False)
        with open(run.network_file) as handle:
            subnets = yaml.safe_load(handle)["dr_subnet_ids"]
        self.proxy = RecordingProxy(run.env["AWS_ENDPOINT_URL"]).start()
        self.inventory_vars = dict(INVENTORY_VARS)
        self.inventory_vars.update(
            cloudhsm_dr_source=dict(INVENTORY_VARS["cloudhsm_dr_source"], subnet_ids=subnets[INVENTORY_VARS["cloudhsm_dr_source"]["region"]]),
            cloudhsm_dr_clones=[dict(clone, subnet_ids=subnets[clone["region"]]) for clone in INVENTORY_VARS["cloudhsm_dr_clones"]],
            # The simulator: its endpoint (through the proxy), the simulated client package, no init system.
            cloudhsm_dr_endpoint_url=self.proxy.url,
            cloudhsm_dr_client_package_source="file",
            cloudhsm_dr_client_package_file=run.package_file,
            cloudhsm_dr_client_manage_daemon=False,
        )

    def stop(self):
        if self.proxy is not None:
            self.proxy.stop()
        self.run.stop_simulator()

    def secret_values(self):
        """What must never show: the secret key, the session token, the CA passphrase, the survey passwords. (The
        access key id is an identifier: amazon.aws reports it among a module's arguments.)"""
        secret = {k: v for k, v in self.aws.items() if k != "AWS_ACCESS_KEY_ID"}
        return dict(secret, ca_passphrase=self.ca_passphrase, **self.answers)

    def private_data_dir(self, name, survey_answers):
        """A job's private data dir, as the controller lays it out."""
        root = self.base / name
        (root / "project" / "collections").mkdir(parents=True)
        for playbook in os.listdir(os.path.join(awx.AWX_DIR, "project")):
            shutil.copy(os.path.join(awx.AWX_DIR, "project", playbook), root / "project")
        shutil.copy(os.path.join(awx.ROOT, "collections", "requirements.yml"), root / "project" / "collections")
        (root / "inventory").mkdir()
        inventory = {"all": {
            "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
            "children": {"cloudhsm_clients": {"hosts": {"localhost": None}}},
            "vars": self.inventory_vars,
        }}
        (root / "inventory" / "hosts").write_text("---\n" + yaml.safe_dump(inventory, sort_keys=False))
        env = root / "env"
        env.mkdir(mode=0o700)
        envvars = dict(self.aws, ANSIBLE_COLLECTIONS_PATH=BUILD_COLLECTIONS, ANSIBLE_NOCOLOR="1",
                       CLOUDHSM_SIM_ENDPOINT=self.run.env["CLOUDHSM_SIM_ENDPOINT"])
        write_private(env / "envvars", yaml.safe_dump(envvars))
        # The "CloudHSM DR CA" credential: files that live as long as the job, their paths as extra vars.
        write_private(env / "ca_cert", self.ca_pem[0])
        write_private(env / "ca_key", self.ca_pem[1])
        extravars = {
            "cloudhsm_dr_ca_cert_path": str(env / "ca_cert"),
            "cloudhsm_dr_ca_key_path": str(env / "ca_key"),
            "cloudhsm_dr_ca_key_passphrase": UnsafeText(self.ca_passphrase),
        }
        extravars.update({key: UnsafeText(value) if isinstance(value, str) else value for key, value in survey_answers.items()})
        write_private(env / "extravars", "---\n" + yaml.safe_dump(extravars))
        write_private(env / "settings", yaml.safe_dump({"job_timeout": 900, "idle_timeout": 600,
                                                        "suppress_ansible_output": True}))
        return root

    def run_job(self, name, playbook, survey_answers):
        root = self.private_data_dir(name, survey_answers)
        # Nothing of the test's own environment reaches the job but PATH-like basics: the job's AWS credentials
        # are only the ones in env/envvars. ansible-playbook is found next to ansible-runner, as in an EE.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_", "CLOUDHSM_"))}
        env["PATH"] = os.pathsep.join([os.path.dirname(RUNNER), env.get("PATH", "")])
        # While the job runs, no process may carry a secret in its argv.
        with ProcessSampler(SecretScanner(self.secret_values())) as sampler:
            result = subprocess.run([RUNNER, "run", str(root), "-p", playbook, "--ident", name], env=env,
                                    capture_output=True, text=True, timeout=1200, check=False)
        return Job(root, name, result, sampler)


class Job:
    def __init__(self, root, ident, result, sampler):
        self.root = root
        self.argv_findings = sampler.findings
        self.ansible_commands = sampler.commands_seen("ansible-playbook")
        self.artifacts = root / "artifacts" / ident
        self.result = result
        self.status = (self.artifacts / "status").read_text().strip() if (self.artifacts / "status").exists() else None
        self.rc = (self.artifacts / "rc").read_text().strip() if (self.artifacts / "rc").exists() else None
        self.events = []
        events_dir = self.artifacts / "job_events"
        if events_dir.is_dir():
            for name in os.listdir(events_dir):
                if name.endswith(".json"):
                    self.events.append(json.loads((events_dir / name).read_text()))
        self.events.sort(key=lambda event: event.get("counter", 0))

    def describe(self):
        stdout = (self.artifacts / "stdout").read_text() if (self.artifacts / "stdout").exists() else ""
        return "status %s rc %s\n%s\n%s" % (self.status, self.rc, stdout[-6000:], self.result.stderr[-2000:])

    def tasks(self, event="runner_on_ok"):
        return {e["event_data"].get("task") for e in self.events if e["event"] == event}

    def stats(self):
        return next(e["event_data"] for e in self.events if e["event"] == "playbook_on_stats")

    def changed(self):
        return sum(self.stats().get("changed", {}).values())


INVENTORY_VARS = awx.inventory()["all"]["vars"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = AwxSite(tmp_path_factory.mktemp("awx"))
    try:
        site.start()
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="module")
def clone_job(site):
    return site.run_job("clone", "clone_cluster.yml", {
        "cloudhsm_dr_admin_password": site.answers["cloudhsm_dr_admin_password"],
        "dr_crypto_user_password": site.answers["dr_crypto_user_password"],
        "cloudhsm_dr_backup_retention_days": 30,
    })


@pytest.fixture(scope="module")
def sync_job(site, clone_job):
    assert clone_job.status == "successful", clone_job.describe()
    site.run.run_playbook("add_user_and_key.yml", progress=False)
    return site.run_job("sync", "sync.yml", {
        "cloudhsm_dr_admin_password": site.answers["cloudhsm_dr_admin_password"],
        "dr_crypto_user_password": site.answers["dr_crypto_user_password"],
        "cloudhsm_dr_key_purge": "false",
    })


def assert_no_secret_in_artifacts(site, job):
    """No secret in any artifact or argv; the one exception is runner's own record of the job's environment (0600)."""
    scanner = SecretScanner(site.secret_values())
    assert scanner.scan_tree(str(job.root / "artifacts"), skip=("command",)) == []
    runner_env_record = job.artifacts / "command"
    assert {finding.label for finding in scanner.scan_file(str(runner_env_record))} <= set(site.aws)
    assert stat.S_IMODE(os.stat(runner_env_record).st_mode) == 0o600
    assert job.ansible_commands, "the argv sampler never saw ansible-playbook run"
    assert job.argv_findings == []
    assert "PLAY RECAP" in (job.artifacts / "stdout").read_text()


def test_clone_job_succeeds(clone_job):
    assert clone_job.status == "successful", clone_job.describe()
    assert clone_job.rc == "0"
    assert clone_job.result.returncode == 0
    stats = clone_job.stats()
    assert not stats.get("failures") and not stats.get("dark"), stats
    assert clone_job.changed() > 0


def test_clone_job_events_show_the_seed_procedure(clone_job):
    ran = clone_job.tasks("runner_on_ok") | clone_job.tasks("runner_item_on_ok")
    assert CLONE_TASKS <= ran, sorted(CLONE_TASKS - ran)
    assert not clone_job.tasks("runner_on_failed")


def test_clone_job_builds_matching_clusters(site, clone_job):
    assert clone_job.status == "successful", clone_job.describe()
    report = site.run.report()
    names = [(c["role"], c["region"], c["name"]) for c in report["clusters"]]
    source, clone = INVENTORY_VARS["cloudhsm_dr_source"], INVENTORY_VARS["cloudhsm_dr_clones"][0]
    assert names == [("source", source["region"], source["name"]), ("clone", clone["region"], clone["name"])]
    assert ("payments_app", "CU") in report["clusters"][0]["users"]
    assert [key[0] for key in report["clusters"][0]["keys"]] == ["payments-kek"]
    assert report["match"]


def test_aws_calls_carry_the_credential_types_session_token(site, clone_job):
    """AWX injects the STS token as AWS_SECURITY_TOKEN; every AWS call of the job must still be signed with it."""
    assert clone_job.status == "successful", clone_job.describe()
    signed = [r for r in site.proxy.requests if r["signed"]]
    services = {r["service"] for r in signed}
    # SigV4 names the CloudHSM API "cloudhsm"; ec2 is amazon.aws.ec2_security_group's.
    assert {"cloudhsm", "ec2"} <= services, services
    assert {r["access_key"] for r in signed} == {site.aws["AWS_ACCESS_KEY_ID"]}
    unsigned_token = [r for r in signed if r["token"] != site.aws["AWS_SECURITY_TOKEN"]]
    assert unsigned_token == [], unsigned_token[:5]


def test_clone_job_leaks_no_secret(site, clone_job):
    assert_no_secret_in_artifacts(site, clone_job)


def test_sync_job_brings_the_day2_user_and_key_to_the_clone(site, sync_job):
    assert sync_job.status == "successful", sync_job.describe()
    assert sync_job.rc == "0"
    ran = sync_job.tasks("runner_on_ok")
    assert SYNC_TASKS <= ran, sorted(SYNC_TASKS - ran)
    assert sync_job.changed() > 0
    report = site.run.report()
    assert report["match"]
    clone = report["clusters"][1]
    assert (DAY2_USER, "CU") in clone["users"]
    assert DAY2_KEY in [key[0] for key in clone["keys"]]


def test_sync_job_leaks_no_secret(site, sync_job):
    assert_no_secret_in_artifacts(site, sync_job)
