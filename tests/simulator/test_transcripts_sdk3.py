"""The emulated SDK 3 tools (configure, cloudhsm_mgmt_util, key_mgmt_util) against the reference transcripts.

Each test holds the transcript as published (section 2 of the reference, supplement B and C) next to the command
that reproduces it. The tools run as installed with piped stdin: their output is split at the prompts, and each
piece is compared with what the transcript shows after the command line. Piped answers are not echoed, so a typed
``y``/``A``/``I`` after a prompt is dropped from the transcript before comparing. Trailing spaces in a transcript
are written ``\\x20`` so that editors keep them.
"""

import itertools
import json
import os
import re

import pytest

from cloudhsm_sim.dataplane.testing import HsmTestServer, run_tool, tool_root
from cloudhsm_sim.tools.sdk3_configure import cmu_server

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


def body(transcript):
    """What the tool prints for the transcript's command: the lines after the command line, typed answers removed."""
    text = transcript.split("\n", 1)[1]
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


def same_but_nodes(actual, published, nodes):
    """Equal once node lines are set aside; the tool lists nodes 0..nodes-1 in order, the docs in any order."""
    actual_text, actual_runs = skeleton(actual)
    published_text, published_runs = skeleton(published)
    assert actual_text == published_text
    for run, published_run in zip(actual_runs, published_runs):
        assert run == [published_run[0]] * nodes
    assert all(re.search(r"Node id %d and" % n, actual) for n in range(nodes))
    return True


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
    transcript = """\
Ignoring E2E enable flag in the configuration file

Connecting to the server(s), it may take time
depending on the server(s) load, please wait...

Connecting to server '192.168.125.125': hostname '192.168.125.125', port 2225...
Connected to server '192.168.125.125': hostname '192.168.125.125', port 2225.
/opt/cloudhsm/etc/customerCA.crt,
partition owner certificate not exist at given path
Server 0(192.168.125.125) is in unencrypted mode now...
running in limited commands mode
Error: partition owner certificate doesn't exist at given path.
Failed to create client ssl ctx
E2E Session failed: E2E setup failed
Enabling E2E failed
aws-cloudhsm>\x20
"""
    hsm.cluster(new_cluster_id(), ["192.168.125.125"])
    tools = Tools(hsm, tmp_path, ["192.168.125.125"], ca=False)
    result = run_tool(tools.root, "cloudhsm_mgmt_util", [tools.config], stdin="", endpoint=hsm.endpoint)
    assert result.stdout.startswith(transcript[:-1].replace("/opt/cloudhsm", tools.root))  # up to the prompt
    enable = """\
aws-cloudhsm> enable_e2e
E2E enabled on server 0(192.168.125.125)
"""
    open(tools.root + "/etc/customerCA.crt", "w").write("-----BEGIN CERTIFICATE-----\n")
    assert tools.cmu("enable_e2e")[1][0] == body(enable)


def test_banner_with_customer_ca(hsm, tmp_path):
    published = """\
$ /opt/cloudhsm/bin/cloudhsm_mgmt_util /opt/cloudhsm/etc/cloudhsm_mgmt_util.cfg

Connecting to the server(s), it may take time
depending on the server(s) load, please wait...

Connecting to server '10.0.2.9': hostname '10.0.2.9', port 2225...
Connected to server '10.0.2.9': hostname '10.0.2.9', port 2225.

Connecting to server '10.0.3.11': hostname '10.0.3.11', port 2225...
Connected to server '10.0.3.11': hostname '10.0.3.11', port 2225.

Connecting to server '10.0.1.12': hostname '10.0.1.12', port 2225...
Connected to server '10.0.1.12': hostname '10.0.1.12', port 2225.
"""
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
    assert "\n".join(lines).lstrip("\n") == body(published).lstrip("\n")
    assert "E2E enabled on server 2(10.0.1.12)\n" in banner


