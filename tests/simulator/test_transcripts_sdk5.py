"""The emulated cloudhsm-cli and configure-cli against the CloudHSM reference transcripts (section 3, supplement A).

Each test compares a command's output with the transcript as published. Transcripts the parser unit tests use too
come from tests/unit/plugins/module_utils/hsm/transcripts.py (``published``); the others are held here, next to the
command that reproduces them. The tools run as installed (``<root>/bin/...``) with piped stdin, so prompts for
passwords appear but typed input is not echoed; the command line of a transcript (``aws-cloudhsm > ...``, and a
syntax line printed before it) is therefore dropped before comparing. Transcripts published with their indentation
stripped are compared as JSON documents. Trailing spaces in a transcript are written ``\\x20`` so that editors keep
them, and a line too long for the source is continued with a backslash at its end.
"""

import itertools
import json
import os
import re
import runpy
from types import SimpleNamespace

import pytest

from cloudhsm_sim import events
from cloudhsm_sim.dataplane import STATE
from cloudhsm_sim.dataplane.testing import HsmTestServer, run_tool, tool_root
from cloudhsm_sim.tools.sdk5_help import HELP

# Loaded by path: the module is plain Python, importable here without the collection's package tree.
TRANSCRIPTS = os.path.join(os.path.dirname(__file__), "..", "unit", "plugins", "module_utils", "hsm", "transcripts.py")
published = SimpleNamespace(**runpy.run_path(TRANSCRIPTS))
ADMIN_PASSWORD = "Admin-Pass1"
CU_PASSWORD = "Crypto-Pass1"
_ips = itertools.count(10)
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def hsm():
    with HsmTestServer() as server:
        yield server


def cluster_id():
    return "cluster-" + ("sdkfive%04d" % next(_ids)).replace("0", "a").replace("1", "b").replace("8", "c").replace(
        "9", "d"
    )


def output_of(transcript):
    """The transcript without its command line(s): a leading ``Usage:`` line, the prompt line, ``\\`` continuations."""
    lines = transcript.split("\n")
    while lines and (
        lines[0].startswith("Usage: ")
        or lines[0].startswith("aws-cloudhsm >")
        or lines[0].startswith("admin-user@")
        or lines[0].startswith("crypto-user-1@")
        or lines[0].startswith("--")
        or lines[0].startswith(" --")
    ):
        lines.pop(0)
    return "\n".join(lines)


class Setup:
    """A simulated cluster of hsm2m HSMs with the SDK 5 tools installed and configured for it."""

    def __init__(self, hsm, tmp_path, hsms=1, activate=True, region="us-east-1", source=None):
        self.hsm = hsm
        self.cluster_id = cluster_id()
        self.ips = ["10.5.%d.%d" % (next(_ips), n + 1) for n in range(hsms)]
        if source is None:
            hsm.cluster(self.cluster_id, self.ips, hsm_type="hsm2m.medium", region=region)
        else:
            hsm.clone(source.cluster_id, self.cluster_id, self.ips, region=region)
        self.root = tool_root("5", str(tmp_path / self.cluster_id), hsm.endpoint)
        self.configure("-a", *self.ips)
        if activate and source is None:
            self.cli("cluster", "activate", "--password", ADMIN_PASSWORD)

    def configure(self, *args):
        result = run_tool(self.root, "configure-cli", args, endpoint=self.hsm.endpoint)
        assert result.returncode == 0, result.stderr
        return result

    def cli(self, *args, stdin="", role=None, pin=None, env=None):
        environment = dict(env or {})
        if role:
            environment.update(CLOUDHSM_ROLE=role, CLOUDHSM_PIN=pin)
        return run_tool(self.root, "cloudhsm-cli", args, stdin=stdin, env=environment, endpoint=self.hsm.endpoint)

    def as_admin(self, *args, stdin=""):
        return self.cli(*args, stdin=stdin, role="admin", pin="admin:" + ADMIN_PASSWORD)

    def interactive(self, commands):
        return self.cli("interactive", stdin="".join(c + "\n" for c in commands))

    def crypto_user(self, name="cu1"):
        result = self.as_admin("user", "create", "--username", name, "--role", "crypto-user", "--password", CU_PASSWORD)
        assert json.loads(result.stdout)["error_code"] == 0, result.stdout

    def as_cu(self, *args, name="cu1", stdin=""):
        return self.cli(*args, stdin=stdin, role="crypto-user", pin="%s:%s" % (name, CU_PASSWORD))

    @property
    def state(self):
        return STATE.clusters[self.cluster_id]


