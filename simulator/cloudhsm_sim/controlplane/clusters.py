"""Clusters: creation (new or from a backup), initialization, activation, modification and deletion."""

import time

from . import certs, ids, state
from .backups import Backup, new_backup, shared_with
from .errors import InvalidRequest, ResourceNotFound, SimulatorError
from .state import (MAX_HSMS_PER_CLUSTER, advance, backend_for, all_backends, check_filter_names, check_hsm_type,
                    check_tags, ec2_backend, emit, locked, require_pattern, retention_policy, schedule)

MODES = ("FIPS", "NON_FIPS")
NETWORK_TYPES = ("IPV4", "DUALSTACK")
ROLLBACK_WINDOW_SECONDS = 24 * 3600
# HSM-type migration needs every client on Client SDK 5.9 or later (user guide, migrating to hsm2m.medium).
MIN_CLIENT_SDK = (5, 9)


class Cluster:
    def __init__(self, backend, cluster_id, hsm_type, mode, network_type, retention, subnets, security_group, source,
                 tags):
        self.cluster_id = cluster_id
        self.account = backend.account_id
        self.region = backend.region_name
        self.hsm_type = hsm_type
        self.mode = mode
        self.network_type = network_type
        self.backup_retention_policy = retention
        self.subnet_mapping = {subnet.availability_zone: subnet.id for subnet in subnets}
        self.vpc_id = subnets[0].vpc_id
        self.security_group = security_group
        self.source_backup_id = source.backup_id if source else None
        self.cluster_certificate = source.cluster_certificate if source else None
        self.trust_anchor = source.trust_anchor if source else None
        self.create_timestamp = state.now()
        self.state = "CREATE_IN_PROGRESS"
        self.state_message = None
        self.hsms = {}
        self.tags = [dict(tag) for tag in tags]
        self.identity = None  # the first HSM's key and CSR, while the cluster waits to be initialized
        self.previous_hsm_type = None
        self.rollback_expiration = None
        self.pending = None

    def active_hsms(self):
        return [hsm for hsm in self.hsms.values() if hsm.state == "ACTIVE"]

    def awaiting_initialization(self):
        return self.state == "UNINITIALIZED" and self.source_backup_id is None

    def certificates(self):
        if self.awaiting_initialization() and self.identity is not None and self.active_hsms():
            return dict(self.identity.certificates)
        if self.cluster_certificate:
            return {"ClusterCertificate": self.cluster_certificate}
        return {}

    def to_api(self):
        result = {
            "BackupPolicy": "DEFAULT",
            "BackupRetentionPolicy": dict(self.backup_retention_policy),
            "ClusterId": self.cluster_id,
            "CreateTimestamp": self.create_timestamp,
            "Hsms": [hsm.to_api() for hsm in self.hsms.values()],
            "HsmType": self.hsm_type,
            "SecurityGroup": self.security_group,
            "State": self.state,
            "SubnetMapping": dict(self.subnet_mapping),
            "VpcId": self.vpc_id,
            "NetworkType": self.network_type,
            "Certificates": self.certificates(),
            "TagList": [dict(tag) for tag in self.tags],
        }
        if self.rollback_expiration is not None:
            result["HsmTypeRollbackExpiration"] = self.rollback_expiration
        if self.source_backup_id:
            result["SourceBackupId"] = self.source_backup_id
        if self.state_message:
            result["StateMessage"] = self.state_message
        if self.mode:
            result["Mode"] = self.mode
        return result


def find_cluster(cluster_id):
    """(backend, cluster) for a cluster id in any account and region, or (None, None)."""
    for _account, _region, backend in all_backends():
        cluster = backend.clusters.get(cluster_id)
        if isinstance(cluster, Cluster):
            return backend, cluster
    return None, None


def get_cluster(backend, cluster_id):
    require_pattern("ClusterId", "clusterId", cluster_id)
    cluster = backend.clusters.get(cluster_id)
    if not isinstance(cluster, Cluster):
        raise ResourceNotFound(
            "Cluster '{0}' not found in region {1}".format(cluster_id, backend.region_name)
        )
    return cluster


# ---------------------------------------------------------------------------------------------------------------
# Clusters
# ---------------------------------------------------------------------------------------------------------------


