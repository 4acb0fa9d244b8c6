"""The `make demo` flow as a test, for SDK 5 and SDK 3: clone_cluster, a rerun, a day-2 user, key, key pair and
shared key, sync; then, on the SDK 3 set, the keys real clusters hold (SDK 5: tests/e2e/test_key_material.py).

The SDK 5 flow runs with the KMS settings of `make demo KMS=1` (playbooks/examples/simulator/kms.yml): kmsuser on
every cluster and a KMS custom key store on the clone, which reruns must leave alone. Its clusters also enforce
mutual TLS (cloudhsm_dr_mtls: a client CA registered as trust anchor, one client certificate for every cluster):
clone_cluster carries the anchor and the enforcement to the clone, a run without the certificates stops at the
settings check changing nothing, and an expired certificate is refused until a new one (the rotation) is placed
by a sync run.

Runs from the collection's build-tree copy (ANSIBLE_COLLECTIONS_PATH pointing at it), as root: the simulated client
packages really install into /opt/cloudhsm. Users and keys are read from the simulated HSMs themselves, not through
the collection's code. The runs are serial (the two SDKs' client packages conflict).
"""

import datetime
import hashlib
import os
import secrets
import subprocess
import sys
import time

import boto3
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import demo  # noqa: E402
import dr_sets  # noqa: E402
from dr_sets import Login, objects, users_of  # noqa: E402

DAY2_USER = "day2_user"
DAY2_KEY = "day2-key"
DAY2_PAIR = "day2-signing"
DAY2_SHARED = "day2-shared"


DAY = datetime.timedelta(days=1)
MTLS_DIR = "/opt/cloudhsm/etc/mtls"
MTLS_TAG = "hsmops.cloudhsm:mtls-enforcement"


class ClientPki:
    """A client CA (the clusters' trust anchor) and the client certificate it issued, as the files the settings
    name (the CA's key stays in memory)."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, mode=0o700)
        self.ca_key = ec.generate_private_key(ec.SECP384R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hsmops e2e client CA")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.ca = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(self.ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - DAY).not_valid_after(now + 365 * DAY)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(self.ca_key, hashes.SHA256()))
        self.ca_path = self.write("client-ca.crt", self.ca.public_bytes(serialization.Encoding.PEM))
        self.cert_path = os.path.join(directory, "client.crt")
        self.key_path = os.path.join(directory, "client.key")
        self.cert_pem = None
        self.issue()

    def write(self, name, data):
        path = os.path.join(self.directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return path

    def issue(self, expired=False):
        """A new client certificate and key in place of the old ones (what a rotation hands the operator)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        start, end = (now - 10 * DAY, now - DAY) if expired else (now - DAY, now + 30 * DAY)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hsmops e2e client")]))
                .issuer_name(self.ca.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
                .sign(self.ca_key, hashes.SHA256()))
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        self.write("client.crt", self.cert_pem.encode())
        self.write("client.key", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))


class MtlsDemoRun(demo.DemoRun):
    """The demo with cloudhsm_dr_mtls (mtls.yml in the run directory). The test's own reads of the HSMs present
    the current client certificate, as a trusted client does."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pki = None
        self.mtls_settings = None
        self.with_certificates = True

    def write_mtls_settings(self):
        self.pki = ClientPki(os.path.join(self.run_dir, "pki"))
        self.mtls_settings = os.path.join(self.run_dir, "mtls.yml")
        with open(self.mtls_settings, "w") as handle:
            handle.write("---\n")
            yaml.safe_dump({"cloudhsm_dr_mtls": {
                "trust_anchors": ["{{ lookup('ansible.builtin.file', '%s') }}" % self.pki.ca_path],
                "enforcement": "client-and-server",
                "certificate_src": self.pki.cert_path,
                "private_key_src": self.pki.key_path,
            }}, handle, default_flow_style=False)

    @property
    def settings_files(self):
        extra = [self.mtls_settings] if self.mtls_settings and self.with_certificates else []
        return super().settings_files + extra

    def hsm_call(self, op, **args):
        if self.pki is not None:
            args.setdefault("client_cert", self.pki.cert_pem)
        return super().hsm_call(op, **args)


def start_flow(sdk, run_dir, kms=False, mtls=False):
    run = (MtlsDemoRun if mtls else demo.DemoRun)(sdk, str(run_dir), out=sys.stderr, kms=kms)
    run.prepare_run_dir()
    if mtls:
        run.write_mtls_settings()
    run.reset_client()
    run.start_simulator()
    run.build_package()
    run.write_secrets()
    run.run_playbook("prepare_network.yml", progress=False)
    return run


def pytest_generate_tests(metafunc):
    """A test runs on the flow of each SDK it applies to (its `for_sdks` marker, both when unmarked); the tests of
    one SDK share that SDK's flow, in the order they are written."""
    if "flow" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("for_sdks")
    sdks = list(marker.args) if marker else ["5", "3"]
    metafunc.parametrize("flow", sdks, ids=["sdk" + sdk for sdk in sdks], indirect=True, scope="module")


