"""State of the simulated control plane: clusters, HSMs and backups, their state machines and the operations.

All state lives in moto's per-account, per-region ``CloudHSMV2Backend`` objects (``backend.clusters``,
``backend.backups``, ``backend.resource_policies``), so moto's reset forgets it too. One re-entrant lock guards every
change; events are queued while it is held and emitted after it is released, so a subscriber may call back in.
"""

import base64
import contextlib
import ipaddress
import json
import random
import sys
import threading
import time
import traceback

from moto.cloudhsmv2.models import cloudhsmv2_backends

from .. import events
from . import certs, ids, transitions
from .errors import InvalidRequest, ResourceNotFound, SimulatorError, TagError, validation_error

KNOWN_HSM_TYPES = ("hsm1.medium", "hsm2m.medium")
MODES = ("FIPS", "NON_FIPS")
NETWORK_TYPES = ("IPV4", "DUALSTACK")
RETENTION_DAYS = (7, 379)
DEFAULT_RETENTION = {"Type": "DAYS", "Value": "90"}
MAX_TAGS = 50
MAX_HSMS_PER_CLUSTER = 28
PENDING_DELETION_DAYS = 7
ROLLBACK_WINDOW_SECONDS = 24 * 3600
HSM_CREATE_FAILED = "HSM creation failed. Please delete this HSM and try again."

_lock = threading.RLock()
_local = threading.local()
_rng = random.Random()


@contextlib.contextmanager
def locked():
    """Hold the control-plane lock; events queued inside are emitted once the outermost holder lets go."""
    _lock.acquire()
    depth = getattr(_local, "depth", 0)
    if depth == 0:
        _local.outbox = []
    _local.depth = depth + 1
    outbox = None
    try:
        yield
    finally:
        _local.depth -= 1
        if _local.depth == 0:
            outbox, _local.outbox = _local.outbox, []
        _lock.release()
        for name, kwargs in outbox or ():
            try:
                events.emit(name, **kwargs)
            except Exception:  # a failing subscriber must not fail the API call that caused the event
                traceback.print_exc(file=sys.stderr)


def _emit(name, account, region, **kwargs):
    _local.outbox.append((name, dict(account=account, region=region, **kwargs)))


def _now():
    return time.time()


def _schedule(obj, transition, apply):
    obj.pending = (_now() + transitions.seconds(transition), apply)


class Hsm:
    def __init__(self, cluster, hsm_id, subnet, eni, will_fail):
        self.hsm_id = hsm_id
        self.cluster_id = cluster.cluster_id
        self.availability_zone = subnet.availability_zone
        self.subnet_id = subnet.id
        self.eni_id = eni.id
        self.eni_ip = eni.private_ip_address
        self.hsm_type = cluster.hsm_type
        self.state = "CREATE_IN_PROGRESS"
        self.state_message = None
        self.will_fail = will_fail
        self.pending = None

    def to_api(self):
        result = {
            "AvailabilityZone": self.availability_zone,
            "ClusterId": self.cluster_id,
            "SubnetId": self.subnet_id,
            "EniId": self.eni_id,
            "EniIp": self.eni_ip,
            "HsmId": self.hsm_id,
            "HsmType": self.hsm_type,
            "State": self.state,
        }
        if self.state_message:
            result["StateMessage"] = self.state_message
        return result


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
        self.create_timestamp = _now()
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


class Backup:
    def __init__(self, backend, cluster_id, hsm_type, mode, cluster_certificate, trust_anchor, tags=(), source=None):
        self.backup_id = ids.new_id("backup")
        self.account = backend.account_id
        self.region = backend.region_name
        self.arn = ids.backup_arn(self.region, self.account, self.backup_id)
        self.cluster_id = cluster_id
        self.hsm_type = hsm_type
        self.mode = mode
        self.cluster_certificate = cluster_certificate
        self.trust_anchor = trust_anchor
        self.state = "CREATE_IN_PROGRESS"
        self.never_expires = False
        self.delete_timestamp = None
        self.tags = [dict(tag) for tag in tags]
        self.pending = None
        if source is None:
            self.create_timestamp = _now()
            self.copy_timestamp = self.source_region = self.source_backup = self.source_cluster = None
        else:
            # A copy keeps the source's creation time and records where it came from.
            self.create_timestamp = source.create_timestamp
            self.copy_timestamp = _now()
            self.source_region = source.region
            self.source_backup = source.backup_id
            self.source_cluster = source.cluster_id

    def to_api(self):
        result = {
            "BackupId": self.backup_id,
            "BackupArn": self.arn,
            "BackupState": self.state,
            "ClusterId": self.cluster_id,
            "CreateTimestamp": self.create_timestamp,
            "NeverExpires": self.never_expires,
            "TagList": [dict(tag) for tag in self.tags],
            "HsmType": self.hsm_type,
        }
        if self.mode:
            result["Mode"] = self.mode
        optional = {
            "CopyTimestamp": self.copy_timestamp,
            "SourceRegion": self.source_region,
            "SourceBackup": self.source_backup,
            "SourceCluster": self.source_cluster,
            "DeleteTimestamp": self.delete_timestamp,
        }
        result.update({key: value for key, value in optional.items() if value is not None})
        return result


