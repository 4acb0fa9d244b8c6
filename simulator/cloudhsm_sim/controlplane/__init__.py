"""The simulated CloudHSM control plane: moto's cloudhsmv2 made complete and faithful.

Call ``install()`` once in the process that serves the API (``cloudhsm-sim serve`` does). The functions below are
for the rest of the simulator (HSMs, client tools, admin API); they search every account and region.
"""

from .. import events
from . import models, transitions
from .errors import SimulatorError
from .install import install, installed

__all__ = [
    "install",
    "installed",
    "activate_cluster",
    "take_backup",
    "time_passes",
    "find_hsm_by_ip",
    "describe_cluster",
    "degrade_hsm",
    "set_hsm_create_failure_hook",
    "advance",
    "reset",
    "SimulatorError",
    "transitions",
]


def _cluster(cluster_id):
    backend, cluster = models.find_cluster(cluster_id)
    if cluster is None:
        raise SimulatorError("Cluster '{0}' not found in any account or region".format(cluster_id))
    return backend, cluster


def activate_cluster(cluster_id):
    """INITIALIZED -> ACTIVE, as activation on the HSM does; takes the activation backup. Returns the cluster."""
    with models.locked():
        backend, cluster = _cluster(cluster_id)
        return models.activate(backend, cluster)


def take_backup(cluster_id):
    """Make a backup of an ACTIVE cluster now (as the daily backup would). Returns the new backup."""
    with models.locked():
        backend, cluster = _cluster(cluster_id)
        return models.take_backup(backend, cluster)


def time_passes(cluster_id, seconds):
    """Let ``seconds`` pass for a cluster's time windows (rollback deadline, client versions seen in the last 7
    days) without moving the clock. Returns the cluster as describe_cluster shows it."""
    seconds = float(seconds)
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    with models.locked():
        unused_backend, cluster = _cluster(cluster_id)
        models.expire_windows(cluster, seconds)
    return describe_cluster(cluster_id)


def find_hsm_by_ip(eni_ip):
    """dict(account, region, cluster_id, hsm_id, state) of the HSM whose ENI has this IP, or None."""
    with models.locked():
        models.advance_all()
        backend, cluster, hsm = models.find_hsm_by_ip(eni_ip)
        if hsm is None:
            return None
        return {
            "account": backend.account_id,
            "region": backend.region_name,
            "cluster_id": cluster.cluster_id,
            "hsm_id": hsm.hsm_id,
            "state": hsm.state,
        }


def describe_cluster(cluster_id):
    """The cluster as DescribeClusters shows it, plus Account, Region and TrustAnchor (PEM or None); or None."""
    with models.locked():
        models.advance_all()
        backend, cluster = models.find_cluster(cluster_id)
        if cluster is None:
            return None
        result = cluster.to_api()
        result.update(Account=backend.account_id, Region=backend.region_name, TrustAnchor=cluster.trust_anchor)
        return result


def degrade_hsm(hsm_id, message="HSM is degraded."):
    """Turn an HSM DEGRADED; it stays so until deleted, as on the real service."""
    return models.set_hsm_degraded(hsm_id, message)


def set_hsm_create_failure_hook(hook):
    """Install a callable that says, for each new HSM, whether it ends DEGRADED (the fault injector's, in the server)."""
    models.set_creation_failure_hook(hook)


def advance():
    """Complete every transition that is due (the server calls this on a timer)."""
    models.advance_all()


def reset():
    """Forget every cluster, HSM and backup (and all other moto state); subscribers get the ``reset`` event."""
    from moto.core.base_backend import BackendDict
    from moto.core.model_instances import reset_model_data

    with models.locked():
        BackendDict.reset()
        reset_model_data()
        transitions.reset()
    events.emit("reset")
