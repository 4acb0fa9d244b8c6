"""The data plane's few calls into the rest of the simulator (control plane, faults), kept in one place.

Each call degrades to a harmless default when the other half is not loaded, so the HSMs can be tested alone; tests
replace these functions to stub the control plane.
"""

import importlib


def _function(module, name):
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def activate_cluster(cluster_id):
    """Tell the control plane the cluster was activated on its HSM (INITIALIZED -> ACTIVE, plus a backup)."""
    activate = _function("cloudhsm_sim.controlplane", "activate_cluster")
    describe = _function("cloudhsm_sim.controlplane", "describe_cluster")
    if activate is None:
        return
    if describe is not None and (describe(cluster_id) or {}).get("State") == "ACTIVE":
        return  # already activated through the simulator's admin API
    activate(cluster_id)


def cluster_initialized(cluster_id):
    """Whether the control plane has the cluster INITIALIZED (used when no cluster_initialized event was seen)."""
    describe = _function("cloudhsm_sim.controlplane", "describe_cluster")
    if describe is None:
        return False
    cluster = describe(cluster_id) or {}
    return cluster.get("State") == "INITIALIZED"


def hsm_reachable(eni_ip):
    """An HSM answers unless a fault makes it unresponsive or the control plane says it is not ACTIVE."""
    unresponsive = _function("cloudhsm_sim.faults", "hsm_unresponsive")
    if unresponsive is not None and unresponsive(eni_ip):
        return False
    find = _function("cloudhsm_sim.controlplane", "find_hsm_by_ip")
    if find is not None:
        hsm = find(eni_ip)
        if hsm is not None and hsm.get("state") not in (None, "ACTIVE"):
            return False
    return True