# ---------------------------------------------------------------------------------------------------------------
# Finding things across the whole simulator
# ---------------------------------------------------------------------------------------------------------------


def all_backends():
    """Every cloudhsmv2 backend that exists, as (account, region, backend); never creates one."""
    found = []
    for account, per_account in list(cloudhsmv2_backends.items()):
        for region, backend in list(per_account.items()):
            found.append((account, region, backend))
    return found


def backend_for(account, region):
    return cloudhsmv2_backends[account][region]


def known_regions(account):
    return list(cloudhsmv2_backends[account].regions)


def _ec2(backend):
    from moto.ec2.models import ec2_backends

    return ec2_backends[backend.account_id][backend.region_name]


def _live_hsms_everywhere():
    for _account, _region, backend in all_backends():
        for cluster in list(backend.clusters.values()):
            for hsm in cluster.hsms.values():
                yield backend, cluster, hsm


def find_cluster(cluster_id):
    """(backend, cluster) for a cluster id in any account and region, or (None, None)."""
    for _account, _region, backend in all_backends():
        cluster = backend.clusters.get(cluster_id)
        if isinstance(cluster, Cluster):
            return backend, cluster
    return None, None


def find_hsm(hsm_id):
    for backend, cluster, hsm in _live_hsms_everywhere():
        if hsm.hsm_id == hsm_id:
            return backend, cluster, hsm
    return None, None, None


def find_hsm_by_ip(eni_ip):
    for backend, cluster, hsm in _live_hsms_everywhere():
        if hsm.eni_ip == eni_ip:
            return backend, cluster, hsm
    return None, None, None


# ---------------------------------------------------------------------------------------------------------------
# Transitions
# ---------------------------------------------------------------------------------------------------------------


def advance_all():
    """Complete every transition whose time has come, in every account and region."""
    with locked():
        for _account, _region, backend in all_backends():
            advance(backend)


def advance(backend):
    with locked():
        for unused_round in range(10):  # a completed transition may start one that is due at once (DELETED -> purged)
            now = _now()
            due = []
            for cluster in list(backend.clusters.values()):
                due.extend(hsm for hsm in list(cluster.hsms.values()) if _is_due(hsm, now))
                if _is_due(cluster, now):
                    due.append(cluster)
            due.extend(backup for backup in list(backend.backups.values()) if _is_due(backup, now))
            if not due:
                return
            for obj in due:
                apply = obj.pending[1]
                obj.pending = None
                apply(backend)


def _is_due(obj, now):
    return getattr(obj, "pending", None) is not None and obj.pending[0] <= now


# ---------------------------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------------------------


def _require_pattern(shape, field, value):
    if not ids.matches(shape, value):
        raise validation_error(shape, field, value)


def _get_cluster(backend, cluster_id):
    _require_pattern("ClusterId", "clusterId", cluster_id)
    cluster = backend.clusters.get(cluster_id)
    if not isinstance(cluster, Cluster):
        raise ResourceNotFound(
            "Cluster '{0}' not found in region {1}".format(cluster_id, backend.region_name)
        )
    return cluster


def _get_backup(backend, backup_id):
    _require_pattern("BackupId", "backupId", backup_id)
    backup = backend.backups.get(backup_id)
    if not isinstance(backup, Backup):
        raise ResourceNotFound("Backup '{0}' not found in region {1}".format(backup_id, backend.region_name))
    return backup


def _check_hsm_type(hsm_type):
    if not ids.matches("HsmType", hsm_type) or hsm_type not in KNOWN_HSM_TYPES:
        raise InvalidRequest(
            "HsmType '{0}' is not supported. The allowed values are {1}".format(hsm_type, " and ".join(KNOWN_HSM_TYPES))
        )


