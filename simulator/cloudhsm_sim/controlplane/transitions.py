"""How long each state transition of the simulated control plane takes: the one place that decides it.

A mutating call always answers with the in-progress state; the target state is reached once the configured number
of seconds has passed (0 means: at the next read). Durations are set per transition name, or for all at once.
"""

import threading

# name -> (from state, to state), for documentation and validation of names.
TRANSITIONS = {
    "cluster_create": ("CREATE_IN_PROGRESS", "UNINITIALIZED (ACTIVE for a cluster from a backup)"),
    "cluster_initialize": ("INITIALIZE_IN_PROGRESS", "INITIALIZED"),
    # Per HSM: an HSM-type migration or rollback takes this long for each HSM of the cluster, one after the other.
    "cluster_modify": ("MODIFY_IN_PROGRESS / ROLLBACK_IN_PROGRESS", "ACTIVE"),
    "cluster_delete": ("DELETE_IN_PROGRESS", "DELETED"),
    "cluster_purge": ("DELETED", "(no longer listed)"),
    "hsm_create": ("CREATE_IN_PROGRESS", "ACTIVE"),
    "hsm_delete": ("DELETE_IN_PROGRESS", "(removed from the cluster)"),
    "backup_create": ("CREATE_IN_PROGRESS", "READY"),
    "backup_copy": ("CREATE_IN_PROGRESS", "READY"),
    "backup_expire": ("PENDING_DELETION", "DELETED"),
}

# The real service holds a deleted backup for seven days; everything else is near-instant by default.
DEFAULTS = {name: 0.0 for name in TRANSITIONS}
DEFAULTS["backup_expire"] = 7 * 24 * 3600.0

_lock = threading.Lock()
_seconds = dict(DEFAULTS)
_baseline = dict(DEFAULTS)  # what reset() returns to; the server's --transition-seconds moves it


def seconds(name):
    with _lock:
        return _seconds[name]


def get_all():
    with _lock:
        return dict(_seconds)


def set_seconds(values=None, all_seconds=None):
    """Set durations: ``all_seconds`` for every transition except backup_expire, then ``values`` per name."""
    values = dict(values or {})
    unknown = sorted(set(values) - set(TRANSITIONS))
    if unknown:
        raise ValueError("unknown transition(s): {0}; known: {1}".format(", ".join(unknown), ", ".join(TRANSITIONS)))
    checked = {}
    for name, value in values.items():
        checked[name] = _non_negative(value, name)
    with _lock:
        if all_seconds is not None:
            all_value = _non_negative(all_seconds, "all")
            for name in TRANSITIONS:
                if name != "backup_expire":
                    _seconds[name] = all_value
        _seconds.update(checked)
        return dict(_seconds)


def keep_as_baseline():
    """Make the current durations the ones reset() returns to."""
    with _lock:
        _baseline.clear()
        _baseline.update(_seconds)


def reset():
    with _lock:
        _seconds.clear()
        _seconds.update(_baseline)


def _non_negative(value, name):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("transition {0}: seconds must be a number, got {1!r}".format(name, value)) from None
    if number < 0:
        raise ValueError("transition {0}: seconds must not be negative".format(name))
    return number
