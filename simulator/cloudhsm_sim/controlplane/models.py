"""The simulated control plane's operations, one module per resource (as ``cloudhsm_sim.kms`` is laid out):

- ``state``: the lock and event outbox, the clock, transitions, finding backends, input checks, pagination;
- ``clusters``, ``hsms``, ``backups``, ``tags``, ``policies``: each resource's model and operations.

All state lives in moto's per-account, per-region ``CloudHSMV2Backend`` objects (``backend.clusters``,
``backend.backups``, ``backend.resource_policies``), so moto's reset forgets it too. One re-entrant lock guards every
change; events are queued while it is held and emitted after it is released, so a subscriber may call back in.
This module names the operations the API handlers and ``install()`` attach (one function per cloudhsmv2 operation).
"""

from .backups import (Backup, copy_backup_to_region, delete_backup, describe_backups, modify_backup_attributes,
                      restore_backup, take_backup)
from .clusters import (Cluster, activate, create_cluster, delete_cluster, describe_clusters, expire_windows,
                       find_cluster, initialize_cluster, modify_cluster)
from .hsms import Hsm, create_hsm, delete_hsm, find_hsm, find_hsm_by_ip, set_creation_failure_hook, set_hsm_degraded
from .policies import delete_resource_policy, get_resource_policy, put_resource_policy
from .state import advance, advance_all, all_backends, backend_for, locked, paginate
from .tags import list_tags, tag_resource, untag_resource

__all__ = [
    "Backup", "Cluster", "Hsm",
    "activate", "advance", "advance_all", "all_backends", "backend_for", "copy_backup_to_region", "create_cluster",
    "create_hsm", "delete_backup", "delete_cluster", "delete_hsm", "delete_resource_policy", "describe_backups",
    "describe_clusters", "expire_windows", "find_cluster", "find_hsm", "find_hsm_by_ip", "get_resource_policy", "initialize_cluster",
    "list_tags", "locked", "modify_backup_attributes", "modify_cluster", "paginate", "put_resource_policy",
    "restore_backup", "set_creation_failure_hook", "set_hsm_degraded", "tag_resource", "take_backup",
    "untag_resource",
]
