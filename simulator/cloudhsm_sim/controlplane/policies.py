"""Resource policies on backups (sharing a backup with other accounts)."""

import json

from . import ids
from .backups import Backup
from .errors import InvalidRequest, ResourceNotFound
from .state import advance, locked, require_pattern


# ---------------------------------------------------------------------------------------------------------------
# Resource policies (backup sharing)
# ---------------------------------------------------------------------------------------------------------------


def _policy_target(backend, resource_arn):
    require_pattern("CloudHsmArn", "resourceArn", resource_arn or "")
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
