"""Admin endpoints for the KMS part of the simulator, in the shape of ``server.AdminApi`` routes.

``AdminApi`` calls ``handler(payload=..., query=..., **path_groups)`` and expects ``(status, body)``; a ValueError
becomes a 400. Add them with ``self.routes.extend(cloudhsm_sim.kms.admin.ROUTES)``.
"""

from moto.kms.models import kms_backends

from . import stores


def get_settings(**_):
    return 200, {"kms": stores.get_delays()}


def set_settings(payload, **_):
    """Body ``{"connect": seconds, "disconnect": seconds}`` (either may be left out)."""
    unknown = sorted(set(payload) - {"connect", "disconnect"})
    if unknown:
        raise ValueError("unknown KMS setting(s) {0}; known: connect, disconnect".format(", ".join(unknown)))
    return 200, {"kms": stores.set_delays(connect=payload.get("connect"), disconnect=payload.get("disconnect"))}


def reset_settings(**_):
    return 200, {"kms": stores.reset_delays()}


def list_stores(**_):
    """Every custom key store of every account and region (never the kmsuser password KMS holds)."""
    found = []
    with stores.locked():
        for account, per_account in list(kms_backends.items()):
            for region, backend in list(per_account.items()):
                stores.advance_all(backend)
                for store in stores.stores_of(backend).values():
                    entry = store.to_api()
                    entry.pop("TrustAnchorCertificate", None)
                    entry.update(Account=account, Region=region)
                    found.append(entry)
    return 200, {"stores": found}


ROUTES = [
    ("GET", r"/_sim/kms", get_settings),
    ("POST", r"/_sim/kms", set_settings),
    ("DELETE", r"/_sim/kms", reset_settings),
    ("GET", r"/_sim/kms/stores", list_stores),
]