def create_cluster(backend, hsm_type, subnet_ids, backup_retention_policy=None, source_backup_id=None,
                   network_type=None, tag_list=None, mode=None):
    with locked():
        advance(backend)
        check_hsm_type(hsm_type)
        if mode is not None and mode not in MODES:
            raise InvalidRequest("Mode must be one of {0}, got '{1}'".format(", ".join(MODES), mode))
        network_type = network_type or "IPV4"
        if network_type not in NETWORK_TYPES:
            raise InvalidRequest(
                "NetworkType must be one of {0}, got '{1}'".format(", ".join(NETWORK_TYPES), network_type)
            )
        retention = retention_policy(backup_retention_policy)
        check_tags(tag_list)
        subnets = _subnets(backend, subnet_ids)
        source = _source_backup(backend, source_backup_id) if source_backup_id else None
        if source is not None:
            if mode is None:
                mode = source.mode
            elif source.mode and mode != source.mode:
                raise InvalidRequest(
                    "Backup {0} was taken from a {1} cluster; it can only restore a {1} cluster, not {2}".format(
                        source.backup_id, source.mode, mode
                    )
                )
        if mode is None and hsm_type != "hsm1.medium":
            raise InvalidRequest("Mode is required for HsmType {0}: specify FIPS or NON_FIPS".format(hsm_type))

        cluster_id = ids.new_id("cluster")
        group = ec2_backend(backend).create_security_group(
            name="cloudhsm-{0}-sg".format(cluster_id),
            description="Security group for CloudHSM cluster {0}".format(cluster_id),
            vpc_id=subnets[0].vpc_id,
        )
        cluster = Cluster(backend, cluster_id, hsm_type, mode, network_type, retention, subnets, group.id, source,
                          tag_list or [])
        backend.clusters[cluster.cluster_id] = cluster
        schedule(cluster, "cluster_create", lambda _backend: _cluster_created(cluster))
        emit("cluster_created", cluster.account, cluster.region, cluster_id=cluster.cluster_id, hsm_type=hsm_type,
             mode=mode, source_backup_id=cluster.source_backup_id)
        return cluster.to_api()


def _cluster_created(cluster):
    # A cluster from a backup needs no initialization or activation: it is ACTIVE at once, still without HSMs
    # (user guide, create-cluster-from-backup; Terraform's aws_cloudhsm_v2_cluster waits for ACTIVE).
    cluster.state = "ACTIVE" if cluster.source_backup_id else "UNINITIALIZED"
    cluster.state_message = None


def _subnets(backend, subnet_ids):
    from moto.ec2.exceptions import InvalidSubnetIdError

    if not subnet_ids:
        raise InvalidRequest("SubnetIds must name at least one subnet")
    if len(subnet_ids) > 10:
        raise InvalidRequest("SubnetIds can name at most 10 subnets, got {0}".format(len(subnet_ids)))
    subnets = []
    for subnet_id in subnet_ids:
        require_pattern("SubnetId", "subnetIds", subnet_id)
        try:
            subnets.append(ec2_backend(backend).get_subnet(subnet_id))
        except InvalidSubnetIdError:
            raise InvalidRequest(
                "Subnet '{0}' does not exist in region {1}".format(subnet_id, backend.region_name)
            ) from None
    vpcs = sorted({subnet.vpc_id for subnet in subnets})
    if len(vpcs) > 1:
        raise InvalidRequest("All subnets must be in the same VPC; found {0}".format(", ".join(vpcs)))
    seen = {}
    for subnet in subnets:
        other = seen.setdefault(subnet.availability_zone, subnet.id)
        if other != subnet.id:
            raise InvalidRequest(
                "Subnets {0} and {1} are both in availability zone {2}; specify at most one subnet per "
                "availability zone".format(other, subnet.id, subnet.availability_zone)
            )
    return subnets


def _source_backup(backend, source_backup_id):
    require_pattern("BackupArn", "sourceBackupId", source_backup_id)
    arn = ids.parse_arn(source_backup_id)
    if arn is None:
        owner, backup_id = backend, source_backup_id
    else:
        if arn["region"] != backend.region_name:
            raise InvalidRequest(
                "SourceBackupId {0} is in region {1}; a cluster can only be created from a backup in its own "
                "region ({2}). Copy the backup with CopyBackupToRegion first".format(
                    source_backup_id, arn["region"], backend.region_name
                )
            )
        owner, backup_id = backend_for(arn["account"], arn["region"]), arn["id"]
    backup = owner.backups.get(backup_id)
    if not isinstance(backup, Backup) or (owner is not backend and not shared_with(owner, backup, backend.account_id)):
        raise ResourceNotFound("Backup '{0}' not found in region {1}".format(source_backup_id, backend.region_name))
    if backup.state != "READY":
        raise InvalidRequest(
            "Backup {0} is in state {1}; a cluster can only be created from a READY backup".format(
                backup.backup_id, backup.state
            )
        )
    return backup


def describe_clusters(backend, filters=None):
    with locked():
        advance(backend)
        filters = filters or {}
        fields = {"clusterIds": "cluster_id", "states": "state", "vpcIds": "vpc_id"}
        check_filter_names(filters, fields)
        clusters = sorted(backend.clusters.values(), key=lambda c: c.create_timestamp)
        for name, values in filters.items():
            clusters = [c for c in clusters if getattr(c, fields[name]) in values]
        return [cluster.to_api() for cluster in clusters]


