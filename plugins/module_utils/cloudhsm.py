# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared logic of the CloudHSM control-plane modules (the ``cloudhsmv2`` API).

Clients with retries, paginated look-ups, normalisation of clusters, HSMs and backups to snake_case with tags as
dicts, identifier validation with the API model's patterns, PEM loading, the one waiter the modules use (botocore
ships no waiters for cloudhsmv2), and ControlPlaneTask, the base of every module run: its API calls, waits, tag
reconciliation and failures.
"""

from __future__ import annotations

import datetime
import os
import re
import time

try:
    import botocore
    import botocore.exceptions
    import botocore.session

    AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
except ImportError:
    AWS_ERRORS = ()  # AnsibleAWSModule reports the missing botocore

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.botocore import normalize_boto3_result
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

# --- identifiers (patterns of the cloudhsmv2 API model, anchored) ---

_SUFFIX = r"[2-7a-zA-Z]{11,16}"
ID_PATTERNS = {
    "cluster": re.compile(r"^cluster-%s$" % _SUFFIX),
    "hsm": re.compile(r"^hsm-%s$" % _SUFFIX),
    "backup": re.compile(r"^backup-%s$" % _SUFFIX),
    "eni": re.compile(r"^eni-[0-9a-fA-F]{8,17}$"),
    "ip": re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"),
    "subnet": re.compile(r"^subnet-[0-9a-fA-F]{8,17}$"),
    "vpc": re.compile(r"^vpc-[0-9a-fA-F]+$"),
    "region": re.compile(r"^[a-z]{2}(-(gov|isob|iso))?-(east|west|north|south|central){1,2}-\d$"),
    "availability_zone": re.compile(r"^[a-z]{2}(-(gov))?-(east|west|north|south|central){1,2}-\d[a-z]$"),
}
ID_DESCRIPTIONS = {
    "cluster": "'cluster-' followed by 11 to 16 characters of [2-7a-zA-Z]",
    "hsm": "'hsm-' followed by 11 to 16 characters of [2-7a-zA-Z]",
    "backup": "'backup-' followed by 11 to 16 characters of [2-7a-zA-Z], or a backup ARN",
    "eni": "'eni-' followed by 8 to 17 hexadecimal digits",
    "ip": "an IPv4 address",
    "subnet": "'subnet-' followed by 8 to 17 hexadecimal digits",
    "vpc": "'vpc-' followed by hexadecimal digits",
    "region": "a region name such as us-east-1",
    "availability_zone": "an availability zone name such as us-east-1a",
}
BACKUP_ARN_PATTERN = re.compile(
    r"^arn:(?P<partition>aws(-us-gov)?):cloudhsm:(?P<region>[a-z]{2}(-(gov|isob|iso))?-(east|west|north|south|central){1,2}-\d)"
    r":(?P<account>\d{12}):backup/(?P<backup_id>backup-%s)$" % _SUFFIX
)

CLUSTER_STATES = [
    "CREATE_IN_PROGRESS",
    "UNINITIALIZED",
    "INITIALIZE_IN_PROGRESS",
    "INITIALIZED",
    "ACTIVE",
    "UPDATE_IN_PROGRESS",
    "MODIFY_IN_PROGRESS",
    "ROLLBACK_IN_PROGRESS",
    "DELETE_IN_PROGRESS",
    "DELETED",
    "DEGRADED",
]
HSM_STATES = ["CREATE_IN_PROGRESS", "ACTIVE", "DEGRADED", "DELETE_IN_PROGRESS", "DELETED"]
BACKUP_STATES = ["CREATE_IN_PROGRESS", "READY", "DELETED", "PENDING_DELETION"]
# Clusters in these states no longer exist for practical purposes (a name may be reused).
GONE_CLUSTER_STATES = ("DELETE_IN_PROGRESS", "DELETED")
# A cluster in these states has been claimed: it holds a cluster certificate and more than one HSM is allowed
# only once it is ACTIVE.
INITIALIZED_CLUSTER_STATES = ("INITIALIZE_IN_PROGRESS", "INITIALIZED", "ACTIVE", "UPDATE_IN_PROGRESS",
                              "MODIFY_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "DEGRADED")


# HSM type migration (user guide, "Migrating from hsm1.medium to hsm2m.medium"): AWS changes the type in place only
# from hsm1.medium to hsm2m.medium (at most 27 HSMs, about 30 minutes per HSM) and back within 24 hours of the start
# (HsmTypeRollbackExpiration). Meanwhile the HSMs are in limited-write mode: no user changes, no token key creation
# or deletion, no quorum operations, no key attribute changes, no mTLS registration.
HSM_TYPE_MIGRATION = ("hsm1.medium", "hsm2m.medium")
HSM_TYPE_ROLLBACK = ("hsm2m.medium", "hsm1.medium")
HSM_TYPE_CHANGING_STATES = ("MODIFY_IN_PROGRESS", "ROLLBACK_IN_PROGRESS")
MAX_HSMS_FOR_MIGRATION = 27
SECONDS_PER_HSM_MIGRATION = 1800
ROLLBACK_WINDOW_SECONDS = 24 * 3600


def wait_options():
    """The argument spec of the cloudhsm_wait doc fragment's options."""
    return dict(wait=dict(type="bool", default=True), wait_timeout=dict(type="int", default=1800))


