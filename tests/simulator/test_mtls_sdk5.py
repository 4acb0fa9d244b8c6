"""Mutual TLS on hsm2m clusters through the emulated cloudhsm-cli and configure-cli.

Answers AWS publishes (register-trust-anchor, list-trust-anchors, get-enforcement) are compared as published; the
others follow tools/unconfirmed.py. A cluster that enforces mTLS must refuse a client without a certificate, with one
signed by another CA, with an expired one, and one whose key does not match; and let in one signed by an anchor.
"""

import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from cloudhsm_sim.dataplane.testing import run_tool
from cloudhsm_sim.tools import unconfirmed
# hsm: the module-scoped simulated HSM server fixture.
from test_transcripts_sdk5 import Setup, hsm  # noqa: F401  pylint: disable=unused-import

DAY = datetime.timedelta(days=1)


class Pki:
    """A root CA (the trust anchor) that issues client certificates, written as PEM files under ``directory``."""

    def __init__(self, directory, name, key=None):
        self.directory = directory
        self.name = name
        self.key = key or ec.generate_private_key(ec.SECP384R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY)
            .not_valid_after(now + 365 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.path = self.write(name + ".crt", self.cert.public_bytes(serialization.Encoding.PEM))

    def write(self, filename, data):
        path = self.directory / filename
        path.write_bytes(data)
        return str(path)

    def issue(self, name, expired=False):
        """A client certificate and key; returns (certificate path, key path)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        start, end = (now - 10 * DAY, now - DAY) if expired else (now - DAY, now + 30 * DAY)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return (
            self.write(name + ".crt", cert.public_bytes(serialization.Encoding.PEM)),
            self.write(name + ".key", key_pem),
        )


def answer(result):
    return json.loads(result.stdout)


def ok(result):
    data = answer(result)
    assert data["error_code"] == 0, data
    return data["data"]


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path, "customer-root")


def enforce(setup, pki, tmp_path):
    """Register ``pki`` as anchor, give the client a certificate it signed, enforce client-and-server."""
    ok(setup.as_admin("cluster", "mtls", "register-trust-anchor", "--path", pki.path))
    cert, key = pki.issue("client-" + setup.cluster_id)
    setup.configure("--client-cert-hsm-tls-file", cert, "--client-key-hsm-tls-file", key)
    ok(setup.as_admin("cluster", "mtls", "set-enforcement", "--level", "client-and-server"))
    return cert, key


def test_register_list_and_the_two_anchor_limit(hsm, tmp_path, pki):  # noqa: F811
    setup = Setup(hsm, tmp_path)
    assert ok(setup.cli("cluster", "mtls", "list-trust-anchors")) == {"trust_anchors": []}  # no login needed
    registered = ok(setup.as_admin("cluster", "mtls", "register-trust-anchor", "--path", pki.path))
    pem = open(pki.path).read()
    # As published: {"trust_anchor": {"certificate-reference": "0x01", "certificate": <PEM>, "cluster-coverage": ...}}
    assert registered == {
        "trust_anchor": {"certificate-reference": "0x01", "certificate": pem, "cluster-coverage": "full"}
    }
    again = answer(setup.as_admin("cluster", "mtls", "register-trust-anchor", "--path", pki.path))
    assert again == {"error_code": 1, "data": unconfirmed.CLI_ERRORS["trust_anchor_exists"]}
    second = Pki(tmp_path, "customer-root-2", key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ok(setup.as_admin("cluster", "mtls", "register-trust-anchor", "--path", second.path))
    listed = ok(setup.cli("cluster", "mtls", "list-trust-anchors"))["trust_anchors"]
    assert [a["certificate-reference"] for a in listed] == ["0x01", "0x02"]
    third = Pki(tmp_path, "customer-root-3")
    refused = answer(setup.as_admin("cluster", "mtls", "register-trust-anchor", "--path", third.path))
    assert refused == {"error_code": 1, "data": unconfirmed.CLI_ERRORS["trust_anchor_limit"]}
    ok(setup.as_admin("cluster", "mtls", "deregister-trust-anchor", "--certificate-reference", "0x01"))
    assert (
        ok(setup.as_admin("cluster", "mtls", "register-trust-anchor", "--path", third.path))["trust_anchor"][
            "certificate-reference"
        ]
        == "0x01"
    )
    weak = Pki(tmp_path, "weak-root", key=rsa.generate_private_key(public_exponent=65537, key_size=1024))
    ok(setup.as_admin("cluster", "mtls", "deregister-trust-anchor", "--certificate-reference", "1"))
    refused = answer(setup.as_admin("cluster", "mtls", "register-trust-anchor", "--path", weak.path))
    assert refused["data"] == unconfirmed.CLI_ERRORS["invalid_trust_anchor"]
    as_cu_nothing = answer(setup.cli("cluster", "mtls", "register-trust-anchor", "--path", third.path))
    assert as_cu_nothing == {"error_code": 1, "data": unconfirmed.CLI_ERRORS["not_logged_in"]}


def test_enforcement_levels_and_who_may_set_them(hsm, tmp_path, pki):  # noqa: F811
    setup = Setup(hsm, tmp_path)
    setup.crypto_user()
    # As published: {"error_code": 0, "data": {"mtls-enforcement-level": "none"}}; admins and crypto users may ask.
    assert ok(setup.as_cu("cluster", "mtls", "get-enforcement")) == {"mtls-enforcement-level": "none"}
    not_logged_in = answer(setup.cli("cluster", "mtls", "get-enforcement"))
    assert not_logged_in["error_code"] == 1
    bad = answer(setup.as_admin("cluster", "mtls", "set-enforcement", "--level", "strict"))
    assert bad["error_code"] == 1 and "--level" in bad["data"]
    no_anchor = answer(setup.as_admin("cluster", "mtls", "set-enforcement", "--level", "client-and-server"))
    assert no_anchor["data"] == unconfirmed.CLI_ERRORS["no_trust_anchor"]
    ok(setup.as_admin("cluster", "mtls", "register-trust-anchor", "--path", pki.path))
    # This client presents no certificate yet: enforcing now would lock it out, so the HSM refuses.
    self_lockout = answer(setup.as_admin("cluster", "mtls", "set-enforcement", "--level", "client-and-server"))
    assert self_lockout["data"] == unconfirmed.CLI_ERRORS["mtls_client_not_trusted"]
    assert setup.state.mtls_enforcement == "none"
    cert, key = pki.issue("client")
    setup.configure("--client-cert-hsm-tls-file", cert, "--client-key-hsm-tls-file", key)
    message = ok(setup.as_admin("cluster", "mtls", "set-enforcement", "--level", "client-and-server"))
    assert message == {"message": unconfirmed.CLI_MTLS_ENFORCEMENT_SET.format(level="Client And Server")}
    assert ok(setup.as_cu("cluster", "mtls", "get-enforcement")) == {"mtls-enforcement-level": "client-and-server"}
    last = answer(setup.as_admin("cluster", "mtls", "deregister-trust-anchor", "--certificate-reference", "0x01"))
    assert last["data"] == unconfirmed.CLI_ERRORS["trust_anchor_in_use"]
    ok(setup.as_admin("cluster", "mtls", "set-enforcement", "--level", "none"))
    ok(setup.as_admin("cluster", "mtls", "deregister-trust-anchor", "--certificate-reference", "0x01"))


def test_enforcing_cluster_refuses_clients_it_does_not_trust(hsm, tmp_path, pki):  # noqa: F811
    setup = Setup(hsm, tmp_path)
    cert, key = enforce(setup, pki, tmp_path)
    assert ok(setup.cli("user", "list"))["users"]  # the trusted client gets in
    config_path = setup.root + "/etc/cloudhsm-cli.cfg"
    config = json.loads(open(config_path).read())
    stranger = Pki(tmp_path, "stranger-root")
    strange_cert, strange_key = stranger.issue("stranger")
    expired_cert, expired_key = pki.issue("expired", expired=True)
    other_cert, other_key = pki.issue("other")
    refused = {"error_code": 1, "data": unconfirmed.CLI_ERRORS["mtls_refused"]}
    for presented in ((None, None), (strange_cert, strange_key), (expired_cert, expired_key)):
        entry = config["clusters"][0]["cluster"]
        entry.pop(unconfirmed.CFG_CLIENT_CERT_KEY, None)
        entry.pop(unconfirmed.CFG_CLIENT_KEY_KEY, None)
        if presented[0]:
            entry[unconfirmed.CFG_CLIENT_CERT_KEY], entry[unconfirmed.CFG_CLIENT_KEY_KEY] = presented
        open(config_path, "w").write(json.dumps(config))
        assert answer(setup.cli("user", "list")) == refused, presented
        assert answer(setup.as_admin("cluster", "hsm-info")) == refused
        assert answer(setup.cli("cluster", "mtls", "list-trust-anchors")) == refused
    # A certificate the anchor signed but with someone else's key: the handshake cannot complete.
    setup.configure("--client-cert-hsm-tls-file", cert, "--client-key-hsm-tls-file", other_key)
    mismatch = answer(setup.cli("user", "list"))
    assert mismatch["data"] == unconfirmed.CLI_MTLS_KEY_MISMATCH.format(path=cert)
    setup.configure("--client-cert-hsm-tls-file", other_cert, "--client-key-hsm-tls-file", other_key)
    assert ok(setup.cli("user", "list"))["users"]


def test_configure_takes_client_certificates_per_cluster(hsm, tmp_path, pki):  # noqa: F811
    source = Setup(hsm, tmp_path)
    cert, key = enforce(source, pki, tmp_path)
    clone = Setup(hsm, tmp_path, source=source)
    # Backups carry the anchors and the enforcement level (simulator choice, NOT CONFIRMED by AWS).
    assert clone.state.mtls_enforcement == "client-and-server"
    assert list(clone.state.trust_anchors) == ["1"]
    clone_cert, clone_key = pki.issue("clone-client")
    one_only = run_tool(
        source.root,
        "configure-cli",
        ["add-cluster", "--cluster-id", clone.cluster_id, "--region", "us-east-1", "--client-cert-hsm-tls-file", cert],
        endpoint=hsm.endpoint,
    )
    assert one_only.returncode == 1 and "must be given together" in one_only.stderr
    source.configure(
        "add-cluster",
        "--cluster-id",
        source.cluster_id,
        "--region",
        "us-east-1",
        "--client-cert-hsm-tls-file",
        cert,
        "--client-key-hsm-tls-file",
        key,
    )
    source.configure(
        "add-cluster",
        "--cluster-id",
        clone.cluster_id,
        "--region",
        "us-east-1",
        "--client-cert-hsm-tls-file",
        clone_cert,
        "--client-key-hsm-tls-file",
        clone_key,
    )
    config = json.loads(open(source.root + "/etc/cloudhsm-cli.cfg").read())
    presented = {c.get("cluster_id"): c["cluster"].get(unconfirmed.CFG_CLIENT_CERT_KEY) for c in config["clusters"]}
    assert presented == {None: cert, source.cluster_id: cert, clone.cluster_id: clone_cert}  # None: the -a entry
    for target in (source, clone):
        assert ok(source.cli("user", "list", "--cluster-id", target.cluster_id))["users"]
    # A user made in the source; replicate carries it to the clone over mTLS on both ends.
    ok(
        source.as_admin(
            "user",
            "create",
            "--username",
            "replica",
            "--role",
            "crypto-user",
            "--password",
            "Crypto-Pass1",
            "--cluster-id",
            source.cluster_id,
        )
    )
    env = {
        "CLOUDHSM_ROLE": "admin",
        "CLOUDHSM_PIN": "admin:Admin-Pass1",
        "DESTINATION_CLOUDHSM_ROLE": "admin",
        "DESTINATION_CLOUDHSM_PIN": "admin:Admin-Pass1",
    }
    ids = ["--source-cluster-id", source.cluster_id, "--destination-cluster-id", clone.cluster_id]
    ok(source.cli("user", "replicate", "--username", "replica", "--role", "crypto-user", *ids, env=env))
    # Without the clone's certificate the destination end of the replication is refused.
    source.configure("remove-cluster", "--cluster-id", clone.cluster_id)
    source.configure("add-cluster", "--cluster-id", clone.cluster_id, "--region", "us-east-1")
    refused = answer(source.cli("user", "list", "--cluster-id", clone.cluster_id))
    assert refused["data"] == unconfirmed.CLI_ERRORS["mtls_refused"]


def test_mtls_is_for_hsm2m_clusters_only(hsm, tmp_path, pki):  # noqa: F811
    setup = Setup(hsm, tmp_path)
    setup.state.hsm_type = "hsm1.medium"
    refused = answer(setup.as_admin("cluster", "mtls", "register-trust-anchor", "--path", pki.path))
    assert refused["data"] == unconfirmed.CLI_ERRORS["mtls_unsupported"]


def test_clone_without_inherited_mtls(hsm, tmp_path, pki, monkeypatch):  # noqa: F811
    """The other reading of AWS's silence: a backup that does not carry the mTLS settings."""
    from cloudhsm_sim.dataplane import model

    monkeypatch.setattr(model, "MTLS_IN_BACKUPS", False)
    source = Setup(hsm, tmp_path)
    enforce(source, pki, tmp_path)
    clone = Setup(hsm, tmp_path, source=source)
    assert clone.state.mtls_enforcement == "none" and clone.state.trust_anchors == {}
    assert source.state.mtls_enforcement == "client-and-server"


def test_mtls_help_as_published(hsm, tmp_path):  # noqa: F811
    setup = Setup(hsm, tmp_path, activate=False)
    text = setup.cli("help", "cluster", "mtls", "get-enforcement").stdout
    assert text.startswith("Get the status of mtls enforcement in the cluster\n\nUsage: cluster mtls get-enforcement")
    assert (
        "Filepath of the trust anchor to register" in setup.cli("cluster", "mtls", "register-trust-anchor", "-h").stdout
    )
