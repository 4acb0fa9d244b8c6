"""Help texts of cloudhsm-cli commands as the real CLI prints them (from the AWS CloudHSM User Guide).

The texts for hsm-info, key list and key generate-symmetric aes were published with their indentation lost;
they are re-indented here the way clap (the CLI's argument parser) lays out the other commands' help.
The strings are byte for byte what the CLI prints: trailing spaces are written ``\\x20`` so editors keep them, and
lines longer than the source allows are continued with a backslash at the end of the line, which joins them.
"""

HELP = {}

HELP["cluster activate"] = """\
Activate a cluster
This command will set the initial Admin password. This process will cause your CloudHSM cluster to
move into the ACTIVE state.
USAGE:
    cloudhsm-cli cluster activate [OPTIONS] [--password <PASSWORD>]
OPTIONS:
        --password <PASSWORD>\x20
            Optional: Plaintext activation password If you do not include this argument you will be
            prompted for it.
"""

HELP["login"] = """\
Login to your cluster\x20\x20
\x20\x20\x20\x20\x20\x20\x20\x20
USAGE:
    cloudhsm-cli login [OPTIONS] --username <USERNAME> --role <ROLE> [SUBCOMMAND]
OPTIONS:
        --config <CONFIG>        [default: /opt/cloudhsm/etc/cloudhsm-cli.cfg]
        --password <PASSWORD>    Optional: Plaintext user's password. If you do not include this
                                 argument you will be prompted for it
        --role <ROLE>            Role the user has in the Cluster [possible values: crypto-user,
                                 admin]
        --username <USERNAME>    Username to access the Cluster
SUBCOMMANDS:
    help              Print this message or the help of the given subcommand(s)
    mfa-token-sign    Login with token-sign mfa
"""

HELP["user create"] = """\
Create a new user

Usage: cloudhsm-cli user create [OPTIONS] --username <USERNAME> --role <ROLE> [--password <PASSWORD>]

Options:
      --cluster-id <CLUSTER_ID>
          Unique Id to choose which of the clusters in the config file to run the operation against. If not provided, will fall back to the value \
provided when interactive mode was started, or error

      --username <USERNAME>
          Username to access the HSM cluster

      --role <ROLE>
          Role the user has in the cluster

          Possible values:
          - crypto-user: A CryptoUser has the ability to manage and use keys
          - admin:       An Admin has the ability to manage user accounts

      --password <PASSWORD>
          Optional: Plaintext user's password. If you do not include this argument you will be prompted for it

      --approval <APPROVAL>
          Filepath of signed quorum token file to approve operation

  -h, --help
          Print help (see a summary with '-h')
"""

HELP["cluster hsm-info"] = """\
List info about each HSM in the cluster

Usage: cloudhsm-cli cluster hsm-info [OPTIONS]

Options:
      --cluster-id <CLUSTER_ID>
          Unique Id to choose which of the clusters in the config file to run the operation against. If not provided, will fall back to the value \
provided when interactive mode was started, or error

  -h, --help
          Print help
"""

HELP["key list"] = """\
List the keys the current user owns, shares, and all public keys in the HSM cluster

Usage: key list [OPTIONS]

Options:
      --cluster-id <CLUSTER_ID>
          Unique Id to choose which of the clusters in the config file to run the operation against. If not provided, will fall back to the value \
provided when interactive mode was started, or error

      --filter [<FILTER>...]
          Key reference (e.g. key-reference=0xabc) or space separated list of key attributes in the form of \
attr.KEY_ATTRIBUTE_NAME=KEY_ATTRIBUTE_VALUE to select matching key(s) to list

      --max-items <MAX_ITEMS>
          The total number of items to return in the command's output. If the total number of items available is more than the value specified, a \
next-token is provided in the command's output. To resume pagination, provide the next-token value in the starting-token argument of a subsequent \
command [default: 10]

      --starting-token <STARTING_TOKEN>
          A token to specify where to start paginating. This is the next-token from a previously truncated response

  -v, --verbose
          If included, prints all attributes and key information for each matched key. By default each matched key only displays its key-reference \
and label attribute. This flag when used by Admins has no effect

  -h, --help
          Print help
"""

HELP["key generate-symmetric aes"] = """\
Generate an AES key

Usage: key generate-symmetric aes [OPTIONS] --label <LABEL> --key-length-bytes <KEY_LENGTH_BYTES>

Options:
      --cluster-id <CLUSTER_ID>
          Unique Id to choose which of the clusters in the config file to run the operation against. If not provided, will fall back to the value \
provided when interactive mode was started, or error

      --label <LABEL>
          Label for the key

      --session
          Creates a session key that exists only in the current session. The key cannot be recovered after the session ends

      --key-length-bytes <KEY_LENGTH_BYTES>
          Key length in bytes

      --attributes [<KEY_ATTRIBUTES>...]
          Space separated list of key attributes to set for the generated AES key in the form of KEY_ATTRIBUTE_NAME=KEY_ATTRIBUTE_VALUE

      --share-crypto-users [<SHARE_CRYPTO_USERS>...]
          Space separated list of Crypto User usernames to share the AES key with

      --manage-key-quorum-value <MANAGE_KEY_QUORUM_VALUE>
          The quorum value for key management operations

      --use-key-quorum-value <USE_KEY_QUORUM_VALUE>
          The quorum value for key usage operations

  -h, --help
          Print help
"""

TOP = """\
CloudHSM CLI (simulator stand-in)

Usage: cloudhsm-cli [OPTIONS] <COMMAND>

Commands:
  interactive  Start an interactive session that reads commands line by line
  cluster      Cluster commands (activate, hsm-info)
  login        Login to your cluster
  logout       Logout of your cluster
  user         User commands (list, create, delete, change-password, replicate)
  key          Key commands (list, generate-symmetric, delete, replicate)
  help         Print this message or the help of the given subcommand(s)
  quit         Leave interactive mode

Options:
  -h, --help     Print help
  -V, --version  Print version
"""

# Mutual TLS commands (AWS CloudHSM User Guide, cloudhsm_cli-cluster-mtls-* pages; the published text lost its
# indentation and is laid out the way clap lays out the other commands).
_MTLS_CLUSTER_ID = """\
      --cluster-id <CLUSTER_ID>
          Unique Id to choose which of the clusters in the config file to run the operation against. If not \
provided, will fall back to the value provided when interactive mode was started, or error
"""
HELP["cluster mtls register-trust-anchor"] = (
    """\
Register a trust anchor for mtls

Usage: cluster mtls register-trust-anchor [OPTIONS] --path [<PATH>...]

Options:
"""
    + _MTLS_CLUSTER_ID
    + """\
      --path <PATH>
          Filepath of the trust anchor to register
      --approval <APPROVAL>
          Filepath of signed quorum token file to approve operation
  -h, --help
          Print help
"""
)
HELP["cluster mtls list-trust-anchors"] = (
    """\
List all trust anchors for mtls

Usage: cluster mtls list-trust-anchors [OPTIONS]

Options:
"""
    + _MTLS_CLUSTER_ID
    + """\
  -h, --help
          Print help
"""
)
HELP["cluster mtls get-enforcement"] = (
    """\
Get the status of mtls enforcement in the cluster

Usage: cluster mtls get-enforcement [OPTIONS]

Options:
"""
    + _MTLS_CLUSTER_ID
    + """\
  -h, --help
          Print help
"""
)