class CloudHsmError(Exception):
    """A failure with a message meant for the user (resource, state found, state needed, fix)."""


def validate_id(kind, value, option):
    """Raise CloudHsmError unless value matches the API model's pattern for kind."""
    if value is None:
        return None
    if kind == "backup" and BACKUP_ARN_PATTERN.match(value):
        return value
    # The model's IP pattern admits octets above 255, which no ENI can have.
    out_of_range = kind == "ip" and ID_PATTERNS[kind].match(value) and any(int(octet) > 255 for octet in value.split("."))
    if out_of_range or not ID_PATTERNS[kind].match(value):
        raise CloudHsmError(
            "%s=%r is not a valid %s identifier: expected %s." % (option, value, kind.replace("_", " "), ID_DESCRIPTIONS[kind])
        )
    return value


def validate_options(module, kinds):
    """Fail the module unless each option named in kinds (option -> id kind) holds valid ids; lists are checked item by item."""
    try:
        for option, kind in kinds.items():
            value = module.params.get(option)
            for item in value if isinstance(value, list) else [value]:
                validate_id(kind, item, option)
    except CloudHsmError as e:
        module.fail_json(msg=str(e))


def parse_backup_reference(value, option="backup_id"):
    """Split a backup id or ARN into (backup_id, region or None, account or None)."""
    validate_id("backup", value, option)
    match = BACKUP_ARN_PATTERN.match(value)
    if match:
        return match.group("backup_id"), match.group("region"), match.group("account")
    return value, None, None


def partition_of_region(region):
    """The AWS partition name of a region (aws, aws-us-gov, aws-cn, ...)."""
    try:
        found = botocore.session.get_session().get_partition_for_region(region)
        if found:
            return found
    except (ValueError, AttributeError, botocore.exceptions.BotoCoreError):
        pass
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def known_regions():
    """Every region botocore's endpoint data lists for cloudhsmv2, across partitions."""
    session = botocore.session.get_session()
    regions = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("cloudhsmv2", partition_name=partition))
    return regions


def validate_region(region, option):
    validate_id("region", region, option)
    regions = known_regions()
    if regions and region not in regions:
        raise CloudHsmError(
            "%s=%r is not a region where AWS CloudHSM is offered; known regions: %s." % (option, region, ", ".join(sorted(regions)))
        )
    return region


# --- PEM material ---


