"""Which AWS regions exist, and the answer to a request for one that does not.

A real client never reaches AWS for a region that does not exist (there is no endpoint to resolve); a request
signed for such a region that does reach an endpoint is refused as a client error about the credential scope. The
simulator answers that way instead of letting moto fail on a region it has no backend for (an HTTP 500 page).
"""

import functools
import json
import uuid


@functools.lru_cache(maxsize=1)
def _botocore_regions():
    import botocore.session

    endpoints = botocore.session.get_session().get_data("endpoints")
    return frozenset(region for partition in endpoints["partitions"] for region in partition.get("regions", {}))


def exists(region):
    """True if some AWS partition has this region (botocore's endpoint data, as moto's backends use)."""
    return region in _botocore_regions() or region in ("aws-global", "global")


def message(region, service):
    return (
        "Credential should be scoped to a valid region, not '{0}': {1} has no endpoint in region '{0}'. Use a "
        "region where the service is available (for example us-east-1)".format(region, service)
    )


def refusal(region, service, json_protocol):
    """(status, headers, body) of the client error for a request signed for a region that does not exist."""
    request_id = str(uuid.uuid4())
    text = message(region, service)
    if json_protocol:
        code = "InvalidSignatureException"
        body = json.dumps({"__type": code, "message": text}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                   ("x-amzn-RequestId", request_id)]
        return 400, headers, body
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>SignatureDoesNotMatch</Code>'
        "<Message>{0}</Message></Error></Errors><RequestID>{1}</RequestID></Response>".format(text, request_id)
    ).encode()
    return 403, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body
