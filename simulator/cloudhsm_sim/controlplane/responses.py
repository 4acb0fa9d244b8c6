"""Request handlers for the 18 cloudhsmv2 operations, attached to moto's CloudHSMV2Response by install().

Each handler reads the JSON request, calls the matching function of ``models`` on the backend of the caller's
account and region, and returns an ActionResult that moto serializes from botocore's model (epoch timestamps, no
nulls). Modeled errors propagate as ServiceException subclasses; a 5xx one gets its real HTTP status here.
"""

import functools
import json

from moto.cloudhsmv2.models import cloudhsmv2_backends
from moto.core.responses import ActionResult

from .. import regions
from . import models
from .errors import CloudHsmError, InvalidRequest, RegionUnavailable

PAGE_LIMITS = {"DescribeClusters": 25, "DescribeBackups": 50, "ListTags": 100}


def _handler(function):
    @functools.wraps(function)
    def handle(self):
        try:
            params = json.loads(self.body or "{}")
        except ValueError:
            params = None
        try:
            if not isinstance(params, dict):
                raise InvalidRequest("The request body must be a JSON object")
            if self.region not in cloudhsmv2_backends[self.current_account]:
                # moto has no cloudhsmv2 backend there and would answer an HTTP 500 page.
                raise RegionUnavailable(regions.message(self.region, "cloudhsmv2"))
            return ActionResult(function(self.cloudhsmv2_backend, params))
        except CloudHsmError as error:
            if error.status == 400:
                raise
            status, headers, body = self.serialized(ActionResult(error))
            headers["status"] = error.status
            return body, headers

    handle.cloudhsm_sim = True
    return handle


def _page(operation, items, params, result_key):
    page, token = models.paginate(items, params.get("NextToken"), params.get("MaxResults"), PAGE_LIMITS[operation])
    result = {result_key: page}
    if token:
        result["NextToken"] = token
    return result


@_handler
def create_cluster(backend, params):
    cluster = models.create_cluster(
        backend,
        hsm_type=params.get("HsmType"),
        subnet_ids=params.get("SubnetIds"),
        backup_retention_policy=params.get("BackupRetentionPolicy"),
        source_backup_id=params.get("SourceBackupId"),
        network_type=params.get("NetworkType"),
        tag_list=params.get("TagList"),
        mode=params.get("Mode"),
    )
    return {"Cluster": cluster}


@_handler
def describe_clusters(backend, params):
    clusters = models.describe_clusters(backend, params.get("Filters"))
    return _page("DescribeClusters", clusters, params, "Clusters")


@_handler
def delete_cluster(backend, params):
    return {"Cluster": models.delete_cluster(backend, params.get("ClusterId"))}


@_handler
def initialize_cluster(backend, params):
    return models.initialize_cluster(
        backend, params.get("ClusterId"), params.get("SignedCert"), params.get("TrustAnchor")
    )


@_handler
def modify_cluster(backend, params):
    cluster = models.modify_cluster(
        backend,
        params.get("ClusterId"),
        hsm_type=params.get("HsmType"),
        backup_retention_policy=params.get("BackupRetentionPolicy"),
    )
    return {"Cluster": cluster}


@_handler
def create_hsm(backend, params):
    hsm = models.create_hsm(
        backend, params.get("ClusterId"), params.get("AvailabilityZone"), ip_address=params.get("IpAddress")
    )
    return {"Hsm": hsm}


@_handler
def delete_hsm(backend, params):
    hsm_id = models.delete_hsm(
        backend,
        params.get("ClusterId"),
        hsm_id=params.get("HsmId"),
        eni_id=params.get("EniId"),
        eni_ip=params.get("EniIp"),
    )
    return {"HsmId": hsm_id}


@_handler
def describe_backups(backend, params):
    backups = models.describe_backups(
        backend,
        filters=params.get("Filters"),
        shared=bool(params.get("Shared")),
        sort_ascending=bool(params.get("SortAscending")),
    )
    return _page("DescribeBackups", backups, params, "Backups")


@_handler
def copy_backup_to_region(backend, params):
    destination = models.copy_backup_to_region(
        backend, params.get("DestinationRegion"), params.get("BackupId"), tag_list=params.get("TagList")
    )
    return {"DestinationBackup": destination}


@_handler
def delete_backup(backend, params):
    return {"Backup": models.delete_backup(backend, params.get("BackupId"))}


@_handler
def restore_backup(backend, params):
    return {"Backup": models.restore_backup(backend, params.get("BackupId"))}


@_handler
def modify_backup_attributes(backend, params):
    backup = models.modify_backup_attributes(backend, params.get("BackupId"), params.get("NeverExpires"))
    return {"Backup": backup}


@_handler
def list_tags(backend, params):
    tags = models.list_tags(backend, params.get("ResourceId"))
    return _page("ListTags", tags, params, "TagList")


@_handler
def tag_resource(backend, params):
    models.tag_resource(backend, params.get("ResourceId"), params.get("TagList"))
    return {}


@_handler
def untag_resource(backend, params):
    models.untag_resource(backend, params.get("ResourceId"), params.get("TagKeyList"))
    return {}


@_handler
def put_resource_policy(backend, params):
    return models.put_resource_policy(backend, params.get("ResourceArn"), params.get("Policy"))


@_handler
def get_resource_policy(backend, params):
    policy = models.get_resource_policy(backend, params.get("ResourceArn"))
    return {"Policy": policy} if policy is not None else {}


@_handler
def delete_resource_policy(backend, params):
    return models.delete_resource_policy(backend, params.get("ResourceArn"))


# Operation name (as in botocore's model) -> handler.
HANDLERS = {
    "CopyBackupToRegion": copy_backup_to_region,
    "CreateCluster": create_cluster,
    "CreateHsm": create_hsm,
    "DeleteBackup": delete_backup,
    "DeleteCluster": delete_cluster,
    "DeleteHsm": delete_hsm,
    "DeleteResourcePolicy": delete_resource_policy,
    "DescribeBackups": describe_backups,
    "DescribeClusters": describe_clusters,
    "GetResourcePolicy": get_resource_policy,
    "InitializeCluster": initialize_cluster,
    "ListTags": list_tags,
    "ModifyBackupAttributes": modify_backup_attributes,
    "ModifyCluster": modify_cluster,
    "PutResourcePolicy": put_resource_policy,
    "RestoreBackup": restore_backup,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
}