def load_pem(value, option):
    """Return PEM text given either PEM text or a path to a PEM file."""
    if value is None:
        return None
    if "-----BEGIN " in value:
        text = value
    else:
        path = os.path.expanduser(value)
        if not os.path.isfile(path):
            raise CloudHsmError(
                "%s is neither PEM text (no '-----BEGIN' line) nor a readable file: %r does not exist. "
                "Pass the certificate itself or the path of a PEM file." % (option, value)
            )
        try:
            with open(path, "r") as handle:
                text = handle.read()
        except (IOError, OSError) as e:
            raise CloudHsmError("%s: cannot read %r: %s" % (option, value, e))
        if "-----BEGIN " not in text:
            raise CloudHsmError("%s: the file %r holds no PEM block (no '-----BEGIN' line)." % (option, value))
    return text.strip() + "\n"


def same_pem(left, right):
    """True when two PEM texts carry the same blocks (line endings and surrounding space ignored)."""
    if not left or not right:
        return False
    return "".join(left.split()) == "".join(right.split())


# --- normalisation ---


def _snake(resource, keep_keys=()):
    """camel_dict_to_snake_dict with datetimes as ISO strings; keep_keys hold dicts whose keys are data."""
    resource = normalize_boto3_result(resource)
    kept = dict((key, resource.pop(key)) for key in keep_keys if key in resource)
    result = camel_dict_to_snake_dict(resource)
    for key, value in kept.items():
        result[camel_dict_to_snake_dict({key: None}).popitem()[0]] = value
    return result


def normalize_hsm(hsm):
    return _snake(hsm)


def normalize_cluster(cluster):
    """A cluster as the modules return it: snake_case, tags as a dict, the PRECO password left out."""
    if cluster is None:
        return None
    cluster = dict(cluster)
    tags = boto3_tag_list_to_ansible_dict(cluster.pop("TagList", None) or [])
    cluster.pop("PreCoPassword", None)  # a credential: never in results or logs
    hsms = cluster.pop("Hsms", None) or []
    deadline = rollback_deadline(cluster)
    result = _snake(cluster, keep_keys=("SubnetMapping",))
    if "hsm_type_rollback_expiration" in result:
        # The form every other rollback deadline of the collection takes, not the datetime's isoformat().
        result["hsm_type_rollback_expiration"] = iso_time(deadline) if deadline else None
    result["hsms"] = [normalize_hsm(hsm) for hsm in hsms]
    result["tags"] = tags
    result["name"] = tags.get("Name")
    result.setdefault("certificates", {})
    result.setdefault("subnet_mapping", {})
    return result


def normalize_backup(backup):
    if backup is None:
        return None
    backup = dict(backup)
    tags = boto3_tag_list_to_ansible_dict(backup.pop("TagList", None) or [])
    result = _snake(backup)
    result["tags"] = tags
    return result


def retention_days(cluster):
    """The cluster's backup retention in days as an int, or None."""
    policy = (cluster or {}).get("BackupRetentionPolicy") or {}
    try:
        return int(policy.get("Value"))
    except (TypeError, ValueError):
        return None


# --- API access ---

# On top of botocore's own retries: the service's retryable internal failure and the throttling code
# (AWSRetry's default list has "Throttling" but not "ThrottlingException").
RETRY_DECORATOR = AWSRetry.jittered_backoff(
    retries=10, catch_extra_error_codes=["CloudHsmInternalFailureException", "ThrottlingException"]
)


def cloudhsm_client(module, region=None):
    """A cloudhsmv2 client whose methods retry with jittered backoff when called with aws_retry=True."""
    extra = {}
    if region:
        extra["region"] = region
    return module.client("cloudhsmv2", retry_decorator=RETRY_DECORATOR, **extra)


def _paginate(method, result_key, **params):
    items = []
    while True:
        page = method(aws_retry=True, **params)
        items.extend(page.get(result_key) or [])
        token = page.get("NextToken")
        if not token:
            return items
        params["NextToken"] = token


def _filters(**values):
    """The ``Filters`` parameter of a Describe call: each given list under its API name; {} when none is given."""
    filters = dict((name, list(value)) for name, value in values.items() if value)
    return {"Filters": filters} if filters else {}


