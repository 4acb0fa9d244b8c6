"""Completing moto's cloudhsmv2 in place.

moto has no plugin interface; its dispatcher looks up a plain function named after the operation on
CloudHSMV2Response for every request, so attaching our handlers to that class (and the model functions to the
backend class) works in decorator mode and in server mode alike, as long as it happens in the serving process.
"""

import threading

from botocore import xform_name
from moto.cloudhsmv2.models import CloudHSMV2Backend
from moto.cloudhsmv2.responses import CloudHSMV2Response

from . import models
from .responses import HANDLERS

# The operations moto 5.2.x implements itself (all replaced here); the canary test compares against this.
MOTO_OPERATIONS = frozenset(
    [
        "CreateCluster",
        "DeleteCluster",
        "DescribeClusters",
        "DescribeBackups",
        "ListTags",
        "TagResource",
        "UntagResource",
        "GetResourcePolicy",
        "PutResourcePolicy",
    ]
)

_lock = threading.Lock()
_original_methods = {}


def install():
    """Patch moto's cloudhsmv2 classes; safe to call any number of times."""
    with _lock:
        if not _original_methods:
            for operation in HANDLERS:
                name = xform_name(operation)
                _original_methods[operation] = CloudHSMV2Response.__dict__.get(name)
        for operation, handler in HANDLERS.items():
            name = xform_name(operation)
            setattr(CloudHSMV2Response, name, handler)
            # moto's own backend methods expect moto's objects: code that calls the backend directly gets the
            # simulator's functions too.
            setattr(CloudHSMV2Backend, name, getattr(models, name))


def installed():
    return all(
        getattr(CloudHSMV2Response.__dict__.get(xform_name(op)), "cloudhsm_sim", False) for op in HANDLERS
    )


def moto_native_operations():
    """The operations moto itself implemented before install() replaced them."""
    if _original_methods:
        return sorted(op for op, method in _original_methods.items() if method is not None)
    return sorted(op for op in HANDLERS if xform_name(op) in CloudHSMV2Response.__dict__)