def delete_cluster(backend, cluster_id):
    with locked():
        advance(backend)
        cluster = get_cluster(backend, cluster_id)
        if cluster.state in ("DELETE_IN_PROGRESS", "DELETED"):
            raise InvalidRequest("Cluster '{0}' is already {1}".format(cluster_id, cluster.state))
        if cluster.hsms:
            raise InvalidRequest(
                "Cluster '{0}' still contains {1} HSM(s) ({2}); delete every HSM before deleting the "
                "cluster".format(cluster_id, len(cluster.hsms), ", ".join(cluster.hsms))
            )
        cluster.state = "DELETE_IN_PROGRESS"
        cluster.state_message = "The cluster is being deleted."
        schedule(cluster, "cluster_delete", lambda b: _cluster_deleted(b, cluster))
        return cluster.to_api()


def _cluster_deleted(backend, cluster):
    cluster.state = "DELETED"
    cluster.state_message = None
    emit("cluster_deleted", cluster.account, cluster.region, cluster_id=cluster.cluster_id)
    schedule(cluster, "cluster_purge", lambda b: _cluster_purged(b, cluster))


def _cluster_purged(backend, cluster):
    backend.clusters.pop(cluster.cluster_id, None)
    try:
        ec2_backend(backend).delete_security_group(group_id=cluster.security_group)
    except Exception:  # the group may have been removed through the EC2 API already
        pass


def initialize_cluster(backend, cluster_id, signed_cert, trust_anchor):
    with locked():
        advance(backend)
        cluster = get_cluster(backend, cluster_id)
        if cluster.source_backup_id:
            raise InvalidRequest(
                "Cluster '{0}' was created from backup {1} and is already initialized; add an HSM instead of "
                "initializing it".format(cluster_id, cluster.source_backup_id)
            )
        if cluster.state != "UNINITIALIZED" or "ClusterCsr" not in cluster.certificates():
            needed = "UNINITIALIZED with an ACTIVE HSM (its CSR in Certificates.ClusterCsr)"
            found = cluster.state if cluster.state != "UNINITIALIZED" else "UNINITIALIZED without an ACTIVE HSM"
            raise InvalidRequest(
                "Cluster '{0}' cannot be initialized: it is {1}, it must be {2}".format(cluster_id, found, needed)
            )
        certs.check_initialization(cluster_id, cluster.identity.public_key_der(), signed_cert, trust_anchor)
        cluster.cluster_certificate = signed_cert
        cluster.trust_anchor = trust_anchor
        cluster.state = "INITIALIZE_IN_PROGRESS"
        cluster.state_message = "Cluster is initializing. State will change to INITIALIZED upon completion."
        schedule(cluster, "cluster_initialize", lambda b: _cluster_initialized(cluster))
        return {"State": cluster.state, "StateMessage": cluster.state_message}


def _cluster_initialized(cluster):
    cluster.state = "INITIALIZED"
    cluster.state_message = None
    emit("cluster_initialized", cluster.account, cluster.region, cluster_id=cluster.cluster_id)


def modify_cluster(backend, cluster_id, hsm_type=None, backup_retention_policy=None):
    clients = _recent_client_versions(cluster_id) if hsm_type is not None else {}
    with locked():
        advance(backend)
        cluster = get_cluster(backend, cluster_id)
        if hsm_type is None and backup_retention_policy is None:
            raise InvalidRequest("Specify HsmType or BackupRetentionPolicy to modify cluster '{0}'".format(cluster_id))
        if cluster.state in ("DELETE_IN_PROGRESS", "DELETED"):
            raise InvalidRequest("Cluster '{0}' is {1} and cannot be modified".format(cluster_id, cluster.state))
        retention = retention_policy(backup_retention_policy) if backup_retention_policy is not None else None
        if hsm_type is not None and hsm_type != cluster.hsm_type:
            _start_hsm_type_change(cluster, hsm_type, clients)
        if retention is not None:
            cluster.backup_retention_policy = retention
        return cluster.to_api()


def _recent_client_versions(cluster_id):
    """{client SDK version: last seen} of the tools that reached the cluster's HSMs in the last 7 days, as the
    simulated HSMs recorded them (empty when the data plane is not loaded)."""
    try:
        from ..dataplane import STATE
        from ..dataplane.service import CLIENTS_SEEN_SECONDS
    except ImportError:
        return {}
    return STATE.client_versions_since(cluster_id, state.now() - CLIENTS_SEEN_SECONDS)