def _retention(policy):
    if policy is None:
        return dict(DEFAULT_RETENTION)
    kind = policy.get("Type", "DAYS")
    value = policy.get("Value")
    if kind != "DAYS":
        raise InvalidRequest("BackupRetentionPolicy Type must be DAYS, got '{0}'".format(kind))
    value = str(value) if value is not None else ""
    if not ids.matches("BackupRetentionValue", value) or not (
        RETENTION_DAYS[0] <= int(value) <= RETENTION_DAYS[1]
    ):
        raise InvalidRequest(
            "BackupRetentionPolicy Value must be a number of days between {0} and {1}, got '{2}'".format(
                RETENTION_DAYS[0], RETENTION_DAYS[1], value
            )
        )
    return {"Type": "DAYS", "Value": str(int(value))}


def _check_tags(tag_list):
    for tag in tag_list or ():
        key = tag.get("Key", "")
        if not 1 <= len(key) <= 128 or len(tag.get("Value", "")) > 256:
            raise InvalidRequest("Tag key must be 1-128 and value 0-256 characters, got key '{0}'".format(key))
        if key.lower().startswith("aws:"):
            raise TagError("Tag keys starting with 'aws:' are reserved: '{0}'".format(key))
    if tag_list and len(tag_list) > MAX_TAGS:
        raise TagError("A resource can have at most {0} tags".format(MAX_TAGS))


def _merge_tags(existing, new):
    by_key = {tag["Key"]: tag for tag in existing}
    for tag in new or ():
        if tag["Key"] in by_key:
            by_key[tag["Key"]]["Value"] = tag.get("Value", "")
        else:
            fresh = {"Key": tag["Key"], "Value": tag.get("Value", "")}
            existing.append(fresh)
            by_key[tag["Key"]] = fresh
    return existing


# ---------------------------------------------------------------------------------------------------------------
# Clusters
# ---------------------------------------------------------------------------------------------------------------


