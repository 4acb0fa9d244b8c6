"""Backups: taken by the service, listed, deleted and restored, kept forever, copied to other regions, shared."""

import json

from . import ids, state
from .errors import InvalidRequest, ResourceNotFound, SimulatorError
from .state import (advance, all_backends, backend_for, check_filter_names, check_tags, emit, known_regions, locked,
                    require_pattern, schedule)

PENDING_DELETION_DAYS = 7


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
            self.create_timestamp = state.now()
            self.copy_timestamp = self.source_region = self.source_backup = self.source_cluster = None
        else:
            # A copy keeps the source's creation time and records where it came from.
            self.create_timestamp = source.create_timestamp
            self.copy_timestamp = state.now()
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


def _get_backup(backend, backup_id):
    require_pattern("BackupId", "backupId", backup_id)
    backup = backend.backups.get(backup_id)
    if not isinstance(backup, Backup):
        raise ResourceNotFound("Backup '{0}' not found in region {1}".format(backup_id, backend.region_name))
    return backup


# ---------------------------------------------------------------------------------------------------------------
# Backups
# ---------------------------------------------------------------------------------------------------------------


def new_backup(backend, cluster):
    backup = Backup(backend, cluster.cluster_id, cluster.hsm_type, cluster.mode, cluster.cluster_certificate,
                    cluster.trust_anchor)
    backend.backups[backup.backup_id] = backup
    schedule(backup, "backup_create", lambda b: _backup_ready(backup))
    emit("backup_created", backup.account, backup.region, cluster_id=cluster.cluster_id, backup_id=backup.backup_id)
    return backup


def _backup_ready(backup):
    backup.state = "READY"


def describe_backups(backend, filters=None, shared=False, sort_ascending=None):
    with locked():
        advance(backend)
        filters = filters or {}
        fields = {"backupIds": "backup_id", "sourceBackupIds": "source_backup", "clusterIds": "cluster_id",
                  "states": "state", "neverExpires": "never_expires"}
        check_filter_names(filters, fields)
        if shared:
            backups = []
            for account, region, other in all_backends():
                if account != backend.account_id and region == backend.region_name:
                    advance(other)
                    backups.extend(b for b in other.backups.values() if shared_with(other, b, backend.account_id))
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
        return new_backup(backend, cluster).to_api()


def delete_backup(backend, backup_id):
    with locked():
        advance(backend)
        backup = _get_backup(backend, backup_id)
        if backup.state != "READY":
            raise InvalidRequest(
                "Backup '{0}' is {1}; only a READY backup can be deleted".format(backup_id, backup.state)
            )
        backup.state = "PENDING_DELETION"
        backup.delete_timestamp = state.now() + PENDING_DELETION_DAYS * 24 * 3600
        schedule(backup, "backup_expire", lambda b: _backup_expired(backup))
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
        require_pattern("Region", "destinationRegion", destination_region)
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
        check_tags(tag_list)
        # botocore's model: with TagList only those tags; without, the service copies the source backup's tags.
        tags = tag_list if tag_list else backup.tags
        destination = backend_for(backend.account_id, destination_region)
        copy = Backup(destination, backup.cluster_id, backup.hsm_type, backup.mode, backup.cluster_certificate,
                      backup.trust_anchor, tags=tags, source=backup)
        destination.backups[copy.backup_id] = copy
        schedule(copy, "backup_copy", lambda b: _backup_ready(copy))
        emit("backup_copied", copy.account, copy.region, cluster_id=backup.cluster_id, source_backup_id=backup_id,
             source_region=source_region, backup_id=copy.backup_id)
        # The response names the source only: the copy's id is found with DescribeBackups(sourceBackupIds).
        return {
            "CreateTimestamp": backup.create_timestamp,
            "SourceRegion": source_region,
            "SourceBackup": backup.backup_id,
            "SourceCluster": backup.cluster_id,
        }


def shared_with(owner_backend, backup, account_id):
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
