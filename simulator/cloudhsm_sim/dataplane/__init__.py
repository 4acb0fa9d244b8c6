"""The simulated HSMs (data plane): per-cluster users, keys and masking keys, driven by control-plane events.

Importing this package subscribes the data plane to ``cloudhsm_sim.events`` (idempotently). The server mounts
``cloudhsm_sim.dataplane.wsgi.application`` under ``/_hsm/`` and, with ``--state-dir``, calls ``load(dir)`` at start
and ``start_autosave(dir)`` (or ``save(dir)`` at shutdown).
"""

import threading

from .. import events
from .model import HsmError
from .service import DataPlane

STATE = DataPlane()

_EVENTS = {
    "cluster_created": STATE.on_cluster_created,
    "cluster_initialized": STATE.on_cluster_initialized,
    "cluster_deleted": STATE.on_cluster_deleted,
    "hsm_created": STATE.on_hsm_created,
    "hsm_deleted": STATE.on_hsm_deleted,
    "backup_created": STATE.on_backup_created,
    "backup_copied": STATE.on_backup_copied,
    "cluster_hsm_type_changing": STATE.on_cluster_hsm_type_changing,
    "cluster_hsm_type_changed": STATE.on_cluster_hsm_type_changed,
    "reset": STATE.on_reset,
}


def subscribe():
    """Listen to the control plane's events; safe to call again (e.g. after ``events.unsubscribe_all()``)."""
    for name, callback in _EVENTS.items():
        events.subscribe(name, callback)


def save(directory):
    """Write the HSM state (clusters, HSMs, backup snapshots; not login sessions) to ``directory``."""
    STATE.save(directory)


def load(directory):
    """Read the state written by ``save``; returns False when ``directory`` holds none yet."""
    return STATE.load(directory)


def reset():
    STATE.on_reset()


_autosaver = {}


def start_autosave(directory, interval=1.0):
    """Save in a background thread whenever the state changed, at most once per ``interval`` seconds."""
    stop = threading.Event()

    def loop():
        while not stop.wait(interval):
            if STATE.dirty:
                STATE.save(directory)

    thread = threading.Thread(target=loop, name="dataplane-autosave", daemon=True)
    thread.start()
    _autosaver[directory] = stop
    return stop


def stop_autosave(directory):
    stop = _autosaver.pop(directory, None)
    if stop is not None:
        stop.set()
    STATE.save(directory)


subscribe()

__all__ = ["STATE", "HsmError", "load", "save", "reset", "subscribe", "start_autosave", "stop_autosave"]
