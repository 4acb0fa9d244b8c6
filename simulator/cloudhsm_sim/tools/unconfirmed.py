"""Every behaviour of the emulated tools that the CloudHSM reference marks NOT CONFIRMED, chosen here in one place.

Each choice is the most plausible reading of the reference and its supplement; docs/simulator.md lists them. When
real output is captured, correct it here and nowhere else.
"""

# ---------------------------------------------------------------------------------------------------------- SDK 3
# HSM error texts, by the data plane's error code. Settled: user_exists (supplement B3), login failure (B2).
CMU_ERRORS = {
    "login_failed": "HSM Error: RET_USER_LOGIN_FAILURE",
    "user_locked": "HSM Error: RET_USER_LOGIN_FAILURE",
    "user_exists": "HSM Error: This user is already created",
    "no_such_user": "HSM Error: This user does not exist",
    "invalid_user_type": "HSM Error: Invalid User Type.",
    "not_logged_in": "HSM Error: User is not logged in",
    "access_denied": "HSM Error: Permission denied for this operation",
    "user_owns_keys": "HSM Error: This user owns keys and cannot be deleted",
    "user_logged_in": "HSM Error: This user is logged in and cannot be changed",
    "invalid_password": "HSM Error: Invalid password length; it must be 7 to 32 characters",
    "invalid_username": "HSM Error: Invalid user name",
    "no_such_key": "HSM Error: Invalid object handle is passed to this operation",
    "key_access_denied": "HSM Error: Key Access is denied.",
    "masking_key_mismatch": "HSM Error: Masked object could not be unmasked: the clusters do not share a masking key",
    "key_exists": "HSM Error: An object with this handle already exists on the destination",
    "missing_user": "HSM Error: The key's owner or shared users do not exist on the destination",
    "hsm_unreachable": "HSM Error: Server is not reachable",
    "no_such_hsm": "HSM Error: Server is not reachable",
    "not_initialized": "HSM Error: The cluster is not initialized",
    "same_cluster": "HSM Error: Source and destination are the same cluster",
    "quorum_required": "RET_MXN_AUTH_FAILED",
    "invalid_share": "HSM Error: Invalid input data/params",
    "already_shared": "HSM Error: Invalid input data/params",
    "not_shared": "HSM Error: Invalid input data/params",
    # HSM-type migration (AWS documents which operations limited-write mode refuses, not the error texts).
    "limited_write": "HSM Error: This operation is not allowed while the cluster is in limited-write mode",
    "replicate_to_older_type": "HSM Error: Users cannot be synchronized from hsm2m.medium to hsm1.medium",
}
CMU_DEFAULT_ERROR = "HSM Error: Operation failed"
# After the Retry prompt: R retries the same server, I goes on to the next one, A (and B, roll back, which the
# simulator cannot undo) return to the prompt.
CMU_RETRY_PROMPTS = {
    "createUser": "Retry/Ignore/Abort?(R/I/A):",
    "changePswd": "Retry/Ignore/Abort?(R/I/A):",
    "deleteUser": "Retry/rollBack/Ignore?(R/B/I):",
}
CMU_FAILED_ON_SERVER = {
    "createUser": "creating user on server {n}({host}) failed",
    "changePswd": "changing password on server {n}({host}) failed",
    "deleteUser": "deleteUser failed on server {n}({host})",
}
# Commands that show the CAUTION prompt (AWS documents createUser and changePswd; supplement B5 adds none that the
# simulator implements).
CMU_CAUTION_COMMANDS = ("createUser", "changePswd")
# createUser prints no per-server success lines (the AWS example ends at "Creating User ... on N nodes");
# changePswd does (a real run printed "changePswd success on server 0(...)").
CMU_PER_SERVER_SUCCESS = {"createUser": False, "changePswd": True, "deleteUser": True}
CMU_SYNC_FAILED = "{cmd} failed: {error}"
CMU_NOT_LOGGED_IN_STATE = "Not logged in"
CMU_UNKNOWN_COMMAND = "Unknown command: {name}"
CMU_CONNECT_FAILED = "Connection to server '{host}': hostname '{host}', port 2225 failed."

# Long handle lists are wrapped: at most this many handles on a line, every line but the last ending with a comma
# (a real findKey printed 18 handles as a line ending "524308," and a last line "524309, 524310, 524311"; the
# width is NOT CONFIRMED: 15 fits that run). findAllKeys wraps the same way (its separator has no space).
KMU_HANDLES_PER_LINE = 15
CMU_HANDLES_PER_LINE = 15


def wrap_handles(items, separator, per_line):
    """A handle list as the SDK 3 tools print it: ``per_line`` items a line, each line but the last ending with a
    comma."""
    lines = [separator.join(items[i : i + per_line]) for i in range(0, len(items), per_line)] or [""]
    return ",\n".join(lines)


