"""Faults on demand, for reliability tests: API throttling and 5xx errors, extra latency, slow transitions,
HSMs that fail to create or turn DEGRADED, and HSM IPs that stop answering.

API faults apply to AWS API requests in server mode (``cloudhsm-sim serve``), for the services listed in
``services`` (default: cloudhsmv2 only) and, if ``operations`` is not empty, only those operations. A request
first consumes ``throttle_next`` / ``error_next`` (exact counts), then the ``throttle_rate`` / ``error_rate``
probabilities apply, drawn from a generator seeded with ``seed`` (so a seeded run is repeatable).
The data plane asks ``hsm_unresponsive(eni_ip)`` before answering for an HSM. This module knows nothing of the
control plane: the server installs ``take_hsm_create_failure`` as the control plane's HSM-creation hook
(``controlplane.set_hsm_create_failure_hook``), and turns HSMs DEGRADED through ``controlplane.degrade_hsm``.
"""

import random
import threading

THROTTLE = "throttle"
ERROR = "error"

_DEFAULTS = {
    "throttle_rate": 0.0,
    "error_rate": 0.0,
    "throttle_next": 0,
    "error_next": 0,
    "latency_seconds": 0.0,
    "services": ["cloudhsmv2"],
    "operations": [],
    "seed": None,
    "hsm_create_failures": 0,
    "unresponsive_ips": [],
}

_lock = threading.Lock()
_settings = {}
_rng = random.Random()


def _reset_locked():
    _settings.clear()
    _settings.update({key: (list(value) if isinstance(value, list) else value) for key, value in _DEFAULTS.items()})
    _rng.seed(None)


_reset_locked()


def clear():
    """Back to no faults at all."""
    with _lock:
        _reset_locked()


def snapshot():
    with _lock:
        return {key: (list(value) if isinstance(value, list) else value) for key, value in _settings.items()}


def configure(**changes):
    """Change some settings (the others stay); returns all settings. Raises ValueError on a bad value."""
    checked = {}
    for key, value in changes.items():
        if key not in _DEFAULTS:
            raise ValueError("unknown fault setting {0!r}; known: {1}".format(key, ", ".join(sorted(_DEFAULTS))))
        checked[key] = _check(key, value)
    with _lock:
        _settings.update(checked)
        if "seed" in checked:
            _rng.seed(checked["seed"])
        return {key: (list(value) if isinstance(value, list) else value) for key, value in _settings.items()}


def _check(key, value):
    if key in ("throttle_rate", "error_rate"):
        number = float(value)
        if not 0.0 <= number <= 1.0:
            raise ValueError("{0} must be between 0 and 1".format(key))
        return number
    if key in ("throttle_next", "error_next", "hsm_create_failures"):
        number = int(value)
        if number < 0:
            raise ValueError("{0} must not be negative".format(key))
        return number
    if key == "latency_seconds":
        number = float(value)
        if not 0.0 <= number <= 60.0:
            raise ValueError("latency_seconds must be between 0 and 60")
        return number
    if key == "seed":
        return None if value is None else int(value)
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ValueError("{0} must be a list of strings".format(key))
    return list(value)


def _applies(service, operation):
    services = _settings["services"]
    operations = _settings["operations"]
    return ("*" in services or service in services) and (not operations or operation in operations)


def decide(service, operation):
    """THROTTLE, ERROR or None for one API request (consumes counts and random draws)."""
    with _lock:
        if not _applies(service, operation):
            return None
        if _settings["throttle_next"] > 0:
            _settings["throttle_next"] -= 1
            return THROTTLE
        if _settings["error_next"] > 0:
            _settings["error_next"] -= 1
            return ERROR
        if _settings["throttle_rate"] and _rng.random() < _settings["throttle_rate"]:
            return THROTTLE
        if _settings["error_rate"] and _rng.random() < _settings["error_rate"]:
            return ERROR
        return None


def latency(service, operation):
    """Extra seconds to wait before answering this request."""
    with _lock:
        return _settings["latency_seconds"] if _applies(service, operation) else 0.0


def hsm_unresponsive(eni_ip):
    """True if the HSM at this ENI IP should not answer (the data plane then behaves as if it timed out)."""
    with _lock:
        return eni_ip in _settings["unresponsive_ips"]


def set_unresponsive(eni_ip, unresponsive=True):
    with _lock:
        ips = [ip for ip in _settings["unresponsive_ips"] if ip != eni_ip]
        if unresponsive:
            ips.append(eni_ip)
        _settings["unresponsive_ips"] = ips


def take_hsm_create_failure():
    """True if the HSM being created now should end DEGRADED instead of ACTIVE (consumes one)."""
    with _lock:
        if _settings["hsm_create_failures"] > 0:
            _settings["hsm_create_failures"] -= 1
            return True
        return False
