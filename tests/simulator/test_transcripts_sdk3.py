"""The emulated SDK 3 tools (configure, cloudhsm_mgmt_util, key_mgmt_util) against the reference transcripts.

Each test compares the tools' output with the transcript as published (section 2 of the reference, supplement B
and C). Transcripts the parser unit tests use too come from tests/unit/plugins/module_utils/hsm/transcripts.py
(``published``, where trailing spaces are dropped); the others are held here, next to the command that reproduces
them. The tools run as installed with piped stdin: their output is split at the prompts, and each piece is compared
with what the transcript shows after the command line. Piped answers are not echoed, so a typed ``y``/``A``/``I``
after a prompt is dropped from the transcript before comparing. Trailing spaces in a transcript held here are
written ``\\x20`` so that editors keep them.
"""

import itertools
import json
import os
import re
import runpy
from types import SimpleNamespace

import pytest

from cloudhsm_sim.dataplane.testing import HsmTestServer, run_tool, tool_root
from cloudhsm_sim.tools.sdk3_configure import cmu_server

# Loaded by path: the module is plain Python, importable here without the collection's package tree.
TRANSCRIPTS = os.path.join(os.path.dirname(__file__), "..", "unit", "plugins", "module_utils", "hsm", "transcripts.py")
published = SimpleNamespace(**runpy.run_path(TRANSCRIPTS))
CO_PASSWORD = "Officer-Pass1"
CU_PASSWORD = "Crypto-Pass1"
_ids = itertools.count(1)
CMU_PROMPTS = re.compile(r"aws-cloudhsm> |server \d+> ")


@pytest.fixture(scope="module")
def hsm():
    with HsmTestServer() as server:
        yield server


def new_cluster_id():
    return "cluster-sdkthree" + "abcdefghijklmnopqrstuvwxyz"[next(_ids) % 26] * 3


def body(transcript, command=None):
    """What the tool prints for the transcript's command: the lines after the command line (the first line, or the
    one ending with ``command`` where the page shows the syntax first), typed answers removed."""
    lines = transcript.split("\n")
    start = 1 if command is None else next(n for n, line in enumerate(lines) if line.endswith(command)) + 1
    text = "\n".join(lines[start:])
    return re.sub(r"(\(y/n\)\?|\(R/I/A\):|\(R/B/I\):)[A-Za-z]\n", r"\1", text)


def activated(hsm, ips, hsm_ids=None, cluster_id=None):
    """A cluster whose PRECO was turned into CO ``admin`` (as changePswd does), plus CU ``cu1``."""
    cluster_id = cluster_id or new_cluster_id()
    cluster = hsm.cluster(cluster_id, ips, hsm_ids=hsm_ids)
    admin = hsm.call("login", hsm=ips[0], role="PRECO", username="admin", password="password")["session"]
    hsm.call("change_password", hsm=ips[0], session=admin, role="PRECO", username="admin", password=CO_PASSWORD)
    hsm.call("create_user", hsm=ips[0], session=admin, role="CU", username="cu1", password=CU_PASSWORD)
    hsm.call("logout", session=admin)
    return cluster


def skeleton(text):
    """``text`` with each run of KMU node lines replaced by one marker, and the runs' error states."""
    runs, lines, out = [], text.split("\n"), []
    for line in lines:
        match = re.fullmatch(r"(\s*)Node id \d+ and err state (0x[0-9a-f]{8} : .*)", line)
        if match:
            if not out or out[-1] != match.group(1) + "<nodes>":
                out.append(match.group(1) + "<nodes>")
                runs.append([])
            runs[-1].append(match.group(2))
        else:
            out.append(line)
    return "\n".join(out), runs


def same_but_nodes(actual, documented, nodes):
    """Equal once node lines are set aside; the tool lists nodes 0..nodes-1 in order, the docs in any order."""
    actual_text, actual_runs = skeleton(actual)
    documented_text, documented_runs = skeleton(documented)
    assert actual_text == documented_text
    for run, documented_run in zip(actual_runs, documented_runs):
        assert run == [documented_run[0]] * nodes
    assert all(re.search(r"Node id %d and" % n, actual) for n in range(nodes))
    return True


def change_pswd_caution(text):
    """``text`` with the trailing spaces the changePswd page (and the tool) print on three of the CAUTION lines."""
    for line, spaces in (("automatically with the", 1), ("executed or failed, please", 1), ("in the cluster.", 2)):
        text = text.replace(line + "\n", line + " " * spaces + "\n")
    return text