# --------------------------------------------------------------------------------------------- CMU: users
def test_login_logout_global(hsm, tmp_path):
    login = """\
aws-cloudhsm>loginHSM CO admin co12345

loginHSM success on server 0(10.0.2.9)
loginHSM success on server 1(10.0.3.11)
"""
    hidden = """\
aws-cloudhsm>loginHSM CO admin -hpswd
Enter password:

loginHSM success on server 0(10.0.2.9)
loginHSM success on server 1(10.0.3.11)

aws-cloudhsm>
"""
    logout = """\
aws-cloudhsm>logoutHSM

logoutHSM success on server 0(10.0.2.9)
logoutHSM success on server 1(10.0.3.11)
"""
    failed = "loginHSM failed: HSM Error: RET_USER_LOGIN_FAILURE"  # supplement B2
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
    assert out[0].rstrip("\n") + "\n" == body(login)
    assert out[1].rstrip("\n") + "\n" == body(logout)
    assert out[2] == body(hidden)[: -len("aws-cloudhsm>\n")]
    assert out[4].startswith("\n" + failed + "\nloginHSM failed on server 0(10.0.2.9)\n")
    assert cluster.user("admin")["failures"] == 1  # one command, one failure, however many HSMs of the cluster


def test_list_users_before_and_after_activation(hsm, tmp_path):
    before = """\
aws-cloudhsm>listUsers
Users on server 0(server1):
Number of users found:2

    User Id             User Type       User Name                          MofnPubKey    LoginFailureCnt         2FA
         1              PRECO           admin                                    NO               0               NO
         2              AU              app_user                                 NO               0               NO
"""
    change = """\
aws-cloudhsm>changePswd PRECO admin P@55w0rd
*************************CAUTION********************************
This is a CRITICAL operation, should be done on all nodes in the
cluster. AWS does NOT synchronize these changes automatically with the\x20
nodes on which this operation is not executed or failed, please\x20
ensure this operation is executed on all nodes in the cluster.\x20\x20
****************************************************************

Do you want to continue(y/n)?y
Changing password for admin(PRECO) on 1 nodes
changePswd success on server 0(server1)
"""
    after = """\
aws-cloudhsm>listUsers
Users on server 0(server1):
Number of users found:2

    User Id             User Type       User Name                          MofnPubKey    LoginFailureCnt         2FA
         1              CO              admin                                    NO               0               NO
         2              AU              app_user                                 NO               0               NO
"""
    cluster_id = new_cluster_id()
    hsm.cluster(cluster_id, ["server1"])
    unused_banner, out = Tools(hsm, tmp_path, ["server1"]).cmu(
        "listUsers", "loginHSM PRECO admin password", "changePswd PRECO admin P@55w0rd", "y", "listUsers", "quit"
    )
    assert out[0] == body(before)
    assert out[2] == body(change)
    assert out[3] == body(after)
    assert hsm.activated == [cluster_id] or cluster_id in hsm.activated  # the control plane activates the cluster


