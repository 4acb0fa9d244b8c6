"""In-process events between the simulator's control plane and its HSMs (data plane).

The control plane (moto extension) emits; the data plane subscribes. Keeping the two halves apart this way lets
either be tested alone and keeps moto details out of the HSM model.

Events and their keyword arguments (every event also gets ``account`` and ``region``):

- ``cluster_created``: cluster_id, hsm_type, mode, source_backup_id (None for a new cluster)
- ``cluster_initialized``: cluster_id
- ``cluster_deleted``: cluster_id
- ``hsm_created``: cluster_id, hsm_id, eni_ip, availability_zone
- ``hsm_deleted``: cluster_id, hsm_id, eni_ip
- ``backup_created``: cluster_id, backup_id (the data plane snapshots the cluster's HSM state under backup_id)
- ``backup_copied``: cluster_id (source cluster), source_backup_id, source_region, backup_id (the new copy, in
  ``region``)
- ``cluster_hsm_type_changing``: cluster_id, hsm_type (the target), state (MODIFY_IN_PROGRESS or
  ROLLBACK_IN_PROGRESS): the HSMs enter limited-write mode
- ``cluster_hsm_type_changed``: cluster_id, hsm_type: every HSM runs the new type, the cluster is ACTIVE again
- ``reset``: (no arguments) everything is forgotten
"""

from collections import defaultdict
import threading

_listeners = defaultdict(list)
_lock = threading.RLock()


def subscribe(event, callback):
    with _lock:
        if callback not in _listeners[event]:
            _listeners[event].append(callback)


def unsubscribe_all():
    with _lock:
        _listeners.clear()


def emit(event, **kwargs):
    with _lock:
        callbacks = list(_listeners[event])
    for callback in callbacks:
        callback(**kwargs)
