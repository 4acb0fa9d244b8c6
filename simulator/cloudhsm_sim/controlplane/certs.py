"""Certificates of a simulated cluster: the HSM's CSR, its hardware certificates, and InitializeCluster's checks."""

import datetime
import functools
import secrets
import threading

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .errors import InvalidRequest

MAX_CERT_CHARS = 5000
_lock = threading.Lock()


def _pem(obj):
    return obj.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _hsm_serial():
    # Shaped like the serial in a real hsm2m.medium CSR subject (e.g. RCN2345B07362).
    digits = "".join(secrets.choice("0123456789") for unused_position in range(9))
    return "RCN{0}B{1}".format(digits[:4], digits[4:])


def csr_subject(hsm_type, mode, serial, partition):
    """The subject of the cluster CSR, laid out like the one a real HSM of that type writes."""
    common_name = "HSM:{0}:PARTN:{1}, for {2} mode".format(
        serial, partition, "NON-FIPS" if mode == "NON_FIPS" else "FIPS"
    )
    if hsm_type.startswith("hsm1"):
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cavium"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "N3FIPS"),
                x509.NameAttribute(NameOID.LOCALITY_NAME, "SanJose"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
    # hsm2m: OpenSSL prints "C=US + ST=CA + OU=LS2 + L=SanJose + O=Marvell, CN=HSM:...": one multi-valued RDN.
    return x509.Name(
        [
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                    x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "LS2"),
                    x509.NameAttribute(NameOID.LOCALITY_NAME, "SanJose"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Marvell"),
                ]
            ),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
        ]
    )


@functools.lru_cache(maxsize=None)
def _hardware_root(common_name):
    """A self-signed root standing in for the manufacturer's or AWS's hardware CA (one per process)."""
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cloudhsm-sim"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


class HsmIdentity:
    """The key pair and certificates a cluster's first HSM presents before initialization."""

    def __init__(self, hsm_type, mode):
        with _lock:
            manufacturer_key, manufacturer_cert = _hardware_root("Simulated HSM Manufacturer Root")
            aws_key, aws_cert = _hardware_root("Simulated AWS CloudHSM Hardware Root")
        self.key = _new_key()
        subject = csr_subject(hsm_type, mode, _hsm_serial(), secrets.randbelow(32) + 1)
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(self.key, hashes.SHA256())
        self.csr_pem = _pem(csr)
        now = datetime.datetime.now(datetime.timezone.utc)
        hsm_cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(aws_cert.subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(aws_key, hashes.SHA256())
        )
        self.certificates = {
            "ClusterCsr": self.csr_pem,
            "HsmCertificate": _pem(hsm_cert),
            "AwsHardwareCertificate": _pem(aws_cert),
            "ManufacturerHardwareCertificate": _pem(manufacturer_cert),
        }
        del manufacturer_key  # only the AWS hardware root signs here

    def public_key_der(self):
        return self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _load_cert(pem, member):
    if not isinstance(pem, str) or "-----BEGIN CERTIFICATE-----" not in pem:
        raise InvalidRequest("{0} must be a PEM-encoded X.509 certificate".format(member))
    if len(pem) > MAX_CERT_CHARS:
        raise InvalidRequest(
            "{0} is {1} characters long; the certificate can contain a maximum of {2} characters".format(
                member, len(pem), MAX_CERT_CHARS
            )
        )
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise InvalidRequest("{0} is not a valid PEM-encoded X.509 certificate".format(member)) from None


def _signed_by(cert, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def check_initialization(cluster_id, csr_public_key_der, signed_cert_pem, trust_anchor_pem):
    """Raise InvalidRequest with a precise message unless SignedCert and TrustAnchor can claim the cluster."""
    signed = _load_cert(signed_cert_pem, "SignedCert")
    anchor = _load_cert(trust_anchor_pem, "TrustAnchor")
    now = datetime.datetime.now(datetime.timezone.utc)

    anchor_key = anchor.public_key()
    if not isinstance(anchor_key, rsa.RSAPublicKey) or anchor_key.key_size not in (2048, 4096):
        raise InvalidRequest(
            "TrustAnchor must use an RSA 2048 or RSA 4096 key; found {0}".format(_describe_key(anchor_key))
        )
    if anchor.issuer != anchor.subject or not _signed_by(anchor, anchor):
        raise InvalidRequest(
            "TrustAnchor must be a self-signed root certificate; '{0}' is issued by '{1}'".format(
                anchor.subject.rfc4514_string(), anchor.issuer.rfc4514_string()
            )
        )
    if len(anchor.extensions):
        try:
            constraints = anchor.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            raise InvalidRequest(
                "TrustAnchor uses X509v3 extensions, so the X509v3 Basic Constraints extension must be present"
            ) from None
        if not constraints.ca:
            raise InvalidRequest("TrustAnchor's Basic Constraints extension must set CA:TRUE to issue SignedCert")
    for member, cert in (("TrustAnchor", anchor), ("SignedCert", signed)):
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise InvalidRequest(
                "{0} is not valid now (valid from {1} to {2})".format(
                    member, cert.not_valid_before_utc.isoformat(), cert.not_valid_after_utc.isoformat()
                )
            )
    signed_key_der = signed.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if signed_key_der != csr_public_key_der:
        raise InvalidRequest(
            "SignedCert does not certify the public key of cluster {0}'s CSR; sign the CSR returned in "
            "Certificates.ClusterCsr by DescribeClusters".format(cluster_id)
        )
    if not _signed_by(signed, anchor):
        raise InvalidRequest(
            "SignedCert (issuer '{0}') was not issued by the TrustAnchor ('{1}'); the certificate used to sign "
            "the cluster CSR must be the TrustAnchor itself".format(
                signed.issuer.rfc4514_string(), anchor.subject.rfc4514_string()
            )
        )


def _describe_key(key):
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA {0}".format(key.key_size)
    return type(key).__name__.lstrip("_")