def test_cluster_activate(hsm, tmp_path):
    setup = Setup(hsm, tmp_path, activate=False)
    result = setup.interactive(["cluster activate", ADMIN_PASSWORD, ADMIN_PASSWORD])
    assert result.stdout == output_of(published.CLI_ACTIVATE)
    assert hsm.activated == [setup.cluster_id]  # the control plane was told (INITIALIZED -> ACTIVE + backup)
    assert setup.state.user("admin")["role"] == "CO"


def test_cluster_activate_twice(hsm, tmp_path):
    expected = {"error_code": 1, "data": "Cluster has already been activated"}  # supplement A3
    setup = Setup(hsm, tmp_path)
    result = setup.cli("cluster", "activate", "--password", ADMIN_PASSWORD)
    assert json.loads(result.stdout) == expected
    assert result.returncode == 1


def test_help_texts_as_published():
    transcript_activate = """\
aws-cloudhsm > help cluster activate
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
    assert HELP["cluster activate"] == output_of(transcript_activate)
    transcript_login = """\
aws-cloudhsm > help login
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
    assert HELP["login"] == output_of(transcript_login)


def test_help_through_the_tool(hsm, tmp_path):
    transcript = """\
aws-cloudhsm > help user create
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
    setup = Setup(hsm, tmp_path, activate=False)
    assert setup.interactive(["help user create"]).stdout == output_of(transcript)
    assert setup.cli("user", "create", "--help").stdout == output_of(transcript)
    # Published without indentation: the same words, re-indented as clap prints them.
    stripped = """\
List info about each HSM in the cluster

Usage: cloudhsm-cli cluster hsm-info [OPTIONS]

Options:
 --cluster-id <CLUSTER_ID> Unique Id to choose which of the clusters in the config file to run the operation against. If not provided, will fall back \
to the value provided when interactive mode was started, or error
 -h, --help Print help