def _by_id(describe, id_field, wanted):
    """The item ``describe(wanted)`` lists whose ``id_field`` is ``wanted`` (raw API shape), or None when it does
    not exist (an unknown id may be an empty list or CloudHsmResourceNotFoundException)."""
    try:
        items = describe(wanted)
    except is_boto3_error_code("CloudHsmResourceNotFoundException"):
        return None
    return next((item for item in items if item.get(id_field) == wanted), None)


def describe_clusters(client, cluster_ids=None, states=None, vpc_ids=None):
    return _paginate(client.describe_clusters, "Clusters",
                     **_filters(clusterIds=cluster_ids, states=states, vpcIds=vpc_ids))


def get_cluster(client, cluster_id):
    """The cluster (raw API shape) or None when it does not exist."""
    return _by_id(lambda wanted: describe_clusters(client, cluster_ids=[wanted]), "ClusterId", cluster_id)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def iso_time(moment):
    """A datetime as UTC ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rollback_deadline(cluster):
    """The cluster's HsmTypeRollbackExpiration as an aware datetime, or None."""
    value = (cluster or {}).get("HsmTypeRollbackExpiration")
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def hsm_type_progress(cluster):
    """(HSMs, HSMs already on the cluster's HsmType) of a raw cluster; deleted HSMs left out."""
    target = cluster.get("HsmType")
    hsms = [hsm for hsm in cluster.get("Hsms") or [] if hsm.get("State") != "DELETED"]
    return len(hsms), len([hsm for hsm in hsms if hsm.get("HsmType", target) == target])


def limited_write(cluster):
    """For a raw cluster whose HSM type is changing (limited-write mode): what, and until about when; else None.

    AWS gives no end time: the estimate is 30 minutes for every HSM not yet on the new type.
    """
    if not cluster or cluster.get("State") not in HSM_TYPE_CHANGING_STATES:
        return None
    total, done = hsm_type_progress(cluster)
    seconds_left = SECONDS_PER_HSM_MIGRATION * max(total - done, 1)
    deadline = rollback_deadline(cluster)
    return dict(
        cluster_id=cluster.get("ClusterId"),
        state=cluster.get("State"),
        hsm_type=cluster.get("HsmType"),
        hsms_total=total,
        hsms_done=done,
        expected_end=iso_time(now_utc() + datetime.timedelta(seconds=seconds_left)),
        rollback_expiration=iso_time(deadline) if deadline and cluster.get("State") == "MODIFY_IN_PROGRESS" else None,
    )


def limited_write_message(view, region=None):
    """One sentence: why a cluster in limited-write mode refuses changes, and until about when."""
    return (
        "Cluster %s%s is %s: its HSM type is changing to %s (%d of %d HSMs done) and its HSMs are in limited-write "
        "mode (no user changes, no token key creation or deletion, no quorum operations, no key attribute changes, "
        "no mTLS registration) until it is ACTIVE again, expected around %s (about 30 minutes per HSM; AWS gives no "
        "end time). Run this again after that; hsmops.cloudhsm.migrate shows the progress."
        % (view["cluster_id"], " in %s" % region if region else "", view["state"], view["hsm_type"],
           view["hsms_done"], view["hsms_total"], view["expected_end"])
    )


def cluster_name(cluster):
    for tag in cluster.get("TagList") or []:
        if tag.get("Key") == "Name":
            return tag.get("Value")
    return None


def find_clusters_by_name(client, name):
    """Live clusters (not being deleted) whose Name tag is name."""
    return [
        cluster
        for cluster in describe_clusters(client)
        if cluster_name(cluster) == name and cluster.get("State") not in GONE_CLUSTER_STATES
    ]


def describe_backups(client, backup_ids=None, cluster_ids=None, source_backup_ids=None, states=None,
                     never_expires=None, sort_ascending=None, shared=None):
    params = _filters(backupIds=backup_ids, clusterIds=cluster_ids, sourceBackupIds=source_backup_ids, states=states,
                      neverExpires=None if never_expires is None else ["true" if never_expires else "false"])
    if sort_ascending is not None:
        params["SortAscending"] = sort_ascending
    if shared is not None:
        params["Shared"] = shared
    return _paginate(client.describe_backups, "Backups", **params)