def _version_tuple(version):
    parts = []
    for part in str(version).split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _iso(timestamp):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _start_hsm_type_change(cluster, hsm_type, clients):
    check_hsm_type(hsm_type)
    if cluster.state != "ACTIVE":
        raise InvalidRequest(
            "Cluster '{0}' is {1}; its HSM type can only change while it is ACTIVE".format(
                cluster.cluster_id, cluster.state
            )
        )
    if len(cluster.hsms) > MAX_HSMS_PER_CLUSTER - 1:
        raise InvalidRequest(
            "Cluster '{0}' has {1} HSMs; its HSM type can only change with 27 HSMs or fewer".format(
                cluster.cluster_id, len(cluster.hsms)
            )
        )
    rollback = cluster.previous_hsm_type == hsm_type and cluster.rollback_expiration is not None
    if rollback and state.now() >= cluster.rollback_expiration:
        raise InvalidRequest(
            "Cluster '{0}' cannot be rolled back to {1}: the rollback window closed at {2} "
            "(HsmTypeRollbackExpiration)".format(cluster.cluster_id, hsm_type, _iso(cluster.rollback_expiration))
        )
    if not rollback and not (cluster.hsm_type == "hsm1.medium" and hsm_type == "hsm2m.medium"):
        raise InvalidRequest(
            "Cluster '{0}' cannot change from {1} to {2}: migration goes from hsm1.medium to hsm2m.medium, and "
            "back only within 24 hours".format(cluster.cluster_id, cluster.hsm_type, hsm_type)
        )
    if not rollback:
        old = sorted(
            (version, seen) for version, seen in clients.items() if _version_tuple(version) < MIN_CLIENT_SDK
        )
        if old:
            raise InvalidRequest(
                "Cluster '{0}' cannot migrate to {1}: client connections in the last 7 days used Client SDK {2} "
                "(last seen {3}); every client must use Client SDK 5.9 or later for 7 days before the "
                "migration".format(
                    cluster.cluster_id, hsm_type, ", ".join(v for v, _seen in old),
                    _iso(max(seen for _v, seen in old)),
                )
            )
    if rollback:
        cluster.state = "ROLLBACK_IN_PROGRESS"
        cluster.previous_hsm_type = None
        cluster.rollback_expiration = None
    else:
        cluster.state = "MODIFY_IN_PROGRESS"
        cluster.previous_hsm_type = cluster.hsm_type
        cluster.rollback_expiration = state.now() + ROLLBACK_WINDOW_SECONDS
        cluster.mode = cluster.mode or "FIPS"
    cluster.hsm_type = hsm_type
    cluster.state_message = None
    emit("cluster_hsm_type_changing", cluster.account, cluster.region, cluster_id=cluster.cluster_id,
         hsm_type=hsm_type, state=cluster.state)
    # One HSM after the other, each taking the cluster_modify duration (AWS: about 30 minutes per HSM).
    _migrate_next_hsm(cluster)


def _migrate_next_hsm(cluster):
    waiting = [hsm for _id, hsm in sorted(cluster.hsms.items()) if hsm.hsm_type != cluster.hsm_type]
    if not waiting:
        schedule(cluster, "cluster_modify", lambda b: _hsm_type_changed(cluster))
        return

    def migrated(_backend):
        waiting[0].hsm_type = cluster.hsm_type
        if len(waiting) > 1:
            _migrate_next_hsm(cluster)
        else:
            _hsm_type_changed(cluster)

    schedule(cluster, "cluster_modify", migrated)


def _hsm_type_changed(cluster):
    for hsm in cluster.hsms.values():
        hsm.hsm_type = cluster.hsm_type
    cluster.state = "ACTIVE"
    emit("cluster_hsm_type_changed", cluster.account, cluster.region, cluster_id=cluster.cluster_id,
         hsm_type=cluster.hsm_type)


def expire_windows(cluster, seconds):
    """Let ``seconds`` pass for the cluster's time windows: the rollback deadline (HsmTypeRollbackExpiration) and
    the 7 days the HSMs remember client versions for. For tests and rehearsals; the clock itself does not move."""
    if cluster.rollback_expiration is not None:
        cluster.rollback_expiration -= seconds
    try:
        from ..dataplane import STATE
    except ImportError:
        return
    STATE.age_clients(cluster.cluster_id, seconds)


def activate(backend, cluster):
    """INITIALIZED -> ACTIVE (what activation on the HSM does), with the backup activation makes."""
    with locked():
        advance(backend)
        if cluster.state != "INITIALIZED":
            raise SimulatorError(
                "Cluster '{0}' is {1}; only an INITIALIZED cluster can be activated".format(
                    cluster.cluster_id, cluster.state
                )
            )
        if not cluster.active_hsms():
            raise SimulatorError("Cluster '{0}' has no ACTIVE HSM to activate".format(cluster.cluster_id))
        cluster.state = "ACTIVE"
        cluster.state_message = None
        new_backup(backend, cluster)
        return cluster.to_api()