"""
    assert setup.cli("help", "cluster", "hsm-info").stdout.split() == stripped.split()
    top = setup.cli("--help")
    assert top.returncode == 0 and "Usage: cloudhsm-cli" in top.stdout


def test_login_logout(hsm, tmp_path):
    setup = Setup(hsm, tmp_path)
    setup.as_admin("user", "create", "--username", "admin1", "--role", "admin", "--password", "Admin1-Pass")
    result = setup.interactive(["login --username admin1 --role admin", "Admin1-Pass", "logout"])
    assert result.stdout == output_of(published.CLI_LOGIN) + output_of(published.CLI_LOGOUT)


def test_user_list(hsm, tmp_path):
    setup = Setup(hsm, tmp_path)
    # The published list shows test_user between admin and app_user: give it the id before app_user's.
    setup.state.user("app_user")["id"] = 3
    test_user = setup.state.add_user("test_user", "CO", "Test-Pass1", user_id=2)
    test_user["two_factor"] = True  # the simulator has no MFA commands; the flag is what user list shows
    result = setup.cli("user", "list")
    assert result.stdout == output_of(published.CLI_USER_LIST)
    assert result.returncode == 0


def test_user_create_change_password_delete(hsm, tmp_path):
    setup = Setup(hsm, tmp_path)
    assert setup.as_admin(
        "user", "create", "--username", "alice", "--role", "crypto-user", stdin="Alice-Pass1\nAlice-Pass1\n"
    ).stdout == output_of(published.CLI_USER_CREATE)
    setup.crypto_user("bob")
    old_hash = setup.state.user("bob")["hash"]
    assert setup.as_admin(
        "user", "change-password", "--username", "bob", "--role", "crypto-user", stdin="Bob-New-Pass1\nBob-New-Pass1\n"
    ).stdout == output_of(published.CLI_USER_CHANGE_PASSWORD)
    assert setup.state.user("bob")["hash"] != old_hash
    assert (
        json.loads(
            setup.cli("login", "--username", "bob", "--role", "crypto-user", "--password", "Bob-New-Pass1").stdout
        )["error_code"]
        == 0
    )
    deleted = setup.as_admin("user", "delete", "--username", "alice", "--role", "crypto-user")
    assert deleted.stdout == output_of(published.CLI_USER_DELETE)
    assert "alice" not in setup.state.users


def test_user_create_existing_and_errors(hsm, tmp_path):
    setup = Setup(hsm, tmp_path)
    setup.crypto_user("carol")
    again = json.loads(
        setup.as_admin(
            "user", "create", "--username", "carol", "--role", "crypto-user", "--password", CU_PASSWORD
        ).stdout
    )
    assert again["error_code"] == 1 and "User already exists" in again["data"]  # supplement A4
    unauthenticated = setup.cli(
        "user", "create", "--username", "dave", "--role", "crypto-user", "--password", CU_PASSWORD
    )
    assert json.loads(unauthenticated.stdout)["error_code"] == 1 and unauthenticated.returncode == 1
    mismatch = setup.as_admin(
        "user", "create", "--username", "dave", "--role", "crypto-user", stdin="Dave-Pass1\nDave-Pass2\n"
    )
    assert json.loads(mismatch.stdout.split("Confirm password:\n")[1])["error_code"] == 1
    assert "dave" not in setup.state.users


def test_login_lockout_after_five_failures(hsm, tmp_path):
    setup = Setup(hsm, tmp_path)
    setup.crypto_user("erin")
    for unused_attempt in range(5):
        bad = setup.cli("login", "--username", "erin", "--role", "crypto-user", "--password", "Wrong-Pass1")
        assert json.loads(bad.stdout)["error_code"] == 1
    good = setup.cli("login", "--username", "erin", "--role", "crypto-user", "--password", CU_PASSWORD)
    assert json.loads(good.stdout)["error_code"] == 1  # locked even with the right password
    users = {u["username"]: u for u in json.loads(setup.cli("user", "list").stdout)["data"]["users"]}
    assert users["erin"]["locked"] == "true"
    setup.as_admin("user", "change-password", "--username", "erin", "--role", "crypto-user", "--password", CU_PASSWORD)
    assert (
        json.loads(setup.cli("login", "--username", "erin", "--role", "crypto-user", "--password", CU_PASSWORD).stdout)[
            "error_code"
        ]
        == 0
    )


def test_generate_symmetric_aes(hsm, tmp_path):
    # Published with indentation stripped: compared as JSON (check-value comes from the random key material).
    setup = Setup(hsm, tmp_path)
    setup.crypto_user("cu1")
    setup.state.next_handle = 0x2E06BF
    result = setup.as_cu("key", "generate-symmetric", "aes", "--label", "example-aes", "--key-length-bytes", "24")
    expected, actual = json.loads(output_of(published.CLI_KEY_GENERATE_AES)), json.loads(result.stdout)
    assert re.fullmatch(r"0x[0-9a-f]{6}", actual["data"]["key"]["attributes"]["check-value"])
    actual["data"]["key"]["attributes"]["check-value"] = "0x9b94bd"
    assert actual == expected
    assert result.stdout.startswith('{\n  "error_code": 0,\n  "data": {\n    "key": {\n')  # the CLI's indentation
    flipped = json.loads(
        setup.as_cu(
            "key",
            "generate-symmetric",
            "aes",
            "--label",
            "x",
            "--key-length-bytes",
            "16",
            "--attributes",
            "decrypt=true",
            "encrypt=true",
        ).stdout
    )
    assert flipped["data"]["key"]["attributes"]["encrypt"] is True
    assert flipped["data"]["key"]["attributes"]["decrypt"] is True
    token = json.loads(
        setup.as_cu(
            "key", "generate-symmetric", "aes", "--label", "x", "--key-length-bytes", "16", "--attributes", "token=true"
        ).stdout
    )
    assert token == {"error_code": 1, "data": "Token key attribute cannot be supplied via optional attributes"}
    generic = json.loads(
        setup.as_cu("key", "generate-symmetric", "generic-secret", "--label", "g", "--key-length-bytes", "64").stdout
    )
    assert generic["data"]["key"]["attributes"]["key-type"] == "generic-secret"


def test_key_list_pagination_and_filters(hsm, tmp_path):
    setup = Setup(hsm, tmp_path)
    setup.crypto_user("cu1")
    commands = ["login --username cu1 --role crypto-user --password %s" % CU_PASSWORD]
    commands += ["key generate-symmetric aes --label test_label_%d --key-length-bytes 16" % n for n in range(56)]
    commands += [
        "key list",
        "key list --verbose --max-items 2",
        "key list --verbose --max-items 2 --starting-token 2",
        "key list --filter attr.label=test_label_7 --verbose",
        "key list --filter attr.label=nothing",
    ]
    documents = [json.loads(d) for d in re.split(r"(?<=\n})\n(?={)", setup.interactive(commands).stdout.strip())]
    default, page1, page2, single, none = documents[-5:]
    # "total_key_count": 56, "returned_key_count": 10, "next_token": "10" (reference 3.6 key list)
    assert (
        default["data"]["total_key_count"],
        default["data"]["returned_key_count"],
        default["data"]["next_token"],
    ) == (56, 10, "10")
    assert default["data"]["matched_keys"][0] == {
        "key-reference": "0x0000000000000006",
        "attributes": {"label": "test_label_0"},
    }
    assert (page1["data"]["returned_key_count"], page1["data"]["next_token"]) == (2, "2")
    assert page2["data"]["next_token"] == "4"
    assert set(page1["data"]["matched_keys"][0]) == {"key-reference", "key-info", "attributes"}
    assert single["data"]["total_key_count"] == 1 and "next_token" not in single["data"]  # supplement A2
    assert single["data"]["matched_keys"][0]["attributes"]["id"] == "0x"
    assert none["data"] == {"matched_keys": [], "total_key_count": 0, "returned_key_count": 0}


def test_key_list_verbose_single_match_as_published(hsm, tmp_path):
    setup = Setup(hsm, tmp_path)
    setup.crypto_user("cu1")
    setup.state.next_handle = 0x48000F
    setup.as_cu(
        "key", "generate-symmetric", "aes", "--label", "example-desynchronized-key-label", "--key-length-bytes", "16"
    )
    setup.state.key(0x48000F)["kcv"] = "0xbe79db"  # the published key's check value
    result = setup.as_cu("key", "list", "--filter", "attr.label=example-desynchronized-key-label", "--verbose")
    # The simulator keeps a cluster's HSMs in sync, so an attribute is never "inconsistent" across them.
    expected = output_of(published.CLI_KEY_LIST_FILTER_VERBOSE).replace('"sign": "inconsistent"', '"sign": true')
    assert result.stdout == expected


def test_key_delete_and_selection_errors(hsm, tmp_path):
    setup = Setup(hsm, tmp_path)
    setup.crypto_user("cu1")
    commands = [
        "login --username cu1 --role crypto-user --password %s" % CU_PASSWORD,
        "key generate-symmetric aes --label ec-test-public-key --key-length-bytes 16",
    ]
    commands += ["key generate-symmetric aes --label same --key-length-bytes 16"] * 48
    setup.interactive(commands)
    result = setup.as_cu("key", "delete", "--filter", 'attr.label="ec-test-public-key"')
    assert result.stdout == output_of(published.CLI_KEY_DELETE)
    many = setup.as_cu("key", "delete", "--filter", "attr.label=same")
    assert json.loads(many.stdout) == json.loads(published.CLI_FILTER_ERROR)
    assert len(setup.state.keys) == 48
    setup.crypto_user("cu2")
    handle = "0x%016x" % max(setup.state.keys)
    foreign = json.loads(setup.as_cu("key", "delete", "--filter", "key-reference=" + handle, name="cu2").stdout)
    assert foreign["error_code"] == 1  # cu2 neither owns nor shares it


def test_cluster_hsm_info(hsm, tmp_path):
    # Published with indentation stripped, a comma missing before "fips-state" and the other HSMs elided: its fields
    # are read line by line and compared with each HSM's (the serial number differs from HSM to HSM).
    sample = dict(re.findall(r'^ "([a-z-]+)": "([^"]*)",?$', published.CLI_HSM_INFO, re.M))
    serial = re.compile(r"5\.3G1941-ICM\d{6}")
    assert serial.fullmatch(sample.pop("serial-number")) and len(sample) == 9
    setup = Setup(hsm, tmp_path, hsms=3, activate=False)
    hsm.unreachable.add(setup.ips[2])
    data = json.loads(setup.cli("cluster", "hsm-info").stdout)["data"]
    hsm.unreachable.discard(setup.ips[2])
    assert len(data["hsms"]) == 2
    for entry in data["hsms"]:
        assert serial.fullmatch(entry.pop("serial-number"))
        assert entry == sample


def test_replicate_between_clones_and_not_elsewhere(hsm, tmp_path):
    source = Setup(hsm, tmp_path, hsms=2)
    source.crypto_user("crypto-user-1")
    clone = Setup(hsm, tmp_path, hsms=1, region="us-west-2", source=source)
    other = Setup(hsm, tmp_path, hsms=1)
    other.crypto_user("crypto-user-1")
    source.crypto_user("example-admin")
    source.as_cu(
        "key", "generate-symmetric", "aes", "--label", "example-key", "--key-length-bytes", "16", name="crypto-user-1"
    )
    for target in (clone, other):
        source.configure(
            "add-cluster",
            "--cluster-id",
            target.cluster_id,
            "--region",
            "us-west-2" if target is clone else "us-east-1",
        )
    refused = run_tool(source.root, "configure-cli", ["--cluster-id", source.cluster_id], endpoint=hsm.endpoint)
    assert refused.returncode == 1 and refused.stderr.startswith("Error: ")  # the file holds several clusters
    config = json.loads(open(source.root + "/etc/cloudhsm-cli.cfg").read())
    assert [c.get("cluster_id") for c in config["clusters"]] == [None, clone.cluster_id, other.cluster_id]
    source.configure("remove-cluster", "--cluster-id", other.cluster_id)
    source.configure("add-cluster", "--cluster-id", source.cluster_id, "--region", "us-east-1")
    source.configure("add-cluster", "--cluster-id", other.cluster_id, "--region", "us-east-1")

    multi = source.cli("user", "list")
    assert json.loads(multi.stdout)["data"].startswith("multiple clusters provided in configuration file")

    def replicate(what, destination, user, *selection):
        """``<what> replicate`` from source to destination, as ``user`` (role, name) on both clusters."""
        role, name = user
        pin = "%s:%s" % (name, ADMIN_PASSWORD if role == "admin" else CU_PASSWORD)
        env = {"CLOUDHSM_ROLE": role, "CLOUDHSM_PIN": pin, "DESTINATION_CLOUDHSM_ROLE": role,
               "DESTINATION_CLOUDHSM_PIN": pin}
        ids = ["--source-cluster-id", source.cluster_id, "--destination-cluster-id", destination.cluster_id]
        return source.cli(what, "replicate", *selection, *ids, env=env)

    def replicate_key(destination):
        return replicate("key", destination, ("crypto-user", "crypto-user-1"), "--filter", "attr.label=example-key")

    user = replicate("user", clone, ("admin", "admin"), "--username", "example-admin", "--role", "crypto-user")
    # The published example replicates an admin; the user here is a crypto-user, and the answer names its role.
    published_user = json.loads(output_of(published.CLI_USER_REPLICATE))
    published_user["data"]["user"]["role"] = "crypto-user"
    assert json.loads(user.stdout) == published_user
    key = replicate_key(clone)
    replicated = json.loads(key.stdout)
    assert replicated["data"]["message"] == "Successfully replicated key"
    assert replicated["data"]["key"]["attributes"]["id"] == "0x"
    original = source.state.keys[6]
    assert clone.state.keys[6]["kcv"] == original["kcv"] and clone.state.keys[6]["sealed"] != original["sealed"]
    again = replicate_key(clone)
    # Published for a destination of three HSMs; the clone has one.
    conflict = published.CLI_KEY_REPLICATE_CONFLICT.replace("1 of 3 connections", "1 of 1 connections")
    assert json.loads(again.stdout) == json.loads(conflict)
    unrelated = replicate_key(other)
    assert json.loads(unrelated.stdout)["error_code"] == 1
    assert "masking key" in json.loads(unrelated.stdout)["data"]
    assert 6 not in other.state.keys


def test_interactive_at_a_terminal(hsm, tmp_path):
    """At a terminal the CLI shows its prompt and reads the password without echoing it."""
    import io

    import pexpect

    setup = Setup(hsm, tmp_path)
    env = dict(os.environ, CLOUDHSM_SIM_ENDPOINT=hsm.endpoint, PATH="/usr/bin" + os.pathsep + os.environ["PATH"])
    child = pexpect.spawn(setup.root + "/bin/cloudhsm-cli", ["interactive"], env=env, encoding="utf-8", timeout=20)
    child.logfile_read = seen = io.StringIO()
    child.expect_exact("aws-cloudhsm > ")
    child.sendline("login --username admin --role admin")
    child.expect_exact("Enter password:")
    child.sendline(ADMIN_PASSWORD)
    child.expect_exact('"role": "admin"')
    child.expect_exact("aws-cloudhsm > ")
    child.sendline("quit")
    child.expect(pexpect.EOF)
    assert ADMIN_PASSWORD not in seen.getvalue()
    assert '  "data": {\r\n    "username": "admin",\r\n' in seen.getvalue()
    # With a cluster named at start, the prompt shows who is logged in where (the multi-cluster examples).
    setup.configure("add-cluster", "--cluster-id", setup.cluster_id)
    child = pexpect.spawn(
        setup.root + "/bin/cloudhsm-cli",
        ["interactive", "--cluster-id", setup.cluster_id],
        env=env,
        encoding="utf-8",
        timeout=20,
    )
    child.expect_exact("aws-cloudhsm > ")
    child.sendline("login --username admin --role admin --password " + ADMIN_PASSWORD)
    child.expect_exact("admin@%s > " % setup.cluster_id)
    child.sendline("quit")
    child.expect(pexpect.EOF)


def test_replaced_hsm_reaches_the_client_through_remove_and_add_cluster(hsm, tmp_path):
    """The client's entry keeps the ENI IP of an HSM that was replaced; remove-cluster then add-cluster (which looks
    the HSMs up again) points it at the new one."""
    source = Setup(hsm, tmp_path, hsms=1)
    clone = Setup(hsm, tmp_path, hsms=1, region="us-west-2", source=source)
    source.configure("add-cluster", "--cluster-id", source.cluster_id, "--region", "us-east-1")
    source.configure("add-cluster", "--cluster-id", clone.cluster_id, "--region", "us-west-2")
    old_ip, new_ip = clone.ips[0], "10.5.%d.9" % next(_ips)
    events.emit("hsm_deleted", account="123456789012", region="us-west-2", cluster_id=clone.cluster_id,
                hsm_id="hsm-%s0" % clone.cluster_id[-10:], eni_ip=old_ip)
    events.emit("hsm_created", account="123456789012", region="us-west-2", cluster_id=clone.cluster_id,
                hsm_id="hsm-%s1" % clone.cluster_id[-10:], eni_ip=new_ip, availability_zone="us-west-2a")

    def clone_servers():
        config = json.loads(open(source.root + "/etc/cloudhsm-cli.cfg").read())
        entry = next(c for c in config["clusters"] if c.get("cluster_id") == clone.cluster_id)
        return [server["hostname"] for server in entry["cluster"]["servers"]]

    assert clone_servers() == [old_ip]
    stale = source.cli("user", "list", "--cluster-id", clone.cluster_id)
    assert json.loads(stale.stdout)["error_code"] == 1
    source.configure("remove-cluster", "--cluster-id", clone.cluster_id)
    source.configure("add-cluster", "--cluster-id", clone.cluster_id, "--region", "us-west-2")
    assert clone_servers() == [new_ip]
    users = json.loads(source.cli("user", "list", "--cluster-id", clone.cluster_id).stdout)
    assert users["error_code"] == 0 and "admin" in [u["username"] for u in users["data"]["users"]]
    # remove-cluster names only a configured cluster; both subcommands print their syntax on --help.
    gone = run_tool(source.root, "configure-cli", ["remove-cluster", "--cluster-id", "cluster-notconfigured"],
                    endpoint=hsm.endpoint)
    assert gone.returncode == 1 and gone.stderr.startswith("Error: cluster cluster-notconfigured is not in ")
    for action in ("add-cluster", "remove-cluster"):
        usage = source.configure(action, "--help").stdout
        assert usage.startswith("Usage: configure-cli %s [OPTIONS] --cluster-id <CLUSTER ID>" % action)
        assert usage.rstrip().endswith("[-h, --help]")


# ------------------------------------------------------------------------- key pairs, shares, attributes, quorum
def test_generate_asymmetric_pairs(hsm, tmp_path):
    setup = Setup(hsm, tmp_path)
    setup.crypto_user("cu1")
    setup.crypto_user("cu2")
    rsa = json.loads(
        setup.as_cu(
            "key", "generate-asymmetric-pair", "rsa", "--public-exponent", "65537", "--modulus-size-bits", "3072",
            "--public-label", "rsa-public", "--private-label", "rsa-private", "--share-crypto-users", "cu2",
            "--manage-private-key-quorum-value", "2",
        ).stdout
    )
    assert rsa["error_code"] == 0, rsa
    public, private = rsa["data"]["public_key"], rsa["data"]["private_key"]
    assert public["attributes"]["class"] == "public-key" and private["attributes"]["class"] == "private-key"
    assert public["attributes"]["key-type"] == private["attributes"]["key-type"] == "rsa"
    assert public["attributes"]["modulus"] == private["attributes"]["modulus"]
    assert public["attributes"]["modulus-size-bits"] == 3072 and public["attributes"]["public-exponent"] == "0x010001"
    assert private["key-info"]["shared-users"] == [{"username": "cu2", "key-coverage": "full"}]
    assert private["key-info"]["key-quorum-values"] == {"manage-key-quorum-value": 2, "use-key-quorum-value": 0}
    assert public["key-info"]["shared-users"] == []
    for curve, point_bytes in (("secp256r1", 65), ("secp384r1", 97), ("secp521r1", 133), ("secp256k1", 65)):
        ec = json.loads(
            setup.as_cu(
                "key", "generate-asymmetric-pair", "ec", "--curve", curve,
                "--public-label", "ec-%s-pub" % curve, "--private-label", "ec-%s-priv" % curve,
            ).stdout
        )
        attributes = ec["data"]["private_key"]["attributes"]
        assert attributes["curve"] == curve and len(bytes.fromhex(attributes["ec-point"][2:])) == point_bytes
    # Every crypto user lists every public key; only owner and shared users list the private key.
    listing = json.loads(setup.as_cu("key", "list", "--max-items", "50", name="cu2").stdout)["data"]
    classes = sorted(setup.state.keys[int(k["key-reference"], 16)]["class"] for k in listing["matched_keys"])
    assert classes == ["private-key"] + ["public-key"] * 5
    refused = json.loads(
        setup.as_cu(
            "key", "generate-asymmetric-pair", "rsa", "--public-exponent", "65537", "--modulus-size-bits", "1024",
            "--public-label", "p", "--private-label", "q",
        ).stdout
    )
    assert refused["error_code"] == 1


def test_key_share_unshare_and_set_attribute(hsm, tmp_path):
    setup = Setup(hsm, tmp_path)
    setup.crypto_user("cu1")
    setup.crypto_user("cu2")
    setup.as_cu("key", "generate-symmetric", "aes", "--label", "shared-key", "--key-length-bytes", "32")
    share = ["--filter", "attr.label=shared-key", "--username", "cu2", "--role", "crypto-user"]
    shared = json.loads(setup.as_cu("key", "share", *share).stdout)
    assert shared == {"error_code": 0, "data": {"message": "Key shared successfully"}}
    again = json.loads(setup.as_cu("key", "share", *share).stdout)
    assert again["error_code"] == 1
    listed = json.loads(setup.as_cu("key", "list", "--verbose", name="cu2").stdout)["data"]["matched_keys"]
    assert [k["key-info"]["shared-users"] for k in listed] == [[{"username": "cu2", "key-coverage": "full"}]]
    unshared = json.loads(setup.as_cu("key", "unshare", *share).stdout)
    assert unshared == {"error_code": 0, "data": {"message": "Key unshared successfully"}}
    assert json.loads(setup.as_cu("key", "list", name="cu2").stdout)["data"]["matched_keys"] == []
    admin = json.loads(setup.as_cu("key", "share", *share[:-2], "--role", "admin").stdout)
    assert admin["error_code"] == 1
    renamed = json.loads(
        setup.as_cu("key", "set-attribute", "--filter", "attr.label=shared-key", "--name", "label", "--value",
                    "renamed-key").stdout
    )
    assert renamed == {"error_code": 0, "data": {"message": "Attribute set successfully"}}
    flag = json.loads(
        setup.as_cu("key", "set-attribute", "--filter", "attr.label=renamed-key", "--name", "decrypt", "--value",
                    "true").stdout
    )
    assert flag["error_code"] == 0
    key = json.loads(setup.as_cu("key", "list", "--verbose").stdout)["data"]["matched_keys"][0]
    assert key["attributes"]["label"] == "renamed-key" and key["attributes"]["decrypt"] is True
    refused = json.loads(
        setup.as_cu("key", "set-attribute", "--filter", "attr.label=renamed-key", "--name", "extractable",
                    "--value", "false").stdout
    )
    assert refused["error_code"] == 1


def test_session_keys_are_not_token_keys(hsm, tmp_path):
    setup = Setup(hsm, tmp_path)
    setup.crypto_user("cu1")
    result = json.loads(
        setup.as_cu("key", "generate-symmetric", "aes", "--label", "temp", "--key-length-bytes", "16",
                    "--session").stdout
    )
    assert result["data"]["key"]["attributes"]["token"] is False


def test_user_management_needs_quorum_once_enabled(hsm, tmp_path):
    setup = Setup(hsm, tmp_path)
    key_file = tmp_path / "quorum.pem"
    key_file.write_text("public key")
    token = tmp_path / "token.sig"
    token.write_text("signed token")
    register = setup.as_admin("user", "change-quorum", "token-sign", "register", "--public-key", str(key_file),
                              "--signed-token", str(token))
    assert json.loads(register.stdout)["error_code"] == 0, register.stdout
    listed = json.loads(setup.as_admin("user", "list").stdout)["data"]["users"]
    assert [u.get("quorum") for u in listed if u["username"] == "admin"] == [
        [{"strategy": "token-sign", "status": "enabled"}]]
    too_many = json.loads(setup.as_admin("cluster", "quorum", "token-sign", "set-quorum-value", "--service", "user",
                                         "--value", "2").stdout)
    assert too_many["error_code"] == 1  # one admin registered a key: M cannot be 2
    setup.crypto_user("cu1")
    setup.state.users["cu1"]["role"] = "CU"
    setup.as_admin("user", "create", "--username", "admin2", "--role", "admin", "--password", ADMIN_PASSWORD)
    setup.state.users["admin2"]["mofn"] = True
    enabled = json.loads(setup.as_admin("cluster", "quorum", "token-sign", "set-quorum-value", "--service", "user",
                                        "--value", "2").stdout)
    assert enabled["error_code"] == 0, enabled
    for args in (("user", "create", "--username", "cu9", "--role", "crypto-user", "--password", CU_PASSWORD),
                 ("user", "delete", "--username", "cu1", "--role", "crypto-user")):
        refused = setup.as_admin(*args)
        # The published quorum failure, verbatim (reference 3.4).
        assert json.loads(refused.stdout) == {"error_code": 1, "data": "Quorum approval is required for this operation"}
    assert "cu9" not in setup.state.users and "cu1" in setup.state.users