def get_backup(client, backup_id):
    """The backup (raw API shape) or None when it does not exist."""
    return _by_id(lambda wanted: describe_backups(client, backup_ids=[wanted]), "BackupId", backup_id)


def newest(backups):
    """The most recently created backup of a list, or None."""
    backups = [backup for backup in backups if backup.get("CreateTimestamp") is not None]
    if not backups:
        return None
    return max(backups, key=lambda backup: backup["CreateTimestamp"])


def find_hsm(cluster, hsm_id=None, eni_id=None, eni_ip=None):
    """The HSM of a cluster identified by id, ENI id or ENI IP, or None."""
    for hsm in (cluster or {}).get("Hsms") or []:
        if hsm_id and hsm.get("HsmId") == hsm_id:
            return hsm
        if eni_id and hsm.get("EniId") == eni_id:
            return hsm
        if eni_ip and hsm.get("EniIp") == eni_ip:
            return hsm
    return None


def warn(module, msg):
    """Warn through AnsibleModule itself: AnsibleAWSModule re-sends recorded warnings to exit_json, which
    ansible-core 2.19 reports as deprecated."""
    target = getattr(module, "_module", module)
    target.warn(msg)


# --- tags ---


def apply_tags_locally(resource, desired_tags, purge_tags):
    """The TagList a resource will have after ControlPlaneTask.reconcile_tags, for results without another describe."""
    if desired_tags is None:
        return resource
    current = boto3_tag_list_to_ansible_dict(resource.get("TagList") or [])
    to_set, to_unset = compare_aws_tags(current, desired_tags, purge_tags=purge_tags)
    for key in to_unset:
        current.pop(key, None)
    current.update(dict((key, str(value)) for key, value in to_set.items()))
    resource = dict(resource)
    resource["TagList"] = ansible_dict_to_boto3_tag_list(current)
    return resource


# --- waiting ---

# Module-level so that unit tests can replace them.
_sleep = time.sleep
_clock = time.monotonic


class StateWaiter:
    """Poll a resource until it reaches a wanted state, with backoff and a deadline.

    The first poll comes after first_delay seconds, each later delay is factor times longer, capped at max_delay,
    and no sleep passes the deadline. A resource in a failed state ends the wait at once.

    With the defaults, a state change is seen less than first_delay + 15% of the time waited so far after it
    happens (and never more than max_delay after), so a chain of waits adds little to the transitions themselves.
    A 10-minute HSM creation costs 54 describes (20 in the first 100 seconds, then one per max_delay).
    """

    GONE = "GONE"  # the state of a resource that no longer exists

    def __init__(self, timeout, first_delay=1.0, max_delay=15.0, factor=1.15):
        self.timeout = timeout
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.factor = factor

    def wait(self, fetch, state_of, label, wanted, failed=(), fail_when_gone=True, initial=None):
        """Return the resource once state_of(resource) is in wanted (GONE allowed when wanted holds it).

        fetch() returns the resource or None when it does not exist. initial is an already fetched resource that
        saves the first describe. Raises CloudHsmError on a failed state, an unexpected disappearance, or timeout.
        """
        wanted = tuple(wanted)
        deadline = _clock() + self.timeout
        delay = self.first_delay
        resource = initial
        checked = initial is not None
        while True:
            if checked:
                state = self.GONE if resource is None else state_of(resource)
                if state in wanted:
                    return resource
                if state in failed:
                    raise CloudHsmError(
                        "%s is in state %s while waiting for %s%s; it will not get there by itself. %s"
                        % (label, state, " or ".join(wanted), _state_message(resource), _failure_hint(state))
                    )
                if state == self.GONE and fail_when_gone:
                    raise CloudHsmError("%s disappeared while waiting for %s." % (label, " or ".join(wanted)))
            remaining = deadline - _clock()
            if remaining <= 0:
                state = "unknown" if not checked else (self.GONE if resource is None else state_of(resource))
                raise CloudHsmError(
                    "Timed out after %ss waiting for %s to reach %s; it is still in state %s. "
                    "Raise wait_timeout, or rerun the task later (it resumes from the current state)."
                    % (self.timeout, label, " or ".join(wanted), state)
                )
            _sleep(min(delay, remaining))
            delay = min(delay * self.factor, self.max_delay)
            resource = fetch()
            checked = True


