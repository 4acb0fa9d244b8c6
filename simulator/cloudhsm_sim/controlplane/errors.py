"""The modeled cloudhsmv2 errors, raised by the control plane and serialized by moto with their exact codes."""

from moto.core.exceptions import ServiceException

from .ids import PATTERNS


class CloudHsmError(ServiceException):
    """Base of the modeled errors; ``status`` is the HTTP status the real service answers with."""

    status = 400


class InvalidRequest(CloudHsmError):
    code = "CloudHsmInvalidRequestException"


class ResourceNotFound(CloudHsmError):
    code = "CloudHsmResourceNotFoundException"


class AccessDenied(CloudHsmError):
    code = "CloudHsmAccessDeniedException"


class InternalFailure(CloudHsmError):
    code = "CloudHsmInternalFailureException"
    status = 500


class TagError(CloudHsmError):
    code = "CloudHsmTagException"


class ResourceLimitExceeded(CloudHsmError):
    code = "CloudHsmResourceLimitExceededException"


class RegionUnavailable(CloudHsmError):
    """A request signed for a region without CloudHSM: the client error AWS gives for a bad credential scope."""

    code = "InvalidSignatureException"


class SimulatorError(Exception):
    """Raised by the simulator's own Python functions (activation, backups on demand) on a bad request."""


def validation_error(shape, field, value):
    """The error AWS-style validation gives for a value that does not match its modeled pattern."""
    return InvalidRequest(
        "1 validation error detected: Value '{0}' at '{1}' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: {2}".format(value, field, PATTERNS[shape])
    )
