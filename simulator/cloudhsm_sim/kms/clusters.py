"""What KMS needs to know about a CloudHSM cluster, read from the simulated control plane.

Cluster facts come from ``cloudhsm_sim.controlplane.describe_cluster``; the backup lineage (which cluster a cluster
was restored or cloned from, across backup copies and regions) is read from the control plane's backups.
"""

from ..controlplane import describe_cluster, models


class ClusterFacts:
    """A cluster as KMS sees it from one account and region; ``found`` is False when it is not there."""

    def __init__(self, cluster_id, account, region):
        self.cluster_id = cluster_id
        described = describe_cluster(cluster_id)
        if described is not None and (described["Account"] != account or described["Region"] != region):
            described = None  # a key store only ever sees clusters of its own account and region
        self.found = described is not None and described.get("State") not in ("DELETE_IN_PROGRESS", "DELETED")
        described = described or {}
        self.state = described.get("State")
        self.certificate = (described.get("Certificates") or {}).get("ClusterCertificate")
        self.trust_anchor = described.get("TrustAnchor")
        self.subnet_mapping = described.get("SubnetMapping") or {}
        self.active_hsms = [hsm for hsm in described.get("Hsms") or [] if hsm.get("State") == "ACTIVE"]
        self.hsm_count = len(described.get("Hsms") or [])
        self.account = account
        self.region = region

    def active_zones(self):
        return sorted({hsm["AvailabilityZone"] for hsm in self.active_hsms})

    def missing_subnets(self):
        """Subnets of the cluster configuration that no longer exist in EC2 (KMS: SUBNET_NOT_FOUND)."""
        from moto.ec2.exceptions import InvalidSubnetIdError
        from moto.ec2.models import ec2_backends

        ec2 = ec2_backends[self.account][self.region]
        missing = []
        for subnet_id in self.subnet_mapping.values():
            try:
                ec2.get_subnet(subnet_id)
            except InvalidSubnetIdError:
                missing.append(subnet_id)
        return missing

    def hsm_summary(self):
        return "{0} ACTIVE HSM(s) in {1}".format(len(self.active_hsms), ", ".join(self.active_zones()) or "no zone")


def lineage(cluster_id):
    """The chain of (cluster id, backup id it came from) back to the first cluster, newest first.

    A backup copied to another region is followed to its source backup, so a DR clone and its origin share a root.
    """
    chain = []
    seen = set()
    with models.locked():
        current = cluster_id
        while current and current not in seen:
            seen.add(current)
            _backend, cluster = models.find_cluster(current)
            source = cluster.source_backup_id if cluster is not None else None
            chain.append((current, source))
            backup = _find_backup(source) if source else None
            while backup is not None and backup.source_backup:
                backup = _find_backup(backup.source_backup, backup.source_region) or None
                if backup is None:
                    break
            current = backup.cluster_id if backup is not None else None
    return chain


def _find_backup(reference, region=None):
    from ..controlplane import ids

    arn = ids.parse_arn(reference)
    backup_id = arn["id"] if arn else reference
    for _account, backend_region, backend in models.all_backends():
        if region and backend_region != region:
            continue
        backup = backend.backups.get(backup_id)
        if backup is not None:
            return backup
    return None


def related(certificate, cluster_id, other):
    """True when cluster ``other`` shares the backup history of ``cluster_id`` (whose certificate KMS recorded).

    Same cluster certificate, or the same first cluster at the root of both lineages (the original may be gone).
    """
    if certificate and certificate == other.certificate:
        return True
    return lineage(cluster_id)[-1][0] == lineage(other.cluster_id)[-1][0]