# genECCKeyPair -i: curve ids (the reference quotes none; these follow the AWS genECCKeyPair page's list).
KMU_EC_CURVES = {2: "prime256v1", 14: "secp384r1", 15: "secp521r1", 16: "secp256k1"}
# getAttribute constant of the EC point (PKCS#11 CKA_EC_POINT; the reference's constant list has no EC entry).
KMU_EC_POINT_ATTRIBUTE = 385

KMU_ERRORS = {  # code -> (return code, text)
    "login_failed": (0xA3, "HSM Error: RET_USER_LOGIN_FAILURE"),
    "user_locked": (0xA3, "HSM Error: RET_USER_LOGIN_FAILURE"),
    "no_such_user": (0x9D, "HSM Error: user isn't initialized or user with this name doesn't exist"),
    "invalid_user_type": (0xDB, "HSM Error: Invalid User Type."),
    "no_such_key": (0xA8, "HSM Error: Invalid object handle is passed to this operation"),
    "key_access_denied": (0xC6, "HSM Error: Key Access is denied."),
    "not_logged_in": (0xC6, "HSM Error: Key Access is denied."),
    "access_denied": (0xC6, "HSM Error: Key Access is denied."),
    "id_not_unique": (0xB3, "HSM Error: This operation violates the current configured/FIPS policies"),
    "invalid_key_size": (0xB3, "HSM Error: This operation violates the current configured/FIPS policies"),
    "invalid_share": (0xB3, "HSM Error: This operation violates the current configured/FIPS policies"),
    "invalid_key_type": (0xB3, "HSM Error: This operation violates the current configured/FIPS policies"),
    "invalid_quorum": (0xB3, "HSM Error: This operation violates the current configured/FIPS policies"),
    "invalid_attribute": (0xB3, "HSM Error: This operation violates the current configured/FIPS policies"),
    "hsm_unreachable": (0x40000049, "HSM Error: Connection to the HSM failed"),
    "limited_write": (0xB3, "HSM Error: This operation is not allowed while the cluster is in limited-write mode"),
}
KMU_DEFAULT_ERROR = (0xB3, "HSM Error: This operation violates the current configured/FIPS policies")

