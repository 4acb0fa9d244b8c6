"""The control plane's shared machinery: the lock and event outbox, the clock, transitions, finding backends,
input checks and pagination. The resources live in clusters, hsms, backups, tags and policies."""

import base64
import contextlib
import json
import sys
import threading
import time
import traceback

from moto.cloudhsmv2.models import cloudhsmv2_backends

from .. import events
from . import ids, transitions
from .errors import InvalidRequest, TagError, validation_error


KNOWN_HSM_TYPES = ("hsm1.medium", "hsm2m.medium")
RETENTION_DAYS = (7, 379)
DEFAULT_RETENTION = {"Type": "DAYS", "Value": "90"}
MAX_TAGS = 50
MAX_HSMS_PER_CLUSTER = 28

_lock = threading.RLock()
_local = threading.local()


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


def emit(name, account, region, **kwargs):
    _local.outbox.append((name, dict(account=account, region=region, **kwargs)))


def now():
    return time.time()


def schedule(obj, transition, apply):
    obj.pending = (now() + transitions.seconds(transition), apply)


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


def ec2_backend(backend):
    from moto.ec2.models import ec2_backends

    return ec2_backends[backend.account_id][backend.region_name]


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
            moment = now()
            due = []
            for cluster in list(backend.clusters.values()):
                due.extend(hsm for hsm in list(cluster.hsms.values()) if _is_due(hsm, moment))
                if _is_due(cluster, moment):
                    due.append(cluster)
            due.extend(backup for backup in list(backend.backups.values()) if _is_due(backup, moment))
            if not due:
                return
            for obj in due:
                apply = obj.pending[1]
                obj.pending = None
                apply(backend)


def _is_due(obj, moment):
    return getattr(obj, "pending", None) is not None and obj.pending[0] <= moment


# ---------------------------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------------------------


def require_pattern(shape, field, value):
    if not ids.matches(shape, value):
        raise validation_error(shape, field, value)


def check_hsm_type(hsm_type):
    if not ids.matches("HsmType", hsm_type) or hsm_type not in KNOWN_HSM_TYPES:
        raise InvalidRequest(
            "HsmType '{0}' is not supported. The allowed values are {1}".format(hsm_type, " and ".join(KNOWN_HSM_TYPES))
        )


def retention_policy(policy):
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


def check_tags(tag_list):
    for tag in tag_list or ():
        key = tag.get("Key", "")
        if not 1 <= len(key) <= 128 or len(tag.get("Value", "")) > 256:
            raise InvalidRequest("Tag key must be 1-128 and value 0-256 characters, got key '{0}'".format(key))
        if key.lower().startswith("aws:"):
            raise TagError("Tag keys starting with 'aws:' are reserved: '{0}'".format(key))
    if tag_list and len(tag_list) > MAX_TAGS:
        raise TagError("A resource can have at most {0} tags".format(MAX_TAGS))


def merge_tags(existing, new):
    by_key = {tag["Key"]: tag for tag in existing}
    for tag in new or ():
        if tag["Key"] in by_key:
            by_key[tag["Key"]]["Value"] = tag.get("Value", "")
        else:
            fresh = {"Key": tag["Key"], "Value": tag.get("Value", "")}
            existing.append(fresh)
            by_key[tag["Key"]] = fresh
    return existing


def check_filter_names(filters, fields):
    unknown = sorted(set(filters) - set(fields))
    if unknown:
        raise InvalidRequest(
            "Unknown filter(s) {0}; supported filters: {1}".format(", ".join(unknown), ", ".join(sorted(fields)))
        )
    for name, values in filters.items():
        if not isinstance(values, list):
            raise InvalidRequest("Filter {0} must be a list of strings".format(name))


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
