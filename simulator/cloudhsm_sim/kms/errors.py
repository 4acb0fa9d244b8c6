"""The modeled KMS errors of the custom key store operations, serialized by moto with their exact codes."""

from moto.core.exceptions import JsonRESTError


class KmsError(JsonRESTError):
    code = 400
    error_code = "KMSInternalException"

    def __init__(self, message):
        super().__init__(self.error_code, message)


def _error(name, status=400):
    return type(name, (KmsError,), {"error_code": name, "code": status})


CloudHsmClusterInUseException = _error("CloudHsmClusterInUseException")
CloudHsmClusterInvalidConfigurationException = _error("CloudHsmClusterInvalidConfigurationException")
CloudHsmClusterNotActiveException = _error("CloudHsmClusterNotActiveException")
CloudHsmClusterNotFoundException = _error("CloudHsmClusterNotFoundException")
CloudHsmClusterNotRelatedException = _error("CloudHsmClusterNotRelatedException")
CustomKeyStoreHasCMKsException = _error("CustomKeyStoreHasCMKsException")
CustomKeyStoreInvalidStateException = _error("CustomKeyStoreInvalidStateException")
CustomKeyStoreNameInUseException = _error("CustomKeyStoreNameInUseException")
CustomKeyStoreNotFoundException = _error("CustomKeyStoreNotFoundException")
IncorrectTrustAnchorException = _error("IncorrectTrustAnchorException")
LimitExceededException = _error("LimitExceededException")
InvalidMarkerException = _error("InvalidMarkerException")
KMSInternalException = _error("KMSInternalException", 500)
KMSInvalidStateException = _error("KMSInvalidStateException")
UnsupportedOperationException = _error("UnsupportedOperationException")
ValidationException = _error("ValidationException")


def validation(field, value, constraint):
    """The wording AWS validation uses for a member that breaks its modeled constraint."""
    return ValidationException(
        "1 validation error detected: Value '{0}' at '{1}' failed to satisfy constraint: {2}".format(
            value, field, constraint)
    )