def _state_message(resource):
    message = (resource or {}).get("StateMessage")
    return " (%s)" % message if message else ""


def _failure_hint(state):
    if state == "DEGRADED":
        return "Delete the degraded resource and create it again."
    if state in ("DELETED", "DELETE_IN_PROGRESS", "PENDING_DELETION"):
        return "It is being or has been deleted."
    return ""


def cluster_state(cluster):
    return cluster.get("State")


def hsm_state(hsm):
    return hsm.get("State")


def backup_state(backup):
    return backup.get("BackupState")


def wait_for_cluster(client, cluster_id, wanted, timeout, initial=None):
    """Wait for a cluster to reach one of wanted (StateWaiter.GONE for deletion); returns the raw cluster."""
    gone_ok = StateWaiter.GONE in wanted or "DELETED" in wanted
    if gone_ok and StateWaiter.GONE not in wanted:
        wanted = tuple(wanted) + (StateWaiter.GONE,)
    failed = ("DEGRADED",) if gone_ok else ("DELETED", "DELETE_IN_PROGRESS", "DEGRADED")
    return StateWaiter(timeout).wait(
        lambda: get_cluster(client, cluster_id),
        cluster_state,
        "cluster %s" % cluster_id,
        wanted,
        failed=tuple(state for state in failed if state not in wanted),
        fail_when_gone=not gone_ok,
        initial=initial,
    )


def wait_for_hsms(client, cluster_id, hsm_ids, timeout, deleted=False, initial=None):
    """Wait until every HSM of hsm_ids is ACTIVE (or gone when deleted); returns the raw cluster."""
    hsm_ids = set(hsm_ids)

    def summary_state(cluster):
        if cluster is None:
            return StateWaiter.GONE
        states = {}
        for hsm in cluster.get("Hsms") or []:
            if hsm.get("HsmId") in hsm_ids:
                states[hsm["HsmId"]] = hsm.get("State")
        if deleted:
            remaining = [hsm_id for hsm_id, state in states.items() if state != "DELETED"]
            return "DELETED" if not remaining else "DELETE_IN_PROGRESS"
        if any(state == "DEGRADED" for state in states.values()):
            return "DEGRADED"
        if len(states) < len(hsm_ids):
            return StateWaiter.GONE
        if all(state == "ACTIVE" for state in states.values()):
            return "ACTIVE"
        return "CREATE_IN_PROGRESS"

    label = "HSM%s %s of cluster %s" % ("s" if len(hsm_ids) > 1 else "", ", ".join(sorted(hsm_ids)), cluster_id)
    wanted = ("DELETED",) if deleted else ("ACTIVE",)
    failed = () if deleted else ("DEGRADED",)
    cluster = StateWaiter(timeout).wait(
        lambda: get_cluster(client, cluster_id),
        summary_state,
        label,
        wanted + ((StateWaiter.GONE,) if deleted else ()),
        failed=failed,
        fail_when_gone=not deleted,
        initial=initial,
    )
    return cluster


def wait_for_backup(client, backup_id, wanted, timeout, label=None, initial=None):
    gone_ok = StateWaiter.GONE in wanted
    failed = tuple(state for state in ("DELETED", "PENDING_DELETION") if state not in wanted)
    return StateWaiter(timeout).wait(
        lambda: get_backup(client, backup_id),
        backup_state,
        label or "backup %s" % backup_id,
        wanted,
        failed=failed,
        fail_when_gone=not gone_ok,
        initial=initial,
    )


