"""Adding custom key stores to moto's KMS in place (the technique of the cloudhsmv2 extension).

moto's dispatcher looks up a plain function named after the operation on KmsResponse for every request, so
attaching functions to that class (and wrapping two KmsBackend methods and Key.to_dict) works in decorator mode and
in server mode alike, provided it happens in the process that serves the API.
"""

import os
import threading

from botocore import xform_name
from moto.kms.models import Key, KmsBackend
from moto.kms.responses import KmsResponse

from . import responses, stores

_lock = threading.Lock()


def _targets():
    """(class, attribute, replacement, key in ORIGINALS) for everything install() patches."""
    found = [(KmsResponse, xform_name(operation), handler, None) for operation, handler in responses.OPERATIONS.items()]
    found += [(KmsResponse, name, handler, name) for name, handler in responses.RESPONSE_OVERRIDES.items()]
    found += [
        (Key, "to_dict", responses.key_to_dict, "Key.to_dict"),
        (KmsBackend, "encrypt", responses.backend_encrypt, "KmsBackend.encrypt"),
        (KmsBackend, "decrypt", responses.backend_decrypt, "KmsBackend.decrypt"),
    ]
    return found


def install():
    """Patch moto's KMS; safe to call any number of times. Reads the connect/disconnect delays from the
    environment (CLOUDHSM_SIM_KMS_CONNECT_SECONDS, CLOUDHSM_SIM_KMS_DISCONNECT_SECONDS) when they are set."""
    with _lock:
        for cls, attribute, replacement, original_key in _targets():
            current = cls.__dict__.get(attribute)
            if original_key is not None and original_key not in responses.ORIGINALS:
                if getattr(current, "cloudhsm_sim", False):
                    raise RuntimeError("moto's {0}.{1} was replaced before its original was kept".format(
                        cls.__name__, attribute))
                responses.ORIGINALS[original_key] = current
            setattr(cls, attribute, replacement)
    connect = os.environ.get(stores.ENV_CONNECT_SECONDS)
    disconnect = os.environ.get(stores.ENV_DISCONNECT_SECONDS)
    if connect or disconnect:
        stores.set_delays(connect=connect or None, disconnect=disconnect or None)


def installed():
    return all(getattr(target[0].__dict__.get(target[1]), "cloudhsm_sim", False) for target in _targets())
