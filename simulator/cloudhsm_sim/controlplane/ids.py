"""Identifier formats of the cloudhsmv2 API: generation and validation (patterns from botocore's model)."""

import re
import secrets

_BASE32_LOWER = "abcdefghijklmnopqrstuvwxyz234567"

PATTERNS = {
    "ClusterId": r"cluster-[2-7a-zA-Z]{11,16}",
    "HsmId": r"hsm-[2-7a-zA-Z]{11,16}",
    "BackupId": r"backup-[2-7a-zA-Z]{11,16}",
    "BackupArn": (
        r"(arn:aws(-(us-gov))?:cloudhsm:([a-z]{2}(-(gov|isob|iso))?-(east|west|north|south|central){1,2}-[0-9]{1})"
        r":[0-9]{12}:backup/)?backup-[2-7a-zA-Z]{11,16}"
    ),
    "CloudHsmArn": (
        r"arn:aws(-(us-gov))?:cloudhsm:([a-z]{2}(-(gov|isob|iso))?-(east|west|north|south|central){1,2}-[0-9]{1})"
        r":[0-9]{12}:(backup/backup|cluster/cluster|hsm/hsm)-[2-7a-zA-Z]{11,16}"
    ),
    "ResourceId": r"(?:cluster|backup)-[2-7a-zA-Z]{11,16}",
    "EniId": r"eni-[0-9a-fA-F]{8,17}",
    "IpAddress": r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
    "ExternalAz": r"[a-z]{2}(-(gov))?-(east|west|north|south|central){1,2}-\d[a-z]",
    "Region": r"[a-z]{2}(-(gov))?-(east|west|north|south|central){1,2}-\d",
    "SubnetId": r"subnet-[0-9a-fA-F]{8,17}",
    "HsmType": r"((p|)hsm[0-9][a-z.]*\.[a-zA-Z]+)",
    "BackupRetentionValue": r"[0-9]+",
}

_COMPILED = {name: re.compile(pattern) for name, pattern in PATTERNS.items()}

_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws(?:-us-gov)?):cloudhsm:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"(?P<kind>backup|cluster|hsm)/(?P<id>(?:backup|cluster|hsm)-[2-7a-zA-Z]{11,16})$"
)


def new_id(prefix):
    """A new identifier as AWS issues them: prefix, dash, 11 lowercase base32 characters."""
    return prefix + "-" + "".join(secrets.choice(_BASE32_LOWER) for unused_position in range(11))


def matches(shape, value):
    """True when value matches the whole modeled pattern of shape."""
    return isinstance(value, str) and _COMPILED[shape].fullmatch(value) is not None


def partition_of(region):
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def backup_arn(region, account, backup_id):
    return "arn:{0}:cloudhsm:{1}:{2}:backup/{3}".format(partition_of(region), region, account, backup_id)


def parse_arn(arn):
    """Split a CloudHSM ARN into a dict (partition, region, account, kind, id), or None if it is not one."""
    match = _ARN_RE.match(arn or "")
    return match.groupdict() if match else None