def live_hsms(cluster):
    """The HSMs of a cluster that count: not being deleted, one per ENI (AWS replaces a failed HSM on its ENI)."""
    hsms = []
    by_eni = {}
    for hsm in (cluster or {}).get("Hsms") or []:
        if hsm.get("State") in ("DELETE_IN_PROGRESS", "DELETED"):
            continue
        eni = hsm.get("EniId")
        if eni and eni in by_eni:
            # keep the healthier of two HSMs on one ENI
            if by_eni[eni].get("State") != "ACTIVE" and hsm.get("State") == "ACTIVE":
                hsms[hsms.index(by_eni[eni])] = hsm
                by_eni[eni] = hsm
            continue
        if eni:
            by_eni[eni] = hsm
        hsms.append(hsm)
    return hsms


# --- DR-set membership ---

# The tag the collection writes on the clones it creates (and on the backup copies it makes): its value is the id of
# the DR set's source cluster. A cluster carrying it with that value is a member even when its lineage can no
# longer be read (the backup it was restored from has been deleted).
OWNERSHIP_TAG = "hsmops.cloudhsm:dr-source"
# The mTLS enforcement level the collection last set or verified on a cluster (AWS's API does not return it).
MTLS_ENFORCEMENT_TAG = "hsmops.cloudhsm:mtls-enforcement"


def backup_origin(backup):
    """The cluster whose data a backup holds: for a copy the cluster of its source backup, else the cluster backed up."""
    return backup.get("SourceCluster") or backup.get("ClusterId")


def cluster_lineage(client, cluster):
    """Where a cluster's data comes from, read from its source backup in the cluster's own region.

    A clone is restored from a copy of one of the source's backups (CopyBackupToRegion records SourceBackup,
    SourceRegion and SourceCluster on the copy), a cluster restored in the same region from one of the source's own
    backups (ClusterId). Returns a dict with source_backup_id, source_backup_found, origin_cluster_id,
    origin_region and origin_backup_id; the origin keys are None when the backup cannot be read.
    """
    reference = cluster.get("SourceBackupId")
    lineage = dict(source_backup_id=None, source_backup_found=False, origin_cluster_id=None, origin_region=None,
                   origin_backup_id=None)
    if not reference:
        return lineage
    backup_id = parse_backup_reference(reference, "SourceBackupId")[0]
    lineage["source_backup_id"] = backup_id
    backup = get_backup(client, backup_id)
    if backup is None:
        return lineage
    lineage.update(source_backup_found=True, origin_cluster_id=backup_origin(backup),
                   origin_region=backup.get("SourceRegion"), origin_backup_id=backup.get("SourceBackup") or backup_id)
    return lineage


# --- one control-plane module run ---

# Operations that only read; any other operation that succeeds has changed something.
READ_OPERATION_PREFIXES = ("describe_", "list_", "get_")


def error_code(error):
    """The AWS error code of a botocore ClientError, or None for other errors (no connection, bad parameters)."""
    return ((getattr(error, "response", None) or {}).get("Error") or {}).get("Code")


def api_operation_name(client, method):
    """The API name of a client method (create_cluster -> CreateCluster)."""
    mapping = getattr(getattr(client, "meta", None), "method_to_api_mapping", None) or {}
    return mapping.get(method) or "".join(part.capitalize() for part in method.split("_"))


