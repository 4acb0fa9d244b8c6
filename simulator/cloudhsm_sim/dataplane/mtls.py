"""Mutual TLS between client and HSM (hsm2m.medium): trust-anchor checks and the client-certificate check.

Sources (docs/simulator.md, "Mutual TLS"): AWS CloudHSM user guide pages cloudhsm_cli-cluster-mtls-register-trust-
anchor (key types RSA 2048/3072/4096 and EC P-256/P-384/P-521; at most two anchors), -list-trust-anchors,
-get-enforcement. What a refused handshake looks like is not documented; the simulator refuses the call with the
error code ``mtls_refused``.
"""

import datetime
import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .model import HsmError

MAX_TRUST_ANCHORS = 2
ENFORCEMENT_LEVELS = ("none", "client-and-server")
ANCHOR_RSA_BITS = (2048, 3072, 4096)
ANCHOR_EC_CURVES = ("secp256r1", "secp384r1", "secp521r1")
MTLS_HSM_TYPES = ("hsm2m.medium",)

_verified = {}  # (anchor PEMs, certificate digest) -> (not_after, verdict); certificates are checked once


def load_certificate(pem, what="certificate"):
    try:
        return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError):
        raise HsmError("invalid_certificate", "the %s is not a PEM encoded X.509 certificate" % what)


def check_anchor(pem):
    """A trust anchor must use one of the key types AWS lists; returns the normalised PEM."""
    certificate = load_certificate(pem, "trust anchor")
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        ok = key.key_size in ANCHOR_RSA_BITS
    elif isinstance(key, ec.EllipticCurvePublicKey):
        ok = key.curve.name in ANCHOR_EC_CURVES
    else:
        ok = False
    if not ok:
        raise HsmError(
            "invalid_trust_anchor",
            "trust anchors must use RSA 2048, 3072 or 4096 bit keys or EC P-256, P-384 or P-521 keys",
        )
    return pem.strip() + "\n"


def _signed_by(certificate, anchor):
    if certificate.issuer != anchor.subject:
        return False
    key = anchor.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(
                certificate.signature,
                certificate.tbs_certificate_bytes,
                padding.PKCS1v15(),
                certificate.signature_hash_algorithm,
            )
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(
                certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(certificate.signature_hash_algorithm)
            )
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _not_after(certificate):
    value = getattr(certificate, "not_valid_after_utc", None)
    if value is None:
        value = certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def client_accepted(anchors, client_pem):
    """Whether a client presenting ``client_pem`` completes the handshake with HSMs trusting ``anchors``.

    The certificate must be issued and signed by a registered anchor (or be one) and be within its validity."""
    if not client_pem:
        return False
    cache_key = (tuple(sorted(anchors)), hashlib.sha256(client_pem.encode()).hexdigest())
    cached = _verified.get(cache_key)
    if cached is None:
        try:
            certificate = load_certificate(client_pem)
        except HsmError:
            return False
        verdict = any(_signed_by(certificate, load_certificate(pem)) for pem in anchors)
        cached = _verified[cache_key] = (_not_after(certificate), verdict)
    not_after, verdict = cached
    return verdict and _now() < not_after


def check_client(cluster, client_pem):
    """Refuse a client that an enforcing cluster does not accept."""
    if cluster.mtls_enforcement == "none":
        return
    if not client_accepted(cluster.trust_anchors.values(), client_pem):
        raise HsmError(
            "mtls_refused",
            "cluster %s enforces mutual TLS and the client presented %s"
            % (
                cluster.cluster_id,
                "a certificate no registered trust anchor accepts" if client_pem else "no certificate",
            ),
        )


def fingerprint(pem):
    return load_certificate(pem).fingerprint(hashes.SHA256()).hex()