def test_create_user_caution_and_partial_failure(hsm, tmp_path):
    transcript = """\
aws-cloudhsm> createUser CO alice 391019314

*************************CAUTION********************************
This is a CRITICAL operation, should be done on all nodes in the
cluster. AWS does NOT synchronize these changes automatically with the
nodes on which this operation is not executed or failed, please
ensure this operation is executed on all nodes in the cluster.
****************************************************************

Do you want to continue(y/n)?Invalid option, please type 'y' or 'n'

Do you want to continue(y/n)?y
Creating User alice(CO) on 3 nodes
"""
    exists = """\
aws-cloudhsm> createUser CO alice 391019314

*************************CAUTION********************************
This is a CRITICAL operation, should be done on all nodes in the
cluster. AWS does NOT synchronize these changes automatically with the
nodes on which this operation is not executed or failed, please
ensure this operation is executed on all nodes in the cluster.
****************************************************************

Do you want to continue(y/n)?y
Creating User alice(CO) on 3 nodes
createUser failed: HSM Error: This user is already created
creating user on server 0(10.3.2.1) failed

Retry/Ignore/Abort?(R/I/A):A
"""
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
    assert out[1] == body(transcript)
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
    transcript = """\
aws-cloudhsm> deleteUser CO alice
Deleting user alice(CO) on 3 nodes
deleteUser success on server 0(10.0.0.1)
deleteUser success on server 0(10.0.0.2)
deleteUser success on server 0(10.0.0.3)
"""
    ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    cluster = activated(hsm, ips)
    cluster.add_user("alice", "CO", "Alice-Pass1")
    tools = Tools(hsm, tmp_path, ips)
    unused_banner, out = tools.cmu("loginHSM CO admin " + CO_PASSWORD, "deleteUser CO alice", "quit")
    # The published example numbers every server 0 (a slip in the AWS page); the tool numbers them 0, 1, 2.
    assert out[1] == body(transcript).replace("server 0(10.0.0.2)", "server 1(10.0.0.2)").replace(
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
    info = """\
aws-cloudhsm> info server 0
Id      Name                    Hostname         Port   State           Partition               LoginState
0       10.0.0.1                10.0.0.1        2225    Connected       hsm-udw0tkfg1ab         Logged in as 'testuser(CU)'
"""
    server = """\
aws-cloudhsm> server 0
Server is in 'E2' mode...
"""
    quit_ = """\
aws-cloudhsm> quit
disconnecting from servers, please wait...
"""
    cluster = hsm.cluster(new_cluster_id(), ["10.0.0.1"], hsm_ids=["hsm-udw0tkfg1ab"])
    cluster.add_user("testuser", "CU", "Test-Pass1")
    unused_banner, out = Tools(hsm, tmp_path, ["10.0.0.1"]).cmu(
        "loginHSM CU testuser Test-Pass1", "info server 0", "server 0", "exit", "quit"
    )
    assert out[1] == body(info)
    assert out[2] == body(server)
    assert out[3] == ""  # "exit" leaves server mode without a word
    assert out[4] == body(quit_)


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
    sync_key = """\
aws-cloudhsm> syncKey 261251 1
syncKey success
"""
    sync_user = """\
server 0> syncUser 6 1
ExtractMaskedObject: 0x0 !
InsertMaskedObject: 0x0 !
syncUser success
"""
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
    sync_clusters = tools.servers(["10.3.5.1", "10.3.6.1"], str(tmp_path / "SyncClusters.cfg"))
    unused_banner, out = tools.cmu(
        "loginHSM CO admin " + CO_PASSWORD,
        "server 0",
        "syncKey 261251 1",
        "syncUser 6 1",
        "exit",
        "logoutHSM",
        "loginHSM CU cu6 " + CU_PASSWORD,
        "server 0",
        "syncKey 261251 1",
        "exit",
        "quit",
        config=sync_clusters,
    )
    assert out[2] == "syncKey failed: HSM Error: The key's owner or shared users do not exist on the destination\n"
    assert out[3] == body(sync_user)
    assert out[8] == body(sync_key)
    assert clone.user("cu6")["hash"] == source.user("cu6")["hash"]  # same credentials on both clusters
    assert clone.keys[261251]["kcv"] == source.keys[261251]["kcv"]
    assert clone.keys[261251]["attrs"]["extractable"] is False

    unrelated_cfg = tools.servers(["10.3.5.1", "10.3.7.1"], str(tmp_path / "Unrelated.cfg"))
    unrelated.add_user("cu6", "CU", CU_PASSWORD)
    unused_banner, out = tools.cmu(
        "loginHSM CO admin " + CO_PASSWORD,
        "server 0",
        "syncUser 5 1",
        "exit",
        "logoutHSM",
        "loginHSM CU cu6 " + CU_PASSWORD,
        "server 0",
        "syncKey 261251 1",
        "exit",
        "quit",
        config=unrelated_cfg,
    )
    masking = "HSM Error: Masked object could not be unmasked: the clusters do not share a masking key\n"
    assert out[2] == "syncUser failed: " + masking
    assert out[7] == "syncKey failed: " + masking
    assert "cu5" not in unrelated.users and 261251 not in unrelated.keys


# ---------------------------------------------------------------------------------------------------------- KMU
def test_kmu_session(hsm, tmp_path):
    login = """\
Command:  loginHSM -u CU -s example_user -p <password>
Cfm3LoginHSM returned: 0x00 : HSM Return: SUCCESS

Cluster Error Status
Node id 0 and err state 0x00000000 : HSM Return: SUCCESS
Node id 1 and err state 0x00000000 : HSM Return: SUCCESS
Node id 2 and err state 0x00000000 : HSM Return: SUCCESS
"""
    gen = """\
Command: genSymKey -t 31 -s 32 -l aes256
        Cfm3GenerateSymmetricKey returned: 0x00 : HSM Return: SUCCESS
        Symmetric Key Created.  Key Handle: 6
        Cluster Error Status
        Node id 0 and err state 0x00000000 : HSM Return: SUCCESS
"""
    get_one = """\
Command: getAttribute -o 524296 -a 256 -out attribute.txt
Attributes dumped into attribute.txt file
"""
    file_one = "OBJ_ATTR_KEY_TYPE\n0x00000015\n"
    find_empty = """\
Command: findKey -sess 1

Total number of keys present 0

        Cluster Error Status
        Node id 1 and err state 0x00000000 : HSM Return: SUCCESS
        Node id 0 and err state 0x00000000 : HSM Return: SUCCESS

        Cfm3FindKey returned: 0x00 : HSM Return: SUCCESS
"""
    delete_bad = """\
Command: deleteKey -k 252126
        Cfm3FindKey returned: 0xa8 : HSM Error: Invalid object handle is passed to this operation
        Cluster Error Status
        Node id 1 and err state 0x000000a8 : HSM Error: Invalid object handle is passed to this operation
        Node id 2 and err state 0x000000a8 : HSM Error: Invalid object handle is passed to this operation
"""
    logout = """\
Command:  logoutHSM
Cfm3LogoutHSM returned: 0x00 : HSM Return: SUCCESS
Cluster Error Status
Node id 0 and err state 0x00000000 : HSM Return: SUCCESS
"""
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
    assert out[0] == body(login)
    assert same_but_nodes(out[1], body(gen), 3)
    assert "Key Handle: 7\n" in out[2]
    assert out[3] == body(get_one).replace("attribute.txt", str(tmp_path / "attribute.txt"))
    assert open(tmp_path / "attribute.txt").read() == file_one
    out = out[1:]
    # Node lines come in node order here; the published examples list them unsorted (and two of the three).
    assert same_but_nodes(out[3], body(find_empty), 3)
    assert out[4].startswith("Total number of keys present 1\n number of keys matched from start index 0::0\n6\n")
    assert same_but_nodes(out[5], body(delete_bad), 3)
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
    denied = """\
Command:  deleteKey -k 262152
Cfm3DeleteKey returned: 0xc6 : HSM Error: Key Access is denied.
"""
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
    assert out[1] == body(denied)
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
    list_users = """\
Command:  listUsers
        Number Of Users found 4
        Index       User ID     User Type       User Name           MofnPubKey    LoginFailureCnt         2FA
        1                1      PCO             admin                     NO               0               NO
        2                2      AU              app_user                  NO               0               NO
        3                3      CU              alice                     YES              0               NO
        4                4      CU              bob                       NO               0               NO
        5                5      CU              trent                     YES              0               NO
        Cfm3ListUsers returned: 0x00 : HSM Return: SUCCESS
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
    assert out[1] == body(list_users).replace("found 4", "found 5")