@pytest.fixture(scope="module")
def flow(request, tmp_path_factory):
    run = start_flow(request.param, tmp_path_factory.mktemp("sdk" + request.param) / "run", kms=request.param == "5",
                     mtls=request.param == "5")
    yield run
    run.stop_simulator()


def describe(run, region):
    return boto3.client("cloudhsmv2", region_name=region, endpoint_url=run.env["AWS_ENDPOINT_URL"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def assert_one_clone_set(run):
    """Exactly one live cluster per name and region, each with the HSMs asked for, and one copy of the backup."""
    settings = run.dr_settings()
    clusters = run.clusters()
    members = [settings["cloudhsm_dr_source"]] + settings["cloudhsm_dr_clones"]
    assert sorted((c["region"], c["name"]) for c in clusters) == sorted((m["region"], m["name"]) for m in members)
    for member in members:
        cluster = next(c for c in clusters if c["name"] == member["name"])
        assert len(cluster["hsm_ips"]) == len(member["availability_zones"]), cluster
        assert cluster["state"] == "ACTIVE"
    for clone in settings["cloudhsm_dr_clones"]:
        client = describe(run, clone["region"])
        copies = [b for b in client.describe_backups()["Backups"] if b.get("SourceBackup")]
        assert len(copies) == 1, copies
        clone_cluster = next(c for c in clusters if c["name"] == clone["name"])
        assert clone_cluster["source_backup_id"] == copies[0]["BackupId"]


def test_clone_cluster_check_mode_from_nothing_creates_nothing(flow):
    """Check mode before any cluster exists may report what it would create, but creates nothing."""
    flow.run_playbook("clone_cluster.yml", log_name="clone_cluster-check-empty", check=True, progress=False)
    assert flow.clusters() == []


def test_clone_cluster_builds_the_dr_set(flow):
    run = flow.run_playbook("clone_cluster.yml", progress=False)
    assert run.changed > 0
    assert_one_clone_set(flow)
    report = flow.report()
    source, clone = report["clusters"][0], report["clusters"][1]
    assert ("payments_app", "CU") in source["users"]
    assert [k[0] for k in source["keys"]] == ["demo-kek"]
    assert clone["users"] == source["users"] and clone["keys"] == source["keys"]
    assert report["match"]
    assert_clients_admitted(flow)
    if flow.kms:
        assert ("kmsuser", "CU") in source["users"] and ("kmsuser", "CU") in clone["users"]
        assert_clone_key_store_connected(flow)
    if isinstance(flow, MtlsDemoRun):
        assert_mtls_enforced(flow)


def assert_mtls_enforced(run):
    """Every cluster trusts exactly the client CA, enforces mTLS (and says so in its tag), and refuses a client
    without a certificate; the host holds each cluster's pair, the key root's alone, named in the CLI config."""
    with open(os.path.join(demo.CLIENT_ETC, "cloudhsm-cli.cfg")) as handle:
        cli_cfg = handle.read()
    for cluster in run.clusters():
        hsm = cluster["hsm_ips"][0]
        anchors = run.hsm_call("list_trust_anchors", hsm=hsm)["trust_anchors"]
        assert [a["certificate"].strip() for a in anchors] == [run.pki.ca.public_bytes(
            serialization.Encoding.PEM).decode().strip()], anchors
        admin = next(u for u in run.hsm_call("list_users", hsm=hsm)["users"] if u["name"] == "admin")
        session = run.hsm_call("login", hsm=hsm, role=admin["role"], username="admin",
                               password=run.passwords["admin"])["session"]
        try:
            assert run.hsm_call("get_mtls_enforcement", hsm=hsm, session=session)["level"] == "client-and-server"
        finally:
            run.hsm_call("logout", hsm=hsm, session=session)
        with pytest.raises(demo.DemoError, match="enforces mutual TLS"):
            run.hsm_call("list_users", hsm=hsm, client_cert="")
        tags = cluster_tags(run, cluster)
        assert tags.get(MTLS_TAG) == "client-and-server", tags
        key = os.stat(os.path.join(MTLS_DIR, cluster["cluster_id"] + ".key"))
        assert (key.st_mode & 0o777, key.st_uid) == (0o600, 0)
        assert '"%s/%s.crt"' % (MTLS_DIR, cluster["cluster_id"]) in cli_cfg


def cluster_tags(run, cluster):
    found = describe(run, cluster["region"]).describe_clusters(Filters={"clusterIds": [cluster["cluster_id"]]})
    return {t["Key"]: t["Value"] for t in found["Clusters"][0].get("TagList", [])}


def host_files():
    """The client host's CLI configuration and mTLS files, by path: what a failed run must leave as it was."""
    paths = [os.path.join(demo.CLIENT_ETC, "cloudhsm-cli.cfg")]
    paths += sorted(os.path.join(MTLS_DIR, name) for name in os.listdir(MTLS_DIR))
    return {path: hashlib.sha256(open(path, "rb").read()).hexdigest() for path in paths}


def run_expecting_failure(run, name, log_name):
    """(return code, changed count, log text) of a playbook run that is expected to fail."""
    proc, log, log_path = run.start_playbook(name, log_name=log_name)
    with log:
        for line in proc.stdout:
            log.write(line)
    returncode = proc.wait()
    with open(log_path) as handle:
        text = handle.read()
    changed = sum(int(match.group(3)) for match in map(demo.RECAP.match, text.splitlines()) if match)
    return returncode, changed, text


@pytest.fixture
def mtls_flow(flow):
    """The SDK 5 flow, whose clusters enforce mutual TLS (SDK 3 has no client certificates)."""
    assert isinstance(flow, MtlsDemoRun), "a test of mutual TLS runs on the SDK 5 flow only: mark it for_sdks(\"5\")"
    return flow


def assert_clone_key_store_connected(run):
    """The clone's KMS key store exists once, is CONNECTED, and is backed by the clone."""
    clusters = {c["region"]: c for c in run.clusters()}
    stores = run.clone_key_stores()
    assert stores, "the KMS settings name no key store on a clone"
    for clone, store in stores:
        assert store is not None, clone
        assert store["ConnectionState"] == "CONNECTED", store
        assert store["CloudHsmClusterId"] == clusters[clone["region"]]["cluster_id"]
        listed = run.aws("kms", clone["region"]).describe_custom_key_stores()["CustomKeyStores"]
        assert [s["CustomKeyStoreName"] for s in listed].count(clone["key_store"]) == 1
    return stores


def reconnect_clone_key_stores(run):
    """Disconnect and connect each clone store: KMS logs in with the kmsuser password it rotated to, which fails
    with INVALID_CREDENTIALS if a rerun or a sync had reset the password."""
    for clone, store in run.clone_key_stores():
        kms = run.aws("kms", clone["region"])
        store_id = store["CustomKeyStoreId"]
        kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
        for wanted in ("DISCONNECTED", "CONNECTED"):
            if wanted == "CONNECTED":
                kms.connect_custom_key_store(CustomKeyStoreId=store_id)
            deadline = time.monotonic() + 30
            while True:
                store = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]
                if store["ConnectionState"] in (wanted, "FAILED") or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert store["ConnectionState"] == wanted, store


def assert_clients_admitted(run):
    """Every cluster's security group lets the client network in on the CloudHSM ports, once."""
    cidr = run.dr_settings()["cloudhsm_dr_client_cidrs"][0]
    for cluster in run.clusters():
        cloudhsm = describe(run, cluster["region"])
        group_id = cloudhsm.describe_clusters(Filters={"clusterIds": [cluster["cluster_id"]]})["Clusters"][0]["SecurityGroup"]
        ec2 = boto3.client("ec2", region_name=cluster["region"], endpoint_url=run.env["AWS_ENDPOINT_URL"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        rules = [(p.get("FromPort"), p.get("ToPort"), r["CidrIp"]) for p in group["IpPermissions"] for r in p["IpRanges"]]
        assert rules.count((2223, 2225, cidr)) == 1, rules


def test_clone_cluster_rerun_changes_nothing(flow):
    stores_before = flow.clone_key_stores() if flow.kms else []
    run = flow.run_playbook("clone_cluster.yml", log_name="clone_cluster-rerun", progress=False)
    assert run.changed_tasks == [] and run.changed == 0
    if flow.kms:
        assert [s["CustomKeyStoreId"] for _c, s in assert_clone_key_store_connected(flow)] == [
            s["CustomKeyStoreId"] for _c, s in stores_before]


def test_clone_cluster_check_mode_on_the_dr_set_changes_nothing(flow):
    run = flow.run_playbook("clone_cluster.yml", log_name="clone_cluster-check", check=True, progress=False)
    assert run.changed == 0, run.changed_tasks


@pytest.mark.for_sdks("5")
def test_a_clone_without_the_sources_mtls_settings_gets_them_from_clone_cluster(mtls_flow):
    """AWS does not say whether a clone restored from a backup keeps the source's trust anchors and enforcement; the
    simulator's clones keep them (the build above only verified them). A clone that has neither - the other possible
    answer - gets them from a clone_cluster run, and nothing else changes."""
    clone = mtls_flow.clusters()[1]
    hsm = clone["hsm_ips"][0]
    admin = next(u for u in mtls_flow.hsm_call("list_users", hsm=hsm)["users"] if u["name"] == "admin")
    session = mtls_flow.hsm_call("login", hsm=hsm, role=admin["role"], username="admin",
                                 password=mtls_flow.passwords["admin"])["session"]
    try:
        mtls_flow.hsm_call("set_mtls_enforcement", hsm=hsm, session=session, level="none")
        for anchor in mtls_flow.hsm_call("list_trust_anchors", hsm=hsm)["trust_anchors"]:
            mtls_flow.hsm_call("deregister_trust_anchor", hsm=hsm, session=session, reference=anchor["reference"])
    finally:
        mtls_flow.hsm_call("logout", hsm=hsm, session=session)
    assert mtls_flow.hsm_call("list_trust_anchors", hsm=hsm)["trust_anchors"] == []
    run = mtls_flow.run_playbook("clone_cluster.yml", log_name="clone_cluster-clone-without-mtls", progress=False)
    assert [task.split(" : ")[-1] for task in run.changed_tasks] == [
        "Register the trust anchors and set the mTLS enforcement on every cluster of the DR set"], run.changed_tasks
    assert_mtls_enforced(mtls_flow)


@pytest.mark.for_sdks("5")
def test_without_client_certificates_the_run_stops_at_the_settings_check(mtls_flow):
    """Clusters that enforce mTLS and settings without cloudhsm_dr_mtls: clone_cluster and sync fail before any
    change, naming mTLS and the variables to set."""
    before = (mtls_flow.report(), host_files(), [cluster_tags(mtls_flow, c) for c in mtls_flow.clusters()])
    mtls_flow.with_certificates = False
    try:
        for name in ("clone_cluster.yml", "sync.yml"):
            returncode, changed, text = run_expecting_failure(mtls_flow, name, log_name=name[:-4] + "-no-mtls")
            assert returncode != 0 and changed == 0, name
            failed_task = [line for line in text[:text.index("fatal:")].splitlines() if line.startswith("TASK [")][-1]
            assert failed_task.startswith("TASK [hsmops.cloudhsm.cloudhsm_dr_settings : Check the DR settings"), name
            message = text[text.index("fatal:"):]
            for words in ("Mutual TLS (mTLS) is enforced on", "cloudhsm_dr_mtls is not set", "trust_anchors",
                          "certificate_src", "private_key", "nothing was changed"):
                assert words in message, (name, words)
    finally:
        mtls_flow.with_certificates = True
    assert (mtls_flow.report(), host_files(), [cluster_tags(mtls_flow, c) for c in mtls_flow.clusters()]) == before


def test_sync_brings_a_new_user_and_key_to_the_clone(flow):
    flow.run_playbook("add_user_and_key.yml", progress=False)
    before = flow.report()
    assert not before["match"]
    assert (DAY2_USER, "CU") not in before["clusters"][1]["users"]
    run = flow.run_playbook("sync.yml", progress=False)
    assert run.changed > 0
    report = flow.report()
    assert report["match"]
    for cluster in report["clusters"]:
        assert (DAY2_USER, "CU") in cluster["users"]
        assert DAY2_KEY in [k[0] for k in cluster["keys"]]
        # The key pair arrives whole, the shared key with its share.
        assert sorted(k[5] for k in cluster["keys"] if k[0].startswith(DAY2_PAIR)) == ["private-key", "public-key"]
        assert [k[6] for k in cluster["keys"] if k[0] == DAY2_SHARED] == [("payments_app",)]


@pytest.mark.for_sdks("5")
def test_an_expired_client_certificate_is_refused_and_rotating_it_is_a_sync_run(mtls_flow):
    """The certificate expired: the clusters refuse the client and sync fails naming mutual TLS, changing nothing on
    them. A new certificate from the same CA (the rotation): sync places it for every cluster under the same paths
    (the CLI configuration stays) and completes; nothing else changes."""
    config_before = open(os.path.join(demo.CLIENT_ETC, "cloudhsm-cli.cfg")).read()
    report_before = mtls_flow.report()
    mtls_flow.pki.issue(expired=True)
    returncode, _changed, text = run_expecting_failure(mtls_flow, "sync.yml", log_name="sync-expired-certificate")
    assert returncode != 0
    assert "mutual TLS" in text[text.index("fatal:"):]
    mtls_flow.pki.issue()
    assert mtls_flow.report() == report_before
    run = mtls_flow.run_playbook("sync.yml", log_name="sync-rotated-certificate", progress=False)
    assert run.changed_tasks and all(
        task.endswith(("Place each cluster's client certificate", "Place each cluster's client private key"))
        for task in run.changed_tasks), run.changed_tasks
    for cluster in mtls_flow.clusters():
        with open(os.path.join(MTLS_DIR, cluster["cluster_id"] + ".crt")) as handle:
            assert handle.read().strip() == mtls_flow.pki.cert_pem.strip()
    assert open(os.path.join(demo.CLIENT_ETC, "cloudhsm-cli.cfg")).read() == config_before
    assert mtls_flow.report()["match"]


def test_sync_with_nothing_new_changes_nothing(flow):
    run = flow.run_playbook("sync.yml", log_name="sync-rerun", progress=False)
    assert run.changed_tasks == [] and run.changed == 0
    if flow.kms:
        reconnect_clone_key_stores(flow)


@pytest.mark.for_sdks("3")
def test_sdk3_pairs_shares_a_renamed_key_and_session_keys(flow):
    """SDK 3 (syncKey over SyncClusters.cfg): an RSA and an EC pair, a key shared by one crypto user with another,
    a key relabelled after cloning and a session key on the source; sync.yml copies the share user first, then
    each pair (one entry) and the shared key with owner and share; the session key is neither counted nor copied;
    the label change is reported with both values and left; a rerun changes nothing."""
    clusters = {c["region"]: c for c in flow.clusters()}
    source, clone = clusters["us-east-1"], clusters["us-west-2"]
    flow.passwords["partner_app"] = secrets.token_urlsafe(12)
    with Login(flow, source, "admin", flow.passwords["admin"]) as admin:
        admin.call("create_user", role="CU", username="partner_app", password=flow.passwords["partner_app"])
    with Login(flow, source, "payments_app", flow.passwords["payments_app"]) as owner:
        owner.call("generate_key_pair", key_type="rsa", public_label="tls-rsa", private_label="tls-rsa",
                   modulus_bits=2048)
        owner.call("generate_key_pair", key_type="ec", public_label="sign-ec", private_label="sign-ec",
                   curve="secp256r1")
        owner.call("generate_key", key_type="aes", size=32, label="shared-kek", share=["partner_app"])
        [kek] = [k for k in owner.call("list_keys")["keys"] if k["label"] == "demo-kek"]
        owner.call("set_attribute", name="label", value="demo-kek-v2", handle=kek["handle"])
        owner.call("generate_key", key_type="aes", size=16, label="scratch", session_key=True)
        held = objects(flow, source)
        run = flow.run_playbook("sync.yml", log_name="sync-key-material", progress=False)
        assert "scratch" in [k[1] for k in objects(flow, source)], "the session key ended before the sync did"

    lines = dr_sets.summary(run)
    copied = [line for line in lines if line.startswith("keys copied to %s this run: " % clone["cluster_id"])]
    assert len(copied) == 1, lines
    assert sorted(copied[0].split(": ", 1)[1].split(", ")) == ["shared-kek", "sign-ec", "tls-rsa"], lines
    assert "users copied to %s this run: partner_app" % clone["cluster_id"] in lines, lines

    on_clone = objects(flow, clone)
    expected = sorted(k if k[1] != "demo-kek-v2" else (k[0], "demo-kek") + k[2:] for k in held if not k[6])
    assert on_clone == expected, (on_clone, expected)
    assert [k[5] for k in on_clone if k[1] == "shared-kek"] == [("partner_app",)]
    assert ("partner_app", "CU") in users_of(flow, clone)
    drift = [line for line in lines if line.startswith("drift on %s" % clone["cluster_id"])]
    assert len(drift) == 1 and ('keys whose attributes differ [demo-kek-v2 (label "demo-kek-v2" on the source, '
                                '"demo-kek" here)]') in drift[0], lines
    assert lines[-1] == "differences left: 1", lines

    again = flow.run_playbook("sync.yml", log_name="sync-key-material-again", progress=False)
    assert again.changed == 0, again.changed_tasks
    assert objects(flow, clone) == on_clone
    assert dr_sets.summary(again)[-1] == "differences left: 1"

    # The label goes back on the source: the drift is gone, and the set is in sync for the tests after this one.
    with Login(flow, source, "payments_app", flow.passwords["payments_app"]) as owner:
        owner.call("set_attribute", name="label", value="demo-kek", handle=kek["handle"])
    settled = flow.run_playbook("sync.yml", log_name="sync-key-material-relabelled", progress=False)
    assert settled.changed == 0, settled.changed_tasks
    assert dr_sets.summary(settled)[-1] == "differences left: 0"
    assert flow.report()["match"]


@pytest.mark.for_sdks("3")
def test_sdk3_cloudhsm_key_counts_more_than_20_keys_under_one_label(flow):
    """key_mgmt_util findKey wraps long handle lists over lines; cloudhsm_key reads every line."""
    source = next(c for c in flow.clusters() if c["region"] == "us-east-1")
    with Login(flow, source, "payments_app", flow.passwords["payments_app"]) as owner:
        for unused in range(21):
            owner.call("generate_key", key_type="aes", size=32, label="bulk")
    playbook = os.path.join(flow.run_dir, "count_bulk.yml")
    with open(playbook, "w") as handle:
        handle.write(COUNT_PLAYBOOK)
    try:
        flow.run_playbook(playbook, progress=False)
    finally:
        # The bulk keys exist for the count only: the set goes back in sync for the tests after this one.
        with Login(flow, source, "payments_app", flow.passwords["payments_app"]) as owner:
            for key in owner.call("list_keys")["keys"]:
                if key["label"] == "bulk":
                    owner.call("delete_key", handle=key["handle"])
    assert flow.report()["match"]


COUNT_PLAYBOOK = """---
- name: Count the keys labelled bulk on the source through cloudhsm_key (SDK 3)
  hosts: cloudhsm_clients
  gather_facts: false
  tasks:
    - name: Look for the one key labelled bulk
      hsmops.cloudhsm.cloudhsm_key:
        sdk: "3"
        label: bulk
        username: payments_app
        role: crypto-user
        password: "{{ dr_passwords.payments_app }}"
      register: bulk
      ignore_errors: true

    - name: All 21 keys were seen
      ansible.builtin.assert:
        that:
          - bulk.failed
          - "'matches 21 keys' in bulk.msg"
        fail_msg: "{{ bulk.msg | default(bulk) }}"
"""


@pytest.mark.for_sdks("3")
def test_migrate_moves_the_dr_set_to_the_current_client_and_hsm_type(flow):
    """Last on the SDK 3 DR set: playbooks/migrate.yml. The clients move to SDK 5 and the clones, then the source,
    become hsm2m.medium with exactly the users and keys they held; a rerun changes nothing; sync works with SDK 5.
    (The week AWS wants between the last SDK 3 connection and the migration passes in the simulator first; the
    refusal before it is tests/simulator/test_hsm_type_migration.py's.) Then, inside the 24 hour rollback window,
    migrate.yml in rollback mode, previewed in check mode first, returns every cluster to hsm1.medium with what it
    held; the clients stay on SDK 5 (the refusal after the window is tests/simulator/test_migrate_playbook.py's).
    Afterwards the flow runs with SDK 5."""
    before = flow.report()
    assert before["match"]
    migrate_vars = flow.prepare_migration(seconds_per_hsm=1.0)
    flow.let_a_week_pass()
    run = flow.run_playbook("migrate.yml", progress=False, extra_files=[migrate_vars])
    assert run.changed > 0
    installed = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", "cloudhsm-cli",
                                "cloudhsm-client"], capture_output=True, text=True, check=False).stdout
    assert "cloudhsm-cli ii" in installed and "cloudhsm-client ii" not in installed
    assert set(flow.hsm_types().values()) == {("ACTIVE", "hsm2m.medium")}
    after = flow.report()
    assert [(c["cluster_id"], c["users"], c["keys"]) for c in after["clusters"]] == [
        (c["cluster_id"], c["users"], c["keys"]) for c in before["clusters"]]

    rerun = flow.run_playbook("migrate.yml", log_name="migrate-rerun", progress=False, extra_files=[migrate_vars])
    assert rerun.changed_tasks == [] and rerun.changed == 0

    flow.use_sdk5()
    synced = flow.run_playbook("sync.yml", log_name="sync-sdk5", progress=False)
    assert synced.changed == 0, synced.changed_tasks

    rollback_vars = os.path.join(flow.run_dir, "rollback.yml")
    with open(rollback_vars, "w") as handle:
        handle.write("---\ncloudhsm_dr_migrate_mode: rollback\n")
    preview = flow.run_playbook("migrate.yml", log_name="rollback-check", check=True, progress=False,
                                extra_files=[migrate_vars, rollback_vars])
    assert preview.changed_tasks == ["Change the HSM type of the cluster to hsm1.medium"]
    assert preview.changed == len(before["clusters"])
    assert set(flow.hsm_types().values()) == {("ACTIVE", "hsm2m.medium")}
    rolled_back = flow.run_playbook("migrate.yml", log_name="rollback", progress=False,
                                    extra_files=[migrate_vars, rollback_vars])
    assert (rolled_back.changed_tasks, rolled_back.changed) == (preview.changed_tasks, preview.changed)
    assert set(flow.hsm_types().values()) == {("ACTIVE", "hsm1.medium")}
    after_rollback = flow.report()
    assert [(c["cluster_id"], c["users"], c["keys"]) for c in after_rollback["clusters"]] == [
        (c["cluster_id"], c["users"], c["keys"]) for c in before["clusters"]]