def create_cluster(backend, hsm_type, subnet_ids, backup_retention_policy=None, source_backup_id=None,
                   network_type=None, tag_list=None, mode=None):
    with locked():
        advance(backend)
        _check_hsm_type(hsm_type)
        if mode is not None and mode not in MODES:
            raise InvalidRequest("Mode must be one of {0}, got '{1}'".format(", ".join(MODES), mode))
        network_type = network_type or "IPV4"
        if network_type not in NETWORK_TYPES:
            raise InvalidRequest(
                "NetworkType must be one of {0}, got '{1}'".format(", ".join(NETWORK_TYPES), network_type)
            )
        retention = _retention(backup_retention_policy)
        _check_tags(tag_list)
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
        group = _ec2(backend).create_security_group(
            name="cloudhsm-{0}-sg".format(cluster_id),
            description="Security group for CloudHSM cluster {0}".format(cluster_id),
            vpc_id=subnets[0].vpc_id,
        )
        cluster = Cluster(backend, cluster_id, hsm_type, mode, network_type, retention, subnets, group.id, source,
                          tag_list or [])
        backend.clusters[cluster.cluster_id] = cluster
        _schedule(cluster, "cluster_create", lambda _backend: _cluster_created(cluster))
        _emit("cluster_created", cluster.account, cluster.region, cluster_id=cluster.cluster_id, hsm_type=hsm_type,
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
        _require_pattern("SubnetId", "subnetIds", subnet_id)
        try:
            subnets.append(_ec2(backend).get_subnet(subnet_id))
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
    _require_pattern("BackupArn", "sourceBackupId", source_backup_id)
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
    if not isinstance(backup, Backup) or (owner is not backend and not _shared_with(owner, backup, backend.account_id)):
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
        _check_filter_names(filters, fields)
        clusters = sorted(backend.clusters.values(), key=lambda c: c.create_timestamp)
        for name, values in filters.items():
            clusters = [c for c in clusters if getattr(c, fields[name]) in values]
        return [cluster.to_api() for cluster in clusters]


def _check_filter_names(filters, fields):
    unknown = sorted(set(filters) - set(fields))
    if unknown:
        raise InvalidRequest(
            "Unknown filter(s) {0}; supported filters: {1}".format(", ".join(unknown), ", ".join(sorted(fields)))
        )
    for name, values in filters.items():
        if not isinstance(values, list):
            raise InvalidRequest("Filter {0} must be a list of strings".format(name))


def delete_cluster(backend, cluster_id):
    with locked():
        advance(backend)
        cluster = _get_cluster(backend, cluster_id)
        if cluster.state in ("DELETE_IN_PROGRESS", "DELETED"):
            raise InvalidRequest("Cluster '{0}' is already {1}".format(cluster_id, cluster.state))
        if cluster.hsms:
            raise InvalidRequest(
                "Cluster '{0}' still contains {1} HSM(s) ({2}); delete every HSM before deleting the "
                "cluster".format(cluster_id, len(cluster.hsms), ", ".join(cluster.hsms))
            )
        cluster.state = "DELETE_IN_PROGRESS"
        cluster.state_message = "The cluster is being deleted."
        _schedule(cluster, "cluster_delete", lambda b: _cluster_deleted(b, cluster))
        return cluster.to_api()


def _cluster_deleted(backend, cluster):
    cluster.state = "DELETED"
    cluster.state_message = None
    _emit("cluster_deleted", cluster.account, cluster.region, cluster_id=cluster.cluster_id)
    _schedule(cluster, "cluster_purge", lambda b: _cluster_purged(b, cluster))


def _cluster_purged(backend, cluster):
    backend.clusters.pop(cluster.cluster_id, None)
    try:
        _ec2(backend).delete_security_group(group_id=cluster.security_group)
    except Exception:  # the group may have been removed through the EC2 API already
        pass


def initialize_cluster(backend, cluster_id, signed_cert, trust_anchor):
    with locked():
        advance(backend)
        cluster = _get_cluster(backend, cluster_id)
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
        _schedule(cluster, "cluster_initialize", lambda b: _cluster_initialized(cluster))
        return {"State": cluster.state, "StateMessage": cluster.state_message}


def _cluster_initialized(cluster):
    cluster.state = "INITIALIZED"
    cluster.state_message = None
    _emit("cluster_initialized", cluster.account, cluster.region, cluster_id=cluster.cluster_id)


def modify_cluster(backend, cluster_id, hsm_type=None, backup_retention_policy=None):
    with locked():
        advance(backend)
        cluster = _get_cluster(backend, cluster_id)
        if hsm_type is None and backup_retention_policy is None:
            raise InvalidRequest("Specify HsmType or BackupRetentionPolicy to modify cluster '{0}'".format(cluster_id))
        if cluster.state in ("DELETE_IN_PROGRESS", "DELETED"):
            raise InvalidRequest("Cluster '{0}' is {1} and cannot be modified".format(cluster_id, cluster.state))
        retention = _retention(backup_retention_policy) if backup_retention_policy is not None else None
        if hsm_type is not None and hsm_type != cluster.hsm_type:
            _start_hsm_type_change(cluster, hsm_type)
        if retention is not None:
            cluster.backup_retention_policy = retention
        return cluster.to_api()


def _start_hsm_type_change(cluster, hsm_type):
    _check_hsm_type(hsm_type)
    if cluster.state != "ACTIVE":
        raise InvalidRequest(
            "Cluster '{0}' is {1}; its HSM type can only change while it is ACTIVE".format(
                cluster.cluster_id, cluster.state
            )
        )
    if len(cluster.hsms) > MAX_HSMS_PER_CLUSTER - 1:
        raise InvalidRequest("Cluster '{0}' has more than 27 HSMs; its HSM type cannot change".format(cluster.cluster_id))
    rollback = (
        cluster.previous_hsm_type == hsm_type
        and cluster.rollback_expiration is not None
        and _now() < cluster.rollback_expiration
    )
    if not rollback and not (cluster.hsm_type == "hsm1.medium" and hsm_type == "hsm2m.medium"):
        raise InvalidRequest(
            "Cluster '{0}' cannot change from {1} to {2}: migration goes from hsm1.medium to hsm2m.medium, and "
            "back only within 24 hours".format(cluster.cluster_id, cluster.hsm_type, hsm_type)
        )
    if rollback:
        cluster.state = "ROLLBACK_IN_PROGRESS"
        cluster.previous_hsm_type = None
        cluster.rollback_expiration = None
    else:
        cluster.state = "MODIFY_IN_PROGRESS"
        cluster.previous_hsm_type = cluster.hsm_type
        cluster.rollback_expiration = _now() + ROLLBACK_WINDOW_SECONDS
        cluster.mode = cluster.mode or "FIPS"
    cluster.hsm_type = hsm_type
    cluster.state_message = None
    _schedule(cluster, "cluster_modify", lambda b: _hsm_type_changed(cluster))


def _hsm_type_changed(cluster):
    for hsm in cluster.hsms.values():
        hsm.hsm_type = cluster.hsm_type
    cluster.state = "ACTIVE"


# ---------------------------------------------------------------------------------------------------------------
# HSMs
# ---------------------------------------------------------------------------------------------------------------


def create_hsm(backend, cluster_id, availability_zone, ip_address=None):
    from .. import faults

    with locked():
        advance(backend)
        cluster = _get_cluster(backend, cluster_id)
        _require_pattern("ExternalAz", "availabilityZone", availability_zone)
        if ip_address is not None:
            _require_pattern("IpAddress", "ipAddress", ip_address)
        if cluster.state in ("UNINITIALIZED", "INITIALIZE_IN_PROGRESS", "INITIALIZED") and cluster.hsms:
            # The exact text the real service answers with (observed).
            raise InvalidRequest(
                "Cluster '{0}' already contains an HSM but has not yet been fully activated".format(cluster_id)
            )
        if cluster.state not in ("UNINITIALIZED", "INITIALIZED", "ACTIVE", "DEGRADED"):
            raise InvalidRequest(
                "Cluster '{0}' is {1}; HSMs can be added when it is UNINITIALIZED or ACTIVE".format(
                    cluster_id, cluster.state
                )
            )
        if len(cluster.hsms) >= MAX_HSMS_PER_CLUSTER:
            raise InvalidRequest("Cluster '{0}' already has {1} HSMs".format(cluster_id, MAX_HSMS_PER_CLUSTER))
        subnet_id = cluster.subnet_mapping.get(availability_zone)
        if subnet_id is None:
            raise InvalidRequest(
                "Availability zone {0} is not one of cluster '{1}''s availability zones ({2})".format(
                    availability_zone, cluster_id, ", ".join(sorted(cluster.subnet_mapping))
                )
            )
        ec2 = _ec2(backend)
        subnet = ec2.get_subnet(subnet_id)
        ip = _choose_ip(ec2, subnet, ip_address)
        hsm_id = ids.new_id("hsm")
        eni = ec2.create_network_interface(
            subnet=subnet,
            private_ip_address=ip,
            group_ids=[cluster.security_group],
            description="CloudHSM ENI for HSM {0} of cluster {1}".format(hsm_id, cluster_id),
        )
        hsm = Hsm(cluster, hsm_id, subnet, eni, will_fail=faults.take_hsm_create_failure())
        cluster.hsms[hsm_id] = hsm
        if cluster.state == "ACTIVE" and cluster.active_hsms():
            # Adding an HSM to an active cluster makes a backup; with no ACTIVE HSM (a cluster restored from a
            # backup getting its first HSMs) there is nothing new to back up.
            _new_backup(backend, cluster)
        _schedule(hsm, "hsm_create", lambda b: _hsm_created(cluster, hsm))
        _emit("hsm_created", cluster.account, cluster.region, cluster_id=cluster_id, hsm_id=hsm_id, eni_ip=hsm.eni_ip,
              availability_zone=hsm.availability_zone)
        return hsm.to_api()


def _choose_ip(ec2, subnet, requested):
    network = ipaddress.ip_network(subnet.cidr_block)
    first, last = int(network.network_address) + 4, int(network.broadcast_address) - 1  # AWS reserves these
    taken = {eni.private_ip_address for eni in ec2.enis.values() if eni.subnet is not None and eni.subnet.id == subnet.id}
    taken.update(hsm.eni_ip for _backend, _cluster, hsm in _live_hsms_everywhere())
    if requested is not None:
        address = ipaddress.ip_address(requested)
        if address not in network or not first <= int(address) <= last:
            raise InvalidRequest(
                "IpAddress {0} is not a usable address of subnet {1} ({2})".format(requested, subnet.id, subnet.cidr_block)
            )
        if requested in taken:
            raise InvalidRequest("IpAddress {0} is already in use".format(requested))
        return requested
    if last < first:
        raise InvalidRequest("Subnet {0} ({1}) has no free address".format(subnet.id, subnet.cidr_block))
    for unused_attempt in range(64):
        candidate = str(ipaddress.ip_address(_rng.randint(first, last)))
        if candidate not in taken:
            return candidate
    for value in range(first, last + 1):
        candidate = str(ipaddress.ip_address(value))
        if candidate not in taken:
            return candidate
    raise InvalidRequest("Subnet {0} ({1}) has no free address".format(subnet.id, subnet.cidr_block))


def _hsm_created(cluster, hsm):
    if hsm.will_fail:
        hsm.state, hsm.state_message = "DEGRADED", HSM_CREATE_FAILED
        return
    hsm.state, hsm.state_message = "ACTIVE", "HSM created."
    if cluster.awaiting_initialization() and cluster.identity is None:
        cluster.identity = certs.HsmIdentity(cluster.hsm_type, cluster.mode)


def delete_hsm(backend, cluster_id, hsm_id=None, eni_id=None, eni_ip=None):
    with locked():
        advance(backend)
        cluster = _get_cluster(backend, cluster_id)
        given = [(name, value) for name, value in (("HsmId", hsm_id), ("EniId", eni_id), ("EniIp", eni_ip)) if value]
        if not given:
            raise InvalidRequest("Specify one of HsmId, EniId or EniIp to delete an HSM")
        shapes = {"HsmId": ("HsmId", "hsmId"), "EniId": ("EniId", "eniId"), "EniIp": ("IpAddress", "eniIp")}
        attributes = {"HsmId": "hsm_id", "EniId": "eni_id", "EniIp": "eni_ip"}
        matches = set()
        for name, value in given:
            _require_pattern(shapes[name][0], shapes[name][1], value)
            found = [hsm for hsm in cluster.hsms.values() if getattr(hsm, attributes[name]) == value]
            if not found:
                raise ResourceNotFound("No HSM with {0} {1} in cluster '{2}'".format(name, value, cluster_id))
            matches.add(found[0].hsm_id)
        if len(matches) > 1:
            raise InvalidRequest("HsmId, EniId and EniIp name different HSMs; specify only one of them")
        if cluster.state in ("MODIFY_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
            raise InvalidRequest(
                "Cluster '{0}' is {1}; HSMs cannot be removed until it is ACTIVE".format(cluster_id, cluster.state)
            )
        hsm = cluster.hsms[matches.pop()]
        if hsm.state == "DELETE_IN_PROGRESS":
            return hsm.hsm_id
        if cluster.state == "ACTIVE":
            _new_backup(backend, cluster)  # removing an HSM from an active cluster makes a backup
        hsm.state, hsm.state_message = "DELETE_IN_PROGRESS", None
        _schedule(hsm, "hsm_delete", lambda b: _hsm_deleted(b, cluster, hsm))
        _emit("hsm_deleted", cluster.account, cluster.region, cluster_id=cluster_id, hsm_id=hsm.hsm_id,
              eni_ip=hsm.eni_ip)
        return hsm.hsm_id


def _hsm_deleted(backend, cluster, hsm):
    cluster.hsms.pop(hsm.hsm_id, None)
    try:
        _ec2(backend).delete_network_interface(hsm.eni_id)
    except Exception:  # already removed through the EC2 API
        pass
    if cluster.awaiting_initialization() and not cluster.active_hsms():
        cluster.identity = None  # a new first HSM brings a new key and CSR


def set_hsm_degraded(hsm_id, message):
    """Turn an HSM DEGRADED (fault injection). Returns its new description; raises SimulatorError if unknown."""
    with locked():
        advance_all()
        _backend, _cluster, hsm = find_hsm(hsm_id)
        if hsm is None:
            raise SimulatorError("HSM '{0}' not found".format(hsm_id))
        hsm.pending = None
        hsm.state, hsm.state_message = "DEGRADED", message
        return hsm.to_api()


# ---------------------------------------------------------------------------------------------------------------
# Backups
# ---------------------------------------------------------------------------------------------------------------


def _new_backup(backend, cluster):
    backup = Backup(backend, cluster.cluster_id, cluster.hsm_type, cluster.mode, cluster.cluster_certificate,
                    cluster.trust_anchor)
    backend.backups[backup.backup_id] = backup
    _schedule(backup, "backup_create", lambda b: _backup_ready(backup))
    _emit("backup_created", backup.account, backup.region, cluster_id=cluster.cluster_id, backup_id=backup.backup_id)
    return backup


def _backup_ready(backup):
    backup.state = "READY"


def describe_backups(backend, filters=None, shared=False, sort_ascending=None):
    with locked():
        advance(backend)
        filters = filters or {}
        fields = {"backupIds": "backup_id", "sourceBackupIds": "source_backup", "clusterIds": "cluster_id",
                  "states": "state", "neverExpires": "never_expires"}
        _check_filter_names(filters, fields)
        if shared:
            backups = []
            for account, region, other in all_backends():
                if account != backend.account_id and region == backend.region_name:
                    advance(other)
                    backups.extend(b for b in other.backups.values() if _shared_with(other, b, backend.account_id))
        else:
            backups = list(backend.backups.values())
        for name, values in filters.items():
            if name == "neverExpires":
                wanted = {str(value).lower() == "true" for value in values}
                backups = [b for b in backups if b.never_expires in wanted]
            else:
                backups = [b for b in backups if getattr(b, fields[name]) in values]
        backups.sort(key=lambda b: (b.create_timestamp, b.copy_timestamp or 0), reverse=not sort_ascending)
        return [backup.to_api() for backup in backups]


def take_backup(backend, cluster):
    """A backup on demand (the simulator's stand-in for the daily backup); the cluster must be ACTIVE."""
    with locked():
        advance(backend)
        if cluster.state != "ACTIVE" or not cluster.active_hsms():
            raise SimulatorError(
                "Cluster '{0}' is {1} with {2} ACTIVE HSM(s); a backup needs an ACTIVE cluster with an ACTIVE "
                "HSM".format(cluster.cluster_id, cluster.state, len(cluster.active_hsms()))
            )
        return _new_backup(backend, cluster).to_api()


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
        _new_backup(backend, cluster)
        return cluster.to_api()


def delete_backup(backend, backup_id):
    with locked():
        advance(backend)
        backup = _get_backup(backend, backup_id)
        if backup.state != "READY":
            raise InvalidRequest(
                "Backup '{0}' is {1}; only a READY backup can be deleted".format(backup_id, backup.state)
            )
        backup.state = "PENDING_DELETION"
        backup.delete_timestamp = _now() + PENDING_DELETION_DAYS * 24 * 3600
        _schedule(backup, "backup_expire", lambda b: _backup_expired(backup))
        return backup.to_api()


def _backup_expired(backup):
    backup.state = "DELETED"


def restore_backup(backend, backup_id):
    with locked():
        advance(backend)
        backup = _get_backup(backend, backup_id)
        if backup.state != "PENDING_DELETION":
            raise InvalidRequest(
                "Backup '{0}' is {1}; only a backup in PENDING_DELETION can be restored".format(backup_id, backup.state)
            )
        backup.state = "READY"
        backup.delete_timestamp = None
        backup.pending = None
        return backup.to_api()


def modify_backup_attributes(backend, backup_id, never_expires):
    with locked():
        advance(backend)
        backup = _get_backup(backend, backup_id)
        if not isinstance(never_expires, bool):
            raise InvalidRequest("NeverExpires must be true or false")
        backup.never_expires = never_expires
        return backup.to_api()


def copy_backup_to_region(backend, destination_region, backup_id, tag_list=None):
    with locked():
        advance(backend)
        backup = _get_backup(backend, backup_id)
        _require_pattern("Region", "destinationRegion", destination_region)
        source_region = backend.region_name
        if destination_region == source_region:
            raise InvalidRequest(
                "Backup '{0}' is already in {1}; DestinationRegion must be a different region".format(
                    backup_id, source_region
                )
            )
        if destination_region not in known_regions(backend.account_id):
            raise InvalidRequest("DestinationRegion '{0}' is not a region where CloudHSM is available".format(
                destination_region))
        if ids.partition_of(destination_region) != ids.partition_of(source_region):
            raise InvalidRequest(
                "Backups cannot be copied between AWS GovCloud (US) regions and standard regions ({0} -> {1})".format(
                    source_region, destination_region
                )
            )
        if backup.state != "READY":
            raise InvalidRequest(
                "Backup '{0}' is {1}; only a READY backup can be copied".format(backup_id, backup.state)
            )
        _check_tags(tag_list)
        # botocore's model: with TagList only those tags; without, the service copies the source backup's tags.
        tags = tag_list if tag_list else backup.tags
        destination = backend_for(backend.account_id, destination_region)
        copy = Backup(destination, backup.cluster_id, backup.hsm_type, backup.mode, backup.cluster_certificate,
                      backup.trust_anchor, tags=tags, source=backup)
        destination.backups[copy.backup_id] = copy
        _schedule(copy, "backup_copy", lambda b: _backup_ready(copy))
        _emit("backup_copied", copy.account, copy.region, cluster_id=backup.cluster_id, source_backup_id=backup_id,
              source_region=source_region, backup_id=copy.backup_id)
        # The response names the source only: the copy's id is found with DescribeBackups(sourceBackupIds).
        return {
            "CreateTimestamp": backup.create_timestamp,
            "SourceRegion": source_region,
            "SourceBackup": backup.backup_id,
            "SourceCluster": backup.cluster_id,
        }


# ---------------------------------------------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------------------------------------------


def _tagged(backend, resource_id):
    _require_pattern("ResourceId", "resourceId", resource_id)
    resource = backend.clusters.get(resource_id) or backend.backups.get(resource_id)
    if resource is None:
        raise ResourceNotFound("Resource '{0}' not found in region {1}".format(resource_id, backend.region_name))
    return resource


def list_tags(backend, resource_id):
    with locked():
        advance(backend)
        return [dict(tag) for tag in _tagged(backend, resource_id).tags]


def tag_resource(backend, resource_id, tag_list):
    with locked():
        advance(backend)
        resource = _tagged(backend, resource_id)
        _check_tags(tag_list)
        merged = _merge_tags([dict(tag) for tag in resource.tags], tag_list)
        if len(merged) > MAX_TAGS:
            raise TagError("Resource '{0}' would have {1} tags; at most {2} are allowed".format(
                resource_id, len(merged), MAX_TAGS))
        resource.tags = merged


def untag_resource(backend, resource_id, tag_key_list):
    with locked():
        advance(backend)
        resource = _tagged(backend, resource_id)
        resource.tags = [tag for tag in resource.tags if tag["Key"] not in set(tag_key_list or ())]


# ---------------------------------------------------------------------------------------------------------------
# Resource policies (backup sharing)
# ---------------------------------------------------------------------------------------------------------------


def _policy_target(backend, resource_arn):
    _require_pattern("CloudHsmArn", "resourceArn", resource_arn or "")
    arn = ids.parse_arn(resource_arn)
    if arn["kind"] != "backup":
        raise InvalidRequest("Resource policies apply to backups; '{0}' is not a backup ARN".format(resource_arn))
    if arn["account"] != backend.account_id or arn["region"] != backend.region_name:
        raise ResourceNotFound("Backup '{0}' not found in this account and region".format(resource_arn))
    backup = backend.backups.get(arn["id"])
    if not isinstance(backup, Backup):
        raise ResourceNotFound("Backup '{0}' not found".format(resource_arn))
    return backup


def put_resource_policy(backend, resource_arn, policy):
    with locked():
        advance(backend)
        backup = _policy_target(backend, resource_arn)
        if backup.state != "READY":
            raise InvalidRequest("Backup '{0}' is {1}; only a READY backup can be shared".format(
                backup.backup_id, backup.state))
        try:
            json.loads(policy or "")
        except ValueError:
            raise InvalidRequest("Policy must be a JSON policy document") from None
        backend.resource_policies[backup.arn] = policy
        return {"ResourceArn": backup.arn, "Policy": policy}


def get_resource_policy(backend, resource_arn):
    with locked():
        backup = _policy_target(backend, resource_arn)
        return backend.resource_policies.get(backup.arn)


def delete_resource_policy(backend, resource_arn):
    with locked():
        backup = _policy_target(backend, resource_arn)
        policy = backend.resource_policies.pop(backup.arn, None)
        result = {"ResourceArn": backup.arn}
        if policy is not None:
            result["Policy"] = policy
        return result


def _shared_with(owner_backend, backup, account_id):
    policy = owner_backend.resource_policies.get(backup.arn)
    if not policy:
        return False
    try:
        document = json.loads(policy)
    except ValueError:
        return False
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        if statement.get("Effect", "Allow") != "Allow":
            continue
        principal = statement.get("Principal", {})
        values = principal.get("AWS", []) if isinstance(principal, dict) else principal
        for value in values if isinstance(values, list) else [values]:
            if value in ("*", account_id, "arn:aws:iam::{0}:root".format(account_id),
                         "arn:aws-us-gov:iam::{0}:root".format(account_id)):
                return True
    return False


# ---------------------------------------------------------------------------------------------------------------
# Pagination
# ---------------------------------------------------------------------------------------------------------------


def paginate(items, next_token, max_results, limit):
    """One page of items; the token is the opaque offset of the next page."""
    if max_results is None:
        max_results = limit
    if not isinstance(max_results, int) or not 1 <= max_results <= limit:
        raise InvalidRequest("MaxResults must be between 1 and {0}, got {1}".format(limit, max_results))
    start = 0
    if next_token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(next_token.encode("ascii")))["offset"])
        except (ValueError, KeyError, TypeError, UnicodeEncodeError):
            raise InvalidRequest("NextToken '{0}' is not valid".format(next_token)) from None
    page = items[start:start + max_results]
    following = None
    if start + max_results < len(items):
        following = base64.urlsafe_b64encode(json.dumps({"offset": start + max_results}).encode()).decode("ascii")
    return page, following
