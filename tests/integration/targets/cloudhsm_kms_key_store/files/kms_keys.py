#!/usr/bin/env python
"""KMS key operations the target needs and no module offers: CreateKey with Origin AWS_CLOUDHSM, Encrypt, Decrypt.

    kms_keys.py create STORE_ID | encrypt KEY_ID TEXT | decrypt BLOB_BASE64

Endpoint, region and credentials come from the environment (AWS_ENDPOINT_URL, AWS_REGION, ...). Prints one JSON
object: the result, or {"error_code": ..., "message": ...} (exit status 0 either way, so the target can assert).
"""

import base64
import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def main(action, value, text=None):
    kms = boto3.client("kms", region_name=os.environ["AWS_REGION"], endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                       config=Config(retries={"total_max_attempts": 1}))
    try:
        if action == "create":
            metadata = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=value)["KeyMetadata"]
            return {"key_id": metadata["KeyId"], "arn": metadata["Arn"], "key_state": metadata["KeyState"],
                    "cluster_id": metadata["CloudHsmClusterId"]}
        if action == "encrypt":
            blob = kms.encrypt(KeyId=value, Plaintext=text.encode())["CiphertextBlob"]
            return {"blob": base64.b64encode(blob).decode()}
        if action == "decrypt":
            answer = kms.decrypt(CiphertextBlob=base64.b64decode(value))
            return {"text": answer["Plaintext"].decode(), "key_id": answer["KeyId"]}
    except ClientError as error:
        return {"error_code": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
    raise SystemExit("unknown action %s" % action)


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