# ---------------------------------------------------------------------------------------------------------- SDK 5
# Settled: key_selection (reference 3.4), already_activated (supplement A3), user_exists contains "User already
# exists" (A4), key_exists "Key replicate failed on N of M connections" (A1), token attribute (A6).
CLI_ERRORS = {
    "login_failed": "Login failed: incorrect username, role or password",
    "user_locked": "Login failed: the user is locked out; an admin must reset its password",
    "no_such_user": "User does not exist",
    "invalid_user_type": "Login failed: incorrect username, role or password",
    "user_exists": "User already exists",
    "not_logged_in": "This operation requires a logged in user",
    "access_denied": "The logged in user's role does not allow this operation",
    "user_owns_keys": "User owns keys and cannot be deleted",
    "user_logged_in": "User is logged in and cannot be changed",
    "invalid_password": "Password must be 7 to 32 characters",
    "invalid_username": "Invalid username: use 1 to 31 letters, digits or underscores",
    "no_such_key": "Key does not exist",
    "key_access_denied": "Only the key owner can perform this operation",
    "masking_key_mismatch": "The source and destination clusters do not share a masking key: they must be clones",
    "missing_user": "The key owner and every shared user must exist in the destination cluster",
    "already_activated": "Cluster has already been activated",
    "not_initialized": "Cluster is not initialized",
    "hsm_unreachable": "Unable to connect to the cluster",
    "no_such_hsm": "Unable to connect to the cluster",
    "token_attribute": "Token key attribute cannot be supplied via optional attributes",
    "same_cluster": "The source and destination clusters must be different",
    "quorum_required": "Quorum approval is required for this operation",
    "invalid_share": "Keys can be shared only with crypto users other than the owner",
    "already_shared": "The key is already shared with this user",
    "not_shared": "The key is not shared with this user",
    "invalid_attribute": "This attribute cannot be set on this key",
    "invalid_key_size": "Invalid key size",
    "invalid_key_type": "Invalid key type or curve",
    "invalid_quorum": "The key quorum value cannot exceed the number of users associated with the key",
    "id_not_unique": "Key id is not unique",
    # HSM-type migration (NOT CONFIRMED: AWS lists what limited-write mode refuses, and that user replicate does not
    # go from hsm2m.medium to hsm1.medium, but shows no error text for either).
    "limited_write": "The cluster is in limited-write mode while its HSM type is being migrated: user, quorum, "
    "mTLS, token key creation or deletion and key attribute changes are refused until the cluster is ACTIVE",
    "replicate_to_older_type": "User replicate does not support syncing users from hsm2m.medium to hsm1.medium",
    # Mutual TLS (NOT CONFIRMED: AWS documents no error texts for the cluster mtls commands or a refused handshake).
    "mtls_refused": "Unable to connect to the cluster: the HSM requires mutual TLS and rejected the client "
    "certificate (none presented, or not signed by a registered trust anchor, or expired)",
    "mtls_unsupported": "Mutual TLS is only supported on hsm2m.medium clusters",
    "invalid_certificate": "Invalid certificate: expected a PEM encoded X.509 certificate",
    "invalid_trust_anchor": "Invalid trust anchor: supported key types are RSA 2048, 3072 and 4096 bit and EC "
    "secp256r1, secp384r1 and secp521r1",
    "trust_anchor_exists": "This trust anchor is already registered",
    "trust_anchor_limit": "The maximum number of trust anchors (2) is already registered",
    "no_such_trust_anchor": "No trust anchor with this certificate reference is registered",
    "trust_anchor_in_use": "Cannot deregister the last trust anchor while mTLS enforcement is client-and-server",
    "no_trust_anchor": "Register a trust anchor before setting the mTLS enforcement level",
    "mtls_client_not_trusted": "This client must connect with a certificate signed by a registered trust anchor "
    "before mTLS enforcement can be set",
    "invalid_enforcement_level": "Invalid mTLS enforcement level",
}
CLI_DEFAULT_ERROR = "Operation failed"
# key share / unshare / set-attribute answers, and the refusal to share with an admin.
CLI_QUORUM_REGISTERED = "Successfully registered quorum token-sign key"
CLI_QUORUM_VALUE_SET = "Set quorum value successful"
# A user with a registered quorum key shows it in `user list` like an MFA entry.
CLI_USER_QUORUM_ENTRY = {"strategy": "token-sign", "status": "enabled"}
# CMU: registerQuorumPubKey / setMValue print one success line per server; setMValue's service 3 is user management.
CMU_USER_SERVICE = "3"
# CMU getAttribute prints "Attribute Value on server N(host):" then the name/value lines KMU writes to its file.
CLI_KEY_SHARED = "Key shared successfully"
CLI_KEY_UNSHARED = "Key unshared successfully"
CLI_ATTRIBUTE_SET = "Attribute set successfully"
CLI_SHARE_ROLE = "Keys can be shared only with crypto users"
CLI_KEY_EXISTS = "Key replicate failed on {failed} of {total} connections"
CLI_USER_EXISTS_ON_DEST = "User replicate failed on {failed} of {total} connections"
CLI_MULTIPLE_CLUSTERS = "multiple clusters provided in configuration file. Please specify `cluster-id`"
CLI_UNKNOWN_CLUSTER = "cluster-id {cluster_id} not found in configuration file"
CLI_NOT_CONFIGURED = "No HSM is configured; run configure-cli first"
# A failed command (error_code 1) exits with status 1 in single-command mode; interactive mode keeps going.
CLI_ERROR_EXIT_STATUS = 1
# The interactive prompt is printed only when stdin is a terminal, so piped sessions print bare JSON documents.
CLI_PROMPT_ONLY_ON_TTY = True
# Key id as shown by `key generate-symmetric` ("" in its example) and by `key list`/`key replicate` ("0x<hex>").
CLI_ID_IN_GENERATE_AS_TEXT = True
# Multi-cluster cloudhsm-cli.cfg: each clusters[] entry names its cluster under this key.
CFG_CLUSTER_ID_KEY = "cluster_id"
# configure-cli prints nothing on success; errors go to stderr with exit status 1.
CONFIGURE_CLI_ERROR = "Error: {message}"


# ------------------------------------------------------------------------------------------------ SDK 5 mutual TLS
# Where configure-cli keeps a cluster's client certificate and key (--client-cert-hsm-tls-file /
# --client-key-hsm-tls-file) in cloudhsm-cli.cfg: AWS does not document the file.
CFG_CLIENT_CERT_KEY = "client_cert_hsm_tls_file"
CFG_CLIENT_KEY_KEY = "client_key_hsm_tls_file"
# Answers AWS does not show (register, list and get-enforcement answers are documented and used verbatim).
CLI_MTLS_DEREGISTERED = "Trust anchor with reference {reference} deregistered successfully"
CLI_MTLS_ENFORCEMENT_SET = "mTLS enforcement level set to {level} successfully"
# The TLS handshake failure a client without an accepted certificate sees, and a certificate/key mismatch.
CLI_MTLS_KEY_MISMATCH = "Failed to load client certificate: the private key does not match the certificate {path}"
CLI_MTLS_UNREADABLE = "Failed to load client certificate or key {path}: {error}"
