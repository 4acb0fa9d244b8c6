"""HSMs: creation (an ENI in the zone's subnet), deletion, and turning one DEGRADED."""

import ipaddress
import random

from . import certs, ids
from .backups import new_backup
from .clusters import get_cluster
from .errors import InvalidRequest, ResourceNotFound, SimulatorError
from .state import (MAX_HSMS_PER_CLUSTER, advance, advance_all, all_backends, ec2_backend, emit, locked,
                    require_pattern, schedule)

HSM_CREATE_FAILED = "HSM creation failed. Please delete this HSM and try again."

_rng = random.Random()


def _no_creation_failure():
    return False


# Whether the HSM being created now ends DEGRADED; the fault injector installs its own (set_creation_failure_hook).
_hooks = {"creation_fails": _no_creation_failure}


def set_creation_failure_hook(hook):
    """Install a callable deciding, for each new HSM, whether it ends DEGRADED (None: never)."""
    _hooks["creation_fails"] = hook or _no_creation_failure


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


def _live_hsms_everywhere():
    for _account, _region, backend in all_backends():
        for cluster in list(backend.clusters.values()):
            for hsm in cluster.hsms.values():
                yield backend, cluster, hsm


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
# HSMs
# ---------------------------------------------------------------------------------------------------------------


def create_hsm(backend, cluster_id, availability_zone, ip_address=None):
    with locked():
        advance(backend)
        cluster = get_cluster(backend, cluster_id)
        require_pattern("ExternalAz", "availabilityZone", availability_zone)
        if ip_address is not None:
            require_pattern("IpAddress", "ipAddress", ip_address)
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
        ec2 = ec2_backend(backend)
        subnet = ec2.get_subnet(subnet_id)
        ip = _choose_ip(ec2, subnet, ip_address)
        hsm_id = ids.new_id("hsm")
        eni = ec2.create_network_interface(
            subnet=subnet,
            private_ip_address=ip,
            group_ids=[cluster.security_group],
            description="CloudHSM ENI for HSM {0} of cluster {1}".format(hsm_id, cluster_id),
        )
        hsm = Hsm(cluster, hsm_id, subnet, eni, will_fail=bool(_hooks["creation_fails"]()))
        cluster.hsms[hsm_id] = hsm
        if cluster.state == "ACTIVE" and cluster.active_hsms():
            # Adding an HSM to an active cluster makes a backup; with no ACTIVE HSM (a cluster restored from a
            # backup getting its first HSMs) there is nothing new to back up.
            new_backup(backend, cluster)
        schedule(hsm, "hsm_create", lambda b: _hsm_created(cluster, hsm))
        emit("hsm_created", cluster.account, cluster.region, cluster_id=cluster_id, hsm_id=hsm_id, eni_ip=hsm.eni_ip,
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
        cluster = get_cluster(backend, cluster_id)
        given = [(name, value) for name, value in (("HsmId", hsm_id), ("EniId", eni_id), ("EniIp", eni_ip)) if value]
        if not given:
            raise InvalidRequest("Specify one of HsmId, EniId or EniIp to delete an HSM")
        shapes = {"HsmId": ("HsmId", "hsmId"), "EniId": ("EniId", "eniId"), "EniIp": ("IpAddress", "eniIp")}
        attributes = {"HsmId": "hsm_id", "EniId": "eni_id", "EniIp": "eni_ip"}
        matches = set()
        for name, value in given:
            require_pattern(shapes[name][0], shapes[name][1], value)
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
            new_backup(backend, cluster)  # removing an HSM from an active cluster makes a backup
        hsm.state, hsm.state_message = "DELETE_IN_PROGRESS", None
        schedule(hsm, "hsm_delete", lambda b: _hsm_deleted(b, cluster, hsm))
        emit("hsm_deleted", cluster.account, cluster.region, cluster_id=cluster_id, hsm_id=hsm.hsm_id,
             eni_ip=hsm.eni_ip)
        return hsm.hsm_id


def _hsm_deleted(backend, cluster, hsm):
    cluster.hsms.pop(hsm.hsm_id, None)
    try:
        ec2_backend(backend).delete_network_interface(hsm.eni_id)
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