class ControlPlaneTask:
    """One run of a control-plane module: its client, its API calls and waits, and how it fails.

    Every failure, whether a refusal, an API error or a wait that ends badly, reports ``changed`` (True once
    anything was changed, or would be in check mode) and what the run did so far (``partial_results()``), so a run
    stopped half-way says what it left behind. API errors name the operation that failed. Subclasses hold the
    module's logic; they call AWS only through ``call``, ``look_up`` and ``wait``.
    """

    def __init__(self, module, client=None):
        self.module = module
        self.params = module.params
        self.region = module.region
        self.changed = False
        self._client = client
        self._regional_clients = {}

    @property
    def client(self):
        """The module's main client (cloudhsmv2 in the module's region unless another was given), made on first use."""
        if self._client is None:
            self._client = cloudhsm_client(self.module)
        return self._client

    def regional_client(self, region):
        """A cloudhsmv2 client for region, made once per run."""
        if region not in self._regional_clients:
            self._regional_clients[region] = cloudhsm_client(self.module, region=region)
        return self._regional_clients[region]

    # --- failing ---

    def partial_results(self):
        """What the run has done so far, reported with every failure; subclasses return their own."""
        return {}

    def _failure(self, extra):
        result = self.partial_results()
        result.update(extra)
        result["changed"] = self.changed
        return result

    def fail(self, msg, **extra):
        """Fail the run with msg, changed and the partial results (extra adds to or overrides them)."""
        self.module.fail_json(msg=msg, **self._failure(extra))

    def fail_aws(self, error, msg, **extra):
        """Fail the run on an AWS error: msg, then the error and AWS's response, with changed and the partial results."""
        self.module.fail_json_aws(error, msg=msg, **self._failure(extra))

    # --- AWS ---

    def call(self, operation, what=None, client=None, ignore_codes=(), refusals=None, **params):
        """client.operation(**params) with the client's retries (jittered backoff); returns the response.

        An AWS error fails the run with a message that names the operation: refusals maps error codes to the
        message that explains them (else "Failed to <what>"). An error whose code is in ignore_codes (a resource
        already gone, say) returns None. A successful operation that is not a read sets changed.
        """
        client = self.client if client is None else client
        try:
            response = getattr(client, operation)(aws_retry=True, **params)
        except is_boto3_error_code(list(ignore_codes)):
            return None
        except AWS_ERRORS as e:  # pylint: disable=duplicate-except
            name = api_operation_name(client, operation)
            msg = (refusals or {}).get(error_code(e)) or "Failed to %s" % (what or "call " + name)
            self.fail_aws(e, "%s (%s)" % (msg, name))
        if not operation.startswith(READ_OPERATION_PREFIXES):
            self.changed = True
        return response

    def look_up(self, what, reader, *args, **kwargs):
        """reader(*args, **kwargs), a read that may make several calls (get_cluster, describe_backups, ...).

        An AWS error fails the run with "Failed to <what>" and the operation that failed.
        """
        try:
            return reader(*args, **kwargs)
        except AWS_ERRORS as e:
            self.fail_aws(e, _naming_operation("Failed to %s" % what, e))

    def wait(self, what, waiter, *args, **kwargs):
        """waiter(*args, **kwargs), one of the waiters (wait_for_cluster, wait_for_hsms, StateWaiter.wait, ...).

        A timeout, a failed state or a disappearance goes to wait_failed; an AWS error fails the run with
        "Failed while waiting for <what>" and the operation that failed.
        """
        try:
            return waiter(*args, **kwargs)
        except CloudHsmError as e:
            self.wait_failed(e)
        except AWS_ERRORS as e:
            self.fail_aws(e, _naming_operation("Failed while waiting for %s" % what, e))

    def wait_failed(self, error):
        """A wait ended without the state it waited for: fail with the waiter's message (it names the fix)."""
        self.fail(str(error))

    def reconcile_tags(self, resource_id, current_tags, desired_tags, purge_tags, client=None):
        """Make a resource's tags match desired_tags (None leaves them alone); True (and changed) when they change.

        In check mode nothing is called and True says they would change.
        """
        if desired_tags is None:
            return False
        to_set, to_unset = compare_aws_tags(current_tags or {}, desired_tags, purge_tags=purge_tags)
        if not to_set and not to_unset:
            return False
        if self.module.check_mode:
            self.changed = True
            return True
        if to_unset:
            self.call("untag_resource", "remove tags %s from %s" % (", ".join(sorted(to_unset)), resource_id),
                      client=client, ResourceId=resource_id, TagKeyList=to_unset)
        if to_set:
            self.call("tag_resource", "tag %s" % resource_id, client=client, ResourceId=resource_id,
                      TagList=ansible_dict_to_boto3_tag_list(to_set))
        return True


def _naming_operation(msg, error):
    """msg with the API operation that raised error, when botocore names it (not for errors before a request)."""
    operation = getattr(error, "operation_name", None)
    return "%s (%s)" % (msg, operation) if operation else msg