class Tools:
    def __init__(self, hsm, tmp_path, servers, ca=True):
        self.hsm = hsm
        self.root = tool_root("3", str(tmp_path / "opt-cloudhsm"), hsm.endpoint, ca=ca)
        self.config = os.path.join(self.root, "etc", "cloudhsm_mgmt_util.cfg")
        self.servers(servers)

    def servers(self, ips, path=None):
        path = path or self.config
        with open(path, "w") as handle:
            json.dump({"scard": {"enable": "no"}, "servers": [cmu_server(self.root, ip) for ip in ips]}, handle)
        client = os.path.join(self.root, "etc", "cloudhsm_client.cfg")
        config = json.load(open(client))
        config["server"]["hostname"] = ips[0]
        json.dump(config, open(client, "w"))
        return path

    def cmu(self, *lines, config=None):
        """Run a CMU session; returns (banner, [output of each command]) split at the prompts."""
        result = run_tool(
            self.root,
            "cloudhsm_mgmt_util",
            [config or self.config],
            stdin="".join(line + "\n" for line in lines),
            endpoint=self.hsm.endpoint,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        pieces = CMU_PROMPTS.split(result.stdout)
        return pieces[0], pieces[1:]

    def kmu(self, *lines):
        result = run_tool(
            self.root, "key_mgmt_util", stdin="".join(line + "\n" for line in lines), endpoint=self.hsm.endpoint
        )
        assert result.returncode == 0, result.stdout
        return result.stdout.split("Command:  ")[1:]


# ------------------------------------------------------------------------------------------------------ configure
def test_configure_a_rewrites_both_files(hsm, tmp_path):
    transcript = """\
sudo /opt/cloudhsm/bin/configure -a <IP address>
\t
Updating server config in /opt/cloudhsm/etc/cloudhsm_client.cfg
Updating server config in /opt/cloudhsm/etc/cloudhsm_mgmt_util.cfg
"""
    hsm.cluster(new_cluster_id(), ["10.3.1.1", "10.3.1.2"])
    root = tool_root("3", str(tmp_path / "opt" / "cloudhsm"), hsm.endpoint)
    result = run_tool(root, "configure", ["-a", "10.3.1.1"], endpoint=hsm.endpoint)
    assert result.stdout == body(transcript).replace("/opt/cloudhsm", root)
    assert json.load(open(root + "/etc/cloudhsm_client.cfg"))["server"] == {"hostname": "10.3.1.1", "port": 2223}
    assert [s["hostname"] for s in json.load(open(root + "/etc/cloudhsm_mgmt_util.cfg"))["servers"]] == ["10.3.1.1"]
    run_tool(root, "configure", ["--cmu", "10.3.1.2"], endpoint=hsm.endpoint)  # -a and -m together
    servers = json.load(open(root + "/etc/cloudhsm_mgmt_util.cfg"))["servers"]
    assert [s["hostname"] for s in servers] == ["10.3.1.1", "10.3.1.2"]
    assert servers[0]["e2e_encryption"] == {"enable": "yes", "owner_cert_path": root + "/etc/customerCA.crt"}


# ------------------------------------------------------------------------------------------------- CMU: startup
def test_banner_without_customer_ca(hsm, tmp_path):
    hsm.cluster(new_cluster_id(), ["192.168.125.125"])
    tools = Tools(hsm, tmp_path, ["192.168.125.125"], ca=False)
    result = run_tool(tools.root, "cloudhsm_mgmt_util", [tools.config], stdin="", endpoint=hsm.endpoint)
    # Up to the prompt, with the space after it that transcripts.py drops.
    assert result.stdout.startswith(published.CMU_BANNER_NO_CA[:-1].replace("/opt/cloudhsm", tools.root) + " ")
    open(tools.root + "/etc/customerCA.crt", "w").write("-----BEGIN CERTIFICATE-----\n")
    assert tools.cmu("enable_e2e")[1][0] == body(published.CMU_ENABLE_E2E_MANUAL)


def test_banner_with_customer_ca(hsm, tmp_path):
    ips = ["10.0.2.9", "10.0.3.11", "10.0.1.12"]
    hsm.cluster(new_cluster_id(), ips)
    banner, unused_outputs = Tools(hsm, tmp_path, ips).cmu()
    # Client 1.1.1+ enables E2E by default and says so after each connection (supplement B1, real runs); the older
    # published banner is the same text without the "Ignoring ..." and "E2E enabled ..." lines.
    lines = [
        line
        for line in banner.split("\n")
        if not line.startswith("E2E enabled on server") and not line.startswith("Ignoring E2E")
    ]
    assert "\n".join(lines).lstrip("\n") == body(published.CMU_BANNER).lstrip("\n")
    assert "E2E enabled on server 2(10.0.1.12)\n" in banner


# --------------------------------------------------------------------------------------------- CMU: users
def test_login_logout_global(hsm, tmp_path):
    ips = ["10.0.2.9", "10.0.3.11"]
    cluster = hsm.cluster(new_cluster_id(), ips)
    admin = hsm.call("login", hsm=ips[0], role="PRECO", username="admin", password="password")["session"]
    hsm.call("change_password", hsm=ips[0], session=admin, role="PRECO", username="admin", password="co12345")
    hsm.call("logout", session=admin)
    unused_banner, out = Tools(hsm, tmp_path, ips).cmu(
        "loginHSM CO admin co12345",
        "logoutHSM",
        "loginHSM CO admin -hpswd",
        "co12345",
        "logoutHSM",
        "loginHSM CO admin wrong-pass",
        "quit",
    )
    assert out[0].rstrip("\n") + "\n" == body(published.CMU_LOGIN)
    assert out[1].rstrip("\n") + "\n" == body(published.CMU_LOGOUT)
    assert out[2] == body(published.CMU_LOGIN_HPSWD)[: -len("aws-cloudhsm>\n")]
    failed = published.CMU_LOGIN_FAILED  # supplement B2
    assert out[4].startswith("\n" + failed + "loginHSM failed on server 0(10.0.2.9)\n")
    assert cluster.user("admin")["failures"] == 1  # one command, one failure, however many HSMs of the cluster


def test_list_users_before_and_after_activation(hsm, tmp_path):
    # The published changePswd ran on server 10.10.4.20, the activated listing on 192.168.125.125: here both on
    # "server1", the name the published listing before activation shows.
    change = change_pswd_caution(published.CMU_CHANGE_PSWD_PRECO).replace("10.10.4.20", "server1")
    after = published.CMU_LIST_USERS_ACTIVATED.replace("192.168.125.125", "server1")
    cluster_id = new_cluster_id()
    hsm.cluster(cluster_id, ["server1"])
    unused_banner, out = Tools(hsm, tmp_path, ["server1"]).cmu(
        "listUsers", "loginHSM PRECO admin password", "changePswd PRECO admin P@55w0rd", "y", "listUsers", "quit"
    )
    assert out[0] == body(published.CMU_LIST_USERS_PRECO)
    assert out[2] == body(change)
    assert out[3] == body(after)
    assert hsm.activated == [cluster_id] or cluster_id in hsm.activated  # the control plane activates the cluster


def test_create_user_caution_and_partial_failure(hsm, tmp_path):
    # Supplement B3's message in the block shape AWS documents for a failed server (B4): the CAUTION answered once,
    # the error, the failing server and the R/I/A prompt.
    partial = published.CMU_CREATE_USER_PARTIAL
    exists = (
        published.CMU_CREATE_USER.replace("Invalid option, please type 'y' or 'n'\n\nDo you want to continue(y/n)?", "")
        + published.CMU_CREATE_USER_EXISTS
        + partial[partial.index("creating user on server") :].replace("10.0.2.14", "10.3.2.1")
    )
    ips = ["10.3.2.1", "10.3.2.2", "10.3.2.3"]
    cluster = activated(hsm, ips)
    tools = Tools(hsm, tmp_path, ips)
    unused_banner, out = tools.cmu(
        "loginHSM CO admin " + CO_PASSWORD,
        "createUser CO alice 391019314",
        "x",
        "y",
        "createUser CO alice 391019314",
        "y",
        "A",
        "quit",
    )
    assert out[1] == body(published.CMU_CREATE_USER)
    assert cluster.user("alice")["role"] == "CO" and cluster.user("alice")["hash"] != "391019314"
    assert out[2] == body(exists)  # supplement B3, in the block shape AWS documents (B4: A returns to the prompt)
    hsm.unreachable.add(ips[1])
    try:
        unused_banner, out = tools.cmu("loginHSM CO admin " + CO_PASSWORD, "createUser CU bob Bob-Pass1", "y", "R", "I", "quit")
    finally:
        hsm.unreachable.discard(ips[1])
    assert out[1].endswith(
        "Creating User bob(CU) on 3 nodes\n"
        "createUser failed: HSM Error: Server is not reachable\n"
        "creating user on server 1(10.3.2.2) failed\n\nRetry/Ignore/Abort?(R/I/A):"
        "createUser failed: HSM Error: Server is not reachable\n"
        "creating user on server 1(10.3.2.2) failed\n\nRetry/Ignore/Abort?(R/I/A):"
    )
    assert cluster.user("bob")["role"] == "CU"  # applied once through the HSMs that answered


def test_delete_user(hsm, tmp_path):
    ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    cluster = activated(hsm, ips)
    cluster.add_user("alice", "CO", "Alice-Pass1")
    tools = Tools(hsm, tmp_path, ips)
    unused_banner, out = tools.cmu("loginHSM CO admin " + CO_PASSWORD, "deleteUser CO alice", "quit")
    # The published example numbers every server 0 (a slip in the AWS page); the tool numbers them 0, 1, 2.
    assert out[1] == body(published.CMU_DELETE_USER).replace("server 0(10.0.0.2)", "server 1(10.0.0.2)").replace(
        "server 0(10.0.0.3)", "server 2(10.0.0.3)"
    )
    assert "alice" not in cluster.users
    key = hsm.call("login", hsm=ips[0], role="CU", username="cu1", password=CU_PASSWORD)["session"]
    hsm.call("generate_key", hsm=ips[0], session=key, key_type="aes", size=32, label="k")
    hsm.call("logout", session=key)
    unused_banner, out = tools.cmu("loginHSM CO admin " + CO_PASSWORD, "deleteUser CU cu1", "I", "I", "I", "quit")
    assert out[1] == (
        "Deleting user cu1(CU) on 3 nodes\n"
        + "".join(
            "deleteUser failed: HSM Error: This user owns keys and cannot be deleted\n"
            "deleteUser failed on server %d(%s)\n\nRetry/rollBack/Ignore?(R/B/I):" % (n, ip)
            for n, ip in enumerate(ips)
        )
    )
    assert "cu1" in cluster.users


def test_info_server_and_server_mode(hsm, tmp_path):
    cluster = hsm.cluster(new_cluster_id(), ["10.0.0.1"], hsm_ids=["hsm-udw0tkfg1ab"])
    cluster.add_user("testuser", "CU", "Test-Pass1")
    unused_banner, out = Tools(hsm, tmp_path, ["10.0.0.1"]).cmu(
        "loginHSM CU testuser Test-Pass1", "info server 0", "server 0", "exit", "quit"
    )
    assert out[1] == body(published.CMU_INFO_SERVER)
    assert out[2] == body(published.CMU_SERVER_MODE)
    assert out[3] == ""  # "exit" leaves server mode without a word
    assert out[4] == body(published.CMU_QUIT)


# ------------------------------------------------------------------------------------------------ CMU: keys
def test_find_all_keys_and_get_key_info(hsm, tmp_path):
    published_info = """\
aws-cloudhsm>getKeyInfo -k 262177
Key Info on server 0(10.0.0.1):
        Token/Flash Key,
        Owned by user 3
        also, shared to following 1 user(s):
                 4
Key Info on server 1(10.0.0.2):
        Token/Flash Key,
        Owned by user 3
        also, shared to following 1 user(s):
                 4
"""
    ips = ["10.0.0.1", "10.0.0.2"]
    cluster = activated(hsm, ips)  # admin 1, app_user 2, cu1 3
    cluster.add_user("cu2", "CU", CU_PASSWORD)  # 4
    cluster.next_handle = 262177
    cu1 = hsm.call("login", hsm=ips[0], role="CU", username="cu1", password=CU_PASSWORD)["session"]
    hsm.call("generate_key", hsm=ips[0], session=cu1, key_type="aes", size=32, label="shared", share=["cu2"])
    hsm.call("logout", session=cu1)
    cu2 = hsm.call("login", hsm=ips[0], role="CU", username="cu2", password=CU_PASSWORD)["session"]
    hsm.call("generate_key", hsm=ips[0], session=cu2, key_type="aes", size=16, label="own")
    hsm.call("logout", session=cu2)
    tools = Tools(hsm, tmp_path, ips)
    unused_banner, out = tools.cmu(
        "getKeyInfo -k 262177",
        "loginHSM CO admin " + CO_PASSWORD,
        "findAllKeys 4 0",
        "findAllKeys 4 1 " + str(tmp_path / "keys.txt"),
        "quit",
    )
    assert out[0] == body(published_info)
    assert out[2] == "".join(
        "Keys on server %d(%s):\nNumber of keys found 2\nnumber of keys matched from start index "
        "0::2\n262177(s),262178(o)\nfindAllKeys success on server %d(%s)\n" % (n, ip, n, ip)
        for n, ip in enumerate(ips)
    )
    hashed = out[3].split("\n")
    assert hashed[4] == "Key Hash:" and re.fullmatch(r"[0-9a-f]{64}", hashed[5])
    assert open(tmp_path / "keys.txt").read().split("\n")[1] == "Number of keys found 2"  # line 2 (supplement B7)


def test_sync_user_and_key_between_clones_only(hsm, tmp_path):
    source = activated(hsm, ["10.3.5.1"])
    clone = hsm.clone(source.cluster_id, new_cluster_id(), ["10.3.6.1"])
    unrelated = activated(hsm, ["10.3.7.1"])
    source.add_user("cu4", "CU", CU_PASSWORD)  # id 4
    source.add_user("cu5", "CU", CU_PASSWORD)  # id 5
    source.add_user("cu6", "CU", CU_PASSWORD)  # id 6, created after the backup: not on the clone yet
    source.next_handle = 261251
    cu6 = hsm.call("login", hsm="10.3.5.1", role="CU", username="cu6", password=CU_PASSWORD)["session"]
    hsm.call("generate_key", hsm="10.3.5.1", session=cu6, key_type="aes", size=32, label="dr", extractable=False)
    hsm.call("logout", session=cu6)
    tools = Tools(hsm, tmp_path, ["10.3.5.1"])

    def sync(config, *as_officer):
        """In server 0's mode: ``as_officer`` as the CO, then ``syncKey 261251 1`` as cu6, the key's owner."""
        unused_banner, out = tools.cmu(
            "loginHSM CO admin " + CO_PASSWORD, "server 0", *as_officer, "exit", "logoutHSM",
            "loginHSM CU cu6 " + CU_PASSWORD, "server 0", "syncKey 261251 1", "exit", "quit",
            config=config,
        )
        return out

    sync_clusters = tools.servers(["10.3.5.1", "10.3.6.1"], str(tmp_path / "SyncClusters.cfg"))
    out = sync(sync_clusters, "syncKey 261251 1", "syncUser 6 1")
    assert out[2] == "syncKey failed: HSM Error: The key's owner or shared users do not exist on the destination\n"
    assert out[3] == body(published.CMU_SYNC_USER, "syncUser 6 1")
    assert out[8] == body(published.CMU_SYNC, "syncKey 261251 1")
    assert clone.user("cu6")["hash"] == source.user("cu6")["hash"]  # same credentials on both clusters
    assert clone.keys[261251]["kcv"] == source.keys[261251]["kcv"]
    assert clone.keys[261251]["attrs"]["extractable"] is False

    unrelated_cfg = tools.servers(["10.3.5.1", "10.3.7.1"], str(tmp_path / "Unrelated.cfg"))
    unrelated.add_user("cu6", "CU", CU_PASSWORD)
    out = sync(unrelated_cfg, "syncUser 5 1")
    masking = "HSM Error: Masked object could not be unmasked: the clusters do not share a masking key\n"
    assert out[2] == "syncUser failed: " + masking
    assert out[7] == "syncKey failed: " + masking
    assert "cu5" not in unrelated.users and 261251 not in unrelated.keys


# ---------------------------------------------------------------------------------------------------------- KMU
def test_kmu_session(hsm, tmp_path):
    get_one = """\
Command: getAttribute -o 524296 -a 256 -out attribute.txt
Attributes dumped into attribute.txt file
"""
    file_one = "OBJ_ATTR_KEY_TYPE\n0x00000015\n"
    logout = published.KMU_LOGOUT.replace("...\n", "")  # the page elides the other nodes' lines
    ips = ["10.3.8.1", "10.3.8.2", "10.3.8.3"]
    cluster = activated(hsm, ips)
    cluster.add_user("example_user", "CU", CU_PASSWORD)
    tools = Tools(hsm, tmp_path, ips)
    out = tools.kmu(
        "loginHSM -u CU -s example_user -p " + CU_PASSWORD,
        "genSymKey -t 31 -s 32 -l aes256 -nex",
        "genSymKey -t 21 -s 24 -l 3DES_shared",
        "getAttribute -o 7 -a 256 -out " + str(tmp_path / "attribute.txt"),
        "findKey -sess 1",
        "findKey -l aes256",
        "deleteKey -k 252126",
        "getAttribute -o 6 -a 512 -out " + str(tmp_path / "all"),
        "deleteKey -k 6",
        "logoutHSM",
        "exit",
    )
    assert out[0] == body(published.KMU_LOGIN_ERROR_STATUS)
    assert same_but_nodes(out[1], body(published.KMU_GEN_SYM_KEY), 3)
    assert "Key Handle: 7\n" in out[2]
    assert out[3] == body(get_one).replace("attribute.txt", str(tmp_path / "attribute.txt"))
    assert open(tmp_path / "attribute.txt").read() == file_one
    out = out[1:]
    # Node lines come in node order here; the published examples list them unsorted (and two of the three).
    assert same_but_nodes(out[3], body(published.KMU_FIND_KEY_EMPTY), 3)
    assert out[4].startswith("Total number of keys present 1\n number of keys matched from start index 0::0\n6\n")
    assert same_but_nodes(out[5], body(published.KMU_DELETE_KEY_BAD_HANDLE), 3)
    assert re.match(
        r"got all attributes of size \d+ attr cnt 17\nAttributes dumped into .* file\n"
        r"        Cfm3GetAttribute returned: 0x00 : HSM Return: SUCCESS\n$",
        out[6],
    )
    attributes = open(tmp_path / "all").read().split("\n")
    assert attributes[attributes.index("OBJ_ATTR_LABEL") + 1] == "aes256"
    assert attributes[attributes.index("OBJ_ATTR_EXTRACTABLE") + 1] == "0x00"  # -nex
    assert attributes[attributes.index("OBJ_ATTR_VALUE_LEN") + 1] == "0x00000020"
    assert re.fullmatch(r"0x[0-9a-f]{6}", attributes[attributes.index("OBJ_ATTR_KCV") + 1])
    assert out[7].startswith("        Cfm3DeleteKey returned: 0x00 : HSM Return: SUCCESS\n")
    assert 6 not in cluster.keys
    assert same_but_nodes(out[8], body(logout), 3)


def test_kmu_refusals(hsm, tmp_path):
    ips = ["10.3.9.1"]
    cluster = activated(hsm, ips)
    cluster.add_user("other", "CU", CU_PASSWORD)
    cluster.next_handle = 262152
    cu1 = hsm.call("login", hsm=ips[0], role="CU", username="cu1", password=CU_PASSWORD)["session"]
    hsm.call("generate_key", hsm=ips[0], session=cu1, key_type="aes", size=16, label="mine", share=["other"])
    hsm.call("logout", session=cu1)
    tools = Tools(hsm, tmp_path, ips)
    out = tools.kmu(
        "loginHSM -u CU -s other -p " + CU_PASSWORD,
        "deleteKey -k 262152",
        "logoutHSM",
        "loginHSM -u CU -s other -p Wrong-Pass1",
        "exit",
    )
    assert out[1] == body(published.KMU_DELETE_KEY_DENIED)
    assert out[3].startswith("Cfm3LoginHSM returned: 0xa3 : HSM Error: RET_USER_LOGIN_FAILURE\n")
    single = run_tool(
        tools.root,
        "key_mgmt_util",
        [
            "singlecmd",
            "loginHSM",
            "-u",
            "CU",
            "-s",
            "cu1",
            "-p",
            CU_PASSWORD,
            "genSymKey",
            "-l",
            "aes",
            "-t",
            "31",
            "-s",
            "32",
            "-min_srv",
            "1",
            "-timeout",
            "1",
        ],
        endpoint=hsm.endpoint,
    )
    assert "Symmetric Key Created.  Key Handle: 262153" in single.stdout
    assert cluster.keys[262153]["label"] == "aes"


def test_cmu_at_a_terminal(hsm, tmp_path):
    """loginHSM -hpswd at a terminal: the published prompt, and the password is not echoed."""
    import io

    import pexpect

    ips = ["10.3.10.1"]
    activated(hsm, ips)
    tools = Tools(hsm, tmp_path, ips)
    env = dict(os.environ, CLOUDHSM_SIM_ENDPOINT=hsm.endpoint, PATH="/usr/bin" + os.pathsep + os.environ["PATH"])
    child = pexpect.spawn(tools.root + "/bin/cloudhsm_mgmt_util", [tools.config], env=env, encoding="utf-8", timeout=20)
    child.logfile_read = seen = io.StringIO()
    child.expect_exact("aws-cloudhsm> ")
    child.sendline("loginHSM CO admin -hpswd")
    child.expect_exact("Enter password:")
    child.sendline(CO_PASSWORD)
    child.expect_exact("aws-cloudhsm> ")
    child.sendline("quit")
    child.expect(pexpect.EOF)
    assert CO_PASSWORD not in seen.getvalue()
    assert "Enter password:\r\n\r\nloginHSM success on server 0(10.3.10.1)\r\n\r\naws-cloudhsm> " in seen.getvalue()


def test_kmu_get_key_info_and_list_users(hsm, tmp_path):
    key_info = """\
Command:  getKeyInfo -k 20
       Cfm3GetKey returned: 0x00 : HSM Return: SUCCESS
       Owned by user 3
       also, shared to following 2 user(s):
                4
                5
"""
    ips = ["10.3.11.1"]
    cluster = hsm.cluster(new_cluster_id(), ips)
    cluster.users["admin"]["role"] = "PCO"
    for name, mofn in (("alice", True), ("bob", False), ("trent", True)):
        cluster.add_user(name, "CU", CU_PASSWORD)["mofn"] = mofn  # quorum keys are not simulated: set the flag
    cluster.next_handle = 20
    alice = hsm.call("login", hsm=ips[0], role="CU", username="alice", password=CU_PASSWORD)["session"]
    hsm.call("generate_key", hsm=ips[0], session=alice, key_type="aes", size=16, label="k", share=["bob", "trent"])
    hsm.call("logout", session=alice)
    out = Tools(hsm, tmp_path, ips).kmu("getKeyInfo -k 20", "listUsers", "exit")
    assert out[0] == body(key_info)
    # The published example counts 4 users next to 5 rows; the tool counts the rows.
    assert out[1] == body(published.KMU_LIST_USERS).replace("found 4", "found 5")


# ------------------------------------------------------------------------------------- key pairs, shares, wrapping
def test_kmu_key_pairs_set_attribute_and_wrapped_find_key(hsm, tmp_path):
    ips = ["10.3.12.1", "10.3.12.2"]
    cluster = activated(hsm, ips)
    tools = Tools(hsm, tmp_path, ips)
    sym = ["genSymKey -t 31 -s 16 -l many -id many-%02d" % n for n in range(18)]
    out = tools.kmu(
        "loginHSM -u CU -s cu1 -p " + CU_PASSWORD,
        "genRSAKeyPair -m 2048 -e 65537 -l rsa_test",
        "genECCKeyPair -i 14 -l ec14 -id ec14-id",
        "genRSAKeyPair -m 1024 -e 65537 -l too_small",
        "getAttribute -o 6 -a 512 -out " + str(tmp_path / "public"),
        "setAttribute -o 7 -a 3 -v rsa_renamed",
        "setAttribute -o 7 -a 354 -v 1",
        "findKey -c 3",
        "findKey -t 0",
        *sym,
        "findKey -l many",
        "exit",
    )
    nodes = "".join("        Node id %d and err state 0x00000000 : HSM Return: SUCCESS\n" % n for n in range(2))
    assert out[1] == (
        "        Cfm3GenerateKeyPair returned: 0x00 : HSM Return: SUCCESS\n\n"
        "        Cfm3GenerateKeyPair:    public key handle: 6    private key handle: 7\n\n"
        "        Cluster Error Status\n" + nodes
    )
    assert "public key handle: 8    private key handle: 9\n" in out[2]
    assert cluster.keys[8]["curve"] == "secp384r1" and cluster.keys[9]["id"] == "ec14-id"
    assert "Cfm3GenerateKeyPair returned: 0xb3 : HSM Error: This operation violates" in out[3]
    attributes = open(tmp_path / "public").read().split("\n")
    assert attributes[attributes.index("OBJ_ATTR_CLASS") + 1] == "0x00000002"
    assert attributes[attributes.index("OBJ_ATTR_KEY_TYPE") + 1] == "0x00000000"
    assert attributes[attributes.index("OBJ_ATTR_MODULUS") + 1] == cluster.keys[7]["modulus"]
    assert attributes[attributes.index("OBJ_ATTR_MODULUS_BITS") + 1] == "0x00000800"
    assert out[5] == "        Cfm3SetAttribute returned: 0x00 : HSM Return: SUCCESS\n        Cluster Error Status\n" + nodes
    assert cluster.keys[7]["label"] == "rsa_renamed"
    assert out[6].startswith("        Cfm3SetAttribute returned: 0xb3 : HSM Error:")  # extractable cannot change
    assert "0::1\n7, 9\n" in out[7] and "0::1\n6, 7\n" in out[8]
    # 18 handles: 15 on the first line (ending with a comma), 3 on the next.
    wrapped = out[9 + len(sym)]
    assert wrapped.startswith(
        "Total number of keys present 18\n number of keys matched from start index 0::17\n"
        "10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,\n25, 26, 27\n        Cluster Error Status\n"
    )


def test_cmu_share_key_get_key_info_quorum_and_wrapped_find_all_keys(hsm, tmp_path):
    caution = (
        "\n*************************CAUTION********************************\n"
        "This is a CRITICAL operation, should be done on all nodes in the\n"
        "cluster. AWS does NOT synchronize these changes automatically with the\n"
        "nodes on which this operation is not executed or failed, please\n"
        "ensure this operation is executed on all nodes in the cluster.\n"
        "****************************************************************\n\n"
        "Do you want to continue(y/n)?"
    )
    ips = ["10.3.13.1", "10.3.13.2"]
    cluster = activated(hsm, ips)  # admin 1, app_user 2, cu1 3
    cluster.add_user("cu2", "CU", CU_PASSWORD)  # 4
    cu1 = hsm.call("login", hsm=ips[0], role="CU", username="cu1", password=CU_PASSWORD)["session"]
    quorum = hsm.call("generate_key", hsm=ips[0], session=cu1, key_type="aes", size=16, label="q", share=["cu2"],
                      manage_quorum=2)["key"]["handle"]
    for n in range(16):
        hsm.call("generate_key", hsm=ips[0], session=cu1, key_type="aes", size=16, label="k%d" % n)
    hsm.call("logout", session=cu1)
    tools = Tools(hsm, tmp_path, ips)
    unused_banner, out = tools.cmu(
        "loginHSM CU cu1 " + CU_PASSWORD,
        "shareKey %d 4 0" % quorum,
        "y",
        "shareKey %d 4 0" % quorum,
        "y",
        "shareKey 7 4 1",
        "y",
        "getKeyInfo -k %d" % quorum,
        "findAllKeys 3 0",
        "quit",
    )
    assert out[1] == caution + "".join("shareKey success on server %d(%s)\n" % (n, ip) for n, ip in enumerate(ips))
    assert cluster.keys[quorum]["shared"] == [] and cluster.keys[7]["shared"] == [4]
    assert out[2] == caution + "".join(
        "shareKey failed: HSM Error: Invalid input data/params\nshareKey failed on server %d(%s)\n" % (n, ip)
        for n, ip in enumerate(ips)
    )
    assert out[4].endswith("        Owned by user 3\n         2 Users need to approve to use/manage this key\n")
    handles = ",".join("%d(o)" % h for h in range(6, 21)) + ",\n" + "21(o),22(o)"
    assert "Number of keys found 17\nnumber of keys matched from start index 0::17\n%s\n" % handles in out[5]


def test_create_and_delete_user_fail_on_a_quorum_cluster(hsm, tmp_path):
    # Reference 2.4 "Partial failure / per-node error handling" (quorum-protected HSM), as published.
    create = """\
Do you want to continue(y/n)?y
Creating User user1(CU) on 2 nodes
createUser failed: RET_MXN_AUTH_FAILED
creating user on server 0(10.0.2.14) failed

Retry/Ignore/Abort?(R/I/A):A
"""
    delete = """\
aws-cloudhsm>deleteUser CU user1
Deleting user user1(CU) on 2 nodes
deleteUser failed: RET_MXN_AUTH_FAILED
deleteUser failed on server 0(10.0.2.14)

Retry/rollBack/Ignore?(R/B/I):I
deleteUser failed: RET_MXN_AUTH_FAILED
deleteUser failed on server 1(10.0.1.4)

Retry/rollBack/Ignore?(R/B/I):I
"""
    ips = ["10.0.2.14", "10.0.1.4"]
    cluster = activated(hsm, ips)
    cluster.add_user("user1", "CU", CU_PASSWORD)
    cluster.users["admin"]["mofn"] = True
    cluster.add_user("officer2", "CO", CO_PASSWORD)["mofn"] = True
    tools = Tools(hsm, tmp_path, ips)
    for path in ("token", "sig", "pub"):
        (tmp_path / path).write_text(path)
    unused_banner, out = tools.cmu(
        "loginHSM CO admin " + CO_PASSWORD,
        "registerQuorumPubKey CO admin %s %s %s" % (tmp_path / "token", tmp_path / "sig", tmp_path / "pub"),
        "setMValue 3 2",
        "deleteUser CU user1",
        "I",
        "I",
        "createUser CU user2 " + CU_PASSWORD,
        "y",
        "A",
        "quit",
    )
    assert out[1] == "".join("registerQuorumPubKey success on server %d(%s)\n" % (n, ip) for n, ip in enumerate(ips))
    assert out[2] == "".join("setMValue success on server %d(%s)\n" % (n, ip) for n, ip in enumerate(ips))
    assert out[3] == body(delete)
    assert out[4].endswith(body(create).split("\n", 1)[1].replace("user1", "user2"))
    assert cluster.user_quorum == 2 and "user1" in cluster.users and "user2" not in cluster.users


def test_cmu_get_attribute_prints_every_server(hsm, tmp_path):
    ips = ["10.3.14.1", "10.3.14.2"]
    cluster = activated(hsm, ips)
    cu1 = hsm.call("login", hsm=ips[0], role="CU", username="cu1", password=CU_PASSWORD)["session"]
    made = hsm.call("generate_key_pair", hsm=ips[0], session=cu1, key_type="ec", curve="secp256k1",
                    public_label="ec", private_label="ec")
    hsm.call("logout", session=cu1)
    private = made["private_key"]["handle"]
    unused_banner, out = Tools(hsm, tmp_path, ips).cmu(
        "loginHSM CO admin " + CO_PASSWORD, "getAttribute %d 512" % private, "getAttribute 999 512", "quit"
    )
    blocks = out[1].split("Attribute Value on server ")[1:]
    assert [b.split(":\n")[0] for b in blocks] == ["0(10.3.14.1)", "1(10.3.14.2)"]
    lines = blocks[0].split("\n")
    assert lines[lines.index("OBJ_ATTR_CLASS") + 1] == "0x00000003"
    assert lines[lines.index("OBJ_ATTR_KEY_TYPE") + 1] == "0x00000003"
    assert lines[lines.index("OBJ_ATTR_EC_POINT") + 1] == cluster.keys[private]["ec_point"]
    assert out[2].startswith("getAttribute failed: HSM Error: Invalid object handle is passed to this operation\n")
