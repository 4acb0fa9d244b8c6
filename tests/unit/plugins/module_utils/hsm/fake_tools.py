# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Small stand-ins for cloudhsm-cli, cloudhsm_mgmt_util and key_mgmt_util for the driver and module unit tests.

They speak the documented dialogs (JSON envelopes; CMU prompts, CAUTION question, per-server lines; KMU return
lines) over a JSON state file (``FAKE_HSM_STATE``) and append what they were given to ``FAKE_HSM_LOG`` so tests
can check that no secret ever reached argv. ``install(directory, state)`` writes the three executables.
"""

from __future__ import annotations

import json
import os
import shlex
import sys

CAUTION = """
*************************CAUTION********************************
This is a CRITICAL operation, should be done on all nodes in the
cluster. AWS does NOT synchronize these changes automatically with the
nodes on which this operation is not executed or failed, please
ensure this operation is executed on all nodes in the cluster.
****************************************************************

Do you want to continue(y/n)?"""


def install(directory, state):
    """Write the fake tools into ``directory``/bin and the state file; return (bin dir, state path, log path)."""
    bin_dir = os.path.join(str(directory), "bin")
    etc_dir = os.path.join(str(directory), "etc")
    os.makedirs(bin_dir)
    os.makedirs(etc_dir)
    state_path = os.path.join(str(directory), "state.json")
    log_path = os.path.join(str(directory), "calls.log")
    save(state_path, state)
    for tool in ("cloudhsm-cli", "cloudhsm_mgmt_util", "key_mgmt_util"):
        path = os.path.join(bin_dir, tool)
        with open(path, "w") as handle:
            handle.write("#!%s\nimport runpy\nrunpy.run_path(%r, init_globals={'TOOL': %r}, run_name='__main__')\n" % (
                sys.executable, os.path.abspath(__file__), tool))
        os.chmod(path, 0o755)
    servers = [{"hostname": "10.0.%d.10" % i, "name": "10.0.%d.10" % i, "port": 2225}
               for i in range(len(state.get("servers", [])))]
    with open(os.path.join(etc_dir, "cloudhsm_mgmt_util.cfg"), "w") as handle:
        json.dump({"servers": servers}, handle)
    return bin_dir, state_path, log_path


ADMIN_PW = "Adm1n-S3cret!"
ALICE_PW = "al1ce pass 'quoted'"


def keys_for(count, owner="alice", start=16):
    return [dict(handle=start + i, label="k%d" % i, kcv="0x%06x" % (i + 1), owner=owner) for i in range(count)]


def dr_state(source_keys=7):
    """c1 (source, keys of alice), c2 (its clone, no keys yet), c9 (an unrelated cluster); servers in that order."""
    users = [("admin", "CO", ADMIN_PW), ("alice", "CU", ALICE_PW)]
    return {
        "default": "c1",
        "servers": ["c1", "c2", "c9"],
        "clusters": {
            "c1": cluster_state(users, keys_for(source_keys)),
            "c2": cluster_state(users),
            "c9": cluster_state(users, mask="other"),
        },
    }


class Environment(object):
    """Installed fake tools and accessors for their state and call log."""

    def __init__(self, directory, monkeypatch, state):
        self.bin_dir, self.state_path, self.log_path = install(directory, state)
        monkeypatch.setenv("FAKE_HSM_STATE", self.state_path)
        monkeypatch.setenv("FAKE_HSM_LOG", self.log_path)

    def state(self):
        with open(self.state_path) as handle:
            return json.load(handle)

    def write(self, state):
        save(self.state_path, state)

    def calls(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as handle:
            return [json.loads(line) for line in handle]

    def argv_text(self):
        return " ".join(" ".join(value) for kind, value in self.calls() if kind == "argv")


def save(path, state):
    with open(path, "w") as handle:
        json.dump(state, handle, indent=1, sort_keys=True)


def cluster_state(users=(), keys=(), mask="m1"):
    """A cluster: users as (name, role, password), keys as dicts (handle, label, kcv, owner, ...)."""
    state = {"mask": mask, "users": {}, "keys": {}}
    state["users"]["app_user"] = {"role": "AU", "password": None, "id": 2, "failures": 0}
    next_id = 3
    for name, role, password in users:
        uid = 1 if name == "admin" else next_id
        next_id = next_id if name == "admin" else next_id + 1
        state["users"][name] = {"role": role, "password": password, "id": uid, "failures": 0}
    for key in keys:
        entry = {"label": "", "id": "", "type": "aes", "size": 32, "shared": [], "extractable": False}
        entry.update(key)
        state["keys"][str(entry.pop("handle"))] = entry
    return state


ROLE_TO_TYPE = {"admin": "CO", "crypto-user": "CU", "unactivated-admin": "PRECO"}
TYPE_TO_ROLE = {"CO": "admin", "PCO": "admin", "CU": "crypto-user", "PRECO": "unactivated-admin",
                "AU": "internal(APPLIANCE_USER)"}


class Fake(object):
    def __init__(self):
        self.state_path = os.environ["FAKE_HSM_STATE"]
        with open(self.state_path) as handle:
            self.state = json.load(handle)
        self.sessions = {}
        self.log("argv", sys.argv)

    def log(self, kind, value):
        with open(os.environ["FAKE_HSM_LOG"], "a") as handle:
            handle.write(json.dumps([kind, value]) + "\n")

    def save(self):
        save(self.state_path, self.state)

    def cluster(self, name):
        return self.state["clusters"][name]

    def out(self, text):
        sys.stdout.write(text)
        sys.stdout.flush()

    def line(self):
        text = sys.stdin.readline()
        return None if text == "" else text.rstrip("\n")

    def check_login(self, cluster, name, password):
        user = cluster["users"].get(name.lower())
        if user is None or user["password"] is None:
            return "no_such_user"
        if user["failures"] >= 5:
            return "locked"
        if user["password"] != password:
            user["failures"] += 1
            self.save()
            return "bad_password"
        user["failures"] = 0
        return None

    def sync_key(self, source, handle, destination, login):
        key = source["keys"].get(str(handle))
        if key is None:
            return "no_such_key"
        if source["mask"] != destination["mask"]:
            return "the clusters do not share a masking key: they must be clones"
        names = [key["owner"]] + key["shared"]
        if any(name not in destination["users"] for name in names):
            return "The key owner and every shared user must exist in the destination cluster"
        if str(handle) in destination["keys"]:
            return "Key replicate failed on 1 of 1 connections"
        destination["keys"][str(handle)] = dict(key)
        return None

    def sync_user(self, source, name, destination):
        if source["mask"] != destination["mask"]:
            return "the clusters do not share a masking key: they must be clones"
        if name in destination["users"]:
            return "User replicate failed on 1 of 1 connections"
        user = dict(source["users"][name])
        user["id"] = max(u["id"] for u in destination["users"].values()) + 1
        destination["users"][name] = user
        return None


# ------------------------------------------------------------------------------------------------ cloudhsm-cli

class FakeCli(Fake):

    def run(self):
        argv = sys.argv[1:]
        self.default = argv[argv.index("--cluster-id") + 1] if "--cluster-id" in argv else self.state["default"]
        while True:
            line = self.line()
            if line is None or line.strip() in ("quit", "exit"):
                return 0
            if not line.strip():
                continue
            words = shlex.split(line)
            self.log("command", words[:2])
            code, data = self.dispatch(words)
            self.out(json.dumps({"error_code": code, "data": data}, indent=2) + "\n")

    def dispatch(self, words):
        command, options = [], {}
        index = 0
        while index < len(words) and not words[index].startswith("--"):
            command.append(words[index])
            index += 1
        current = None
        while index < len(words):
            word = words[index]
            if word.startswith("--") and "=" in word:
                name, value = word[2:].split("=", 1)
                options[name] = [value]
                current = None
            elif word.startswith("--"):
                current = word[2:]
                options[current] = []
            elif current:
                options[current].append(word)
            index += 1
        opt = dict((k, v[0] if len(v) == 1 else v) for k, v in options.items())
        name = opt.get("cluster-id") or self.default
        cluster = self.cluster(name)
        handler = getattr(self, "cmd_" + "_".join(command).replace("-", "_"), None)
        if handler is None:
            return 1, "unrecognized subcommand '%s'" % " ".join(command)
        return handler(name, cluster, opt, options)

    def who(self, name):
        return self.sessions.get(name)

    def cmd_login(self, name, cluster, opt, unused_raw):
        problem = self.check_login(cluster, opt["username"], opt.get("password"))
        if problem == "locked":
            return 1, "Login failed: the user is locked out; an admin must reset its password"
        if problem:
            return 1, "Login failed: incorrect username, role or password"
        self.sessions[name] = opt["username"].lower()
        return 0, {"username": opt["username"], "role": opt["role"]}

    def cmd_user_list(self, name, cluster, opt, unused_raw):
        return 0, {"users": [{"username": n, "role": TYPE_TO_ROLE[u["role"]], "locked": str(u["failures"] >= 5).lower(),
                              "mfa": [], "cluster-coverage": "full"} for n, u in sorted(cluster["users"].items())]}

    def cmd_cluster_activate(self, name, cluster, opt, unused_raw):
        admin = cluster["users"]["admin"]
        if admin["role"] != "PRECO":
            return 1, "Cluster has already been activated"
        admin.update(role="CO", password=opt["password"])
        self.save()
        return 0, "Cluster activation successful"

    # cluster mtls: anchors as {reference: PEM}; the fake does not check certificates beyond reading the file.
    def cmd_cluster_mtls_list_trust_anchors(self, name, cluster, opt, unused_raw):
        anchors = cluster.get("anchors", {})
        return 0, {"trust_anchors": [{"certificate-reference": "0x%02x" % int(ref), "certificate": pem,
                                      "cluster-coverage": "full"} for ref, pem in sorted(anchors.items())]}

    def cmd_cluster_mtls_get_enforcement(self, name, cluster, opt, unused_raw):
        if not self.who(name):
            return 1, "This operation requires a logged in user"
        return 0, {"mtls-enforcement-level": cluster.get("mtls", "none")}

    def cmd_cluster_mtls_register_trust_anchor(self, name, cluster, opt, unused_raw):
        if not self.who(name):
            return 1, "This operation requires a logged in user"
        anchors = cluster.setdefault("anchors", {})
        free = [ref for ref in ("1", "2") if ref not in anchors]
        if not free:
            return 1, "The maximum number of trust anchors (2) is already registered"
        with open(opt["path"]) as handle:
            anchors[free[0]] = handle.read()
        self.save()
        return 0, {"trust_anchor": {"certificate-reference": "0x%02x" % int(free[0]), "certificate": anchors[free[0]],
                                    "cluster-coverage": "full"}}

    def cmd_cluster_mtls_deregister_trust_anchor(self, name, cluster, opt, unused_raw):
        if not self.who(name):
            return 1, "This operation requires a logged in user"
        ref = str(int(opt["certificate-reference"], 0))
        if cluster.get("anchors", {}).pop(ref, None) is None:
            return 1, "No trust anchor with this certificate reference is registered"
        self.save()
        return 0, {"message": "Trust anchor deregistered"}

    def cmd_cluster_mtls_set_enforcement(self, name, cluster, opt, unused_raw):
        if not self.who(name):
            return 1, "This operation requires a logged in user"
        if opt["level"] != "none" and not cluster.get("anchors"):
            return 1, "Register a trust anchor before setting the mTLS enforcement level"
        cluster["mtls"] = opt["level"]
        self.save()
        return 0, {"message": "mTLS enforcement level set"}

    def cmd_user_create(self, name, cluster, opt, unused_raw):
        if not self.who(name):
            return 1, "This operation requires a logged in user"
        if opt["username"] in cluster["users"]:
            return 1, "User already exists"
        cluster["users"][opt["username"]] = {"role": ROLE_TO_TYPE[opt["role"]], "password": opt["password"],
                                             "id": max(u["id"] for u in cluster["users"].values()) + 1, "failures": 0}
        self.save()
        return 0, {"username": opt["username"], "role": opt["role"]}

    def cmd_user_delete(self, name, cluster, opt, unused_raw):
        if any(k["owner"] == opt["username"] for k in cluster["keys"].values()):
            return 1, "User owns keys and cannot be deleted"
        cluster["users"].pop(opt["username"], None)
        self.save()
        return 0, {"username": opt["username"], "role": opt["role"]}

    def cmd_user_change_password(self, name, cluster, opt, unused_raw):
        cluster["users"][opt["username"]]["password"] = opt["password"]
        self.save()
        return 0, {"username": opt["username"], "role": opt["role"]}

    def cmd_user_replicate(self, name, cluster, opt, unused_raw):
        problem = self.sync_user(self.cluster(opt["source-cluster-id"]), opt["username"],
                                 self.cluster(opt["destination-cluster-id"]))
        if problem:
            return 1, problem
        self.save()
        return 0, {"user": {"username": opt["username"]}, "message": "Successfully replicated user"}

    def key_json(self, handle, key):
        return {"key-reference": "0x%016x" % int(handle),
                "key-info": {"key-owners": [{"username": key["owner"], "key-coverage": "full"}],
                             "shared-users": [{"username": n, "key-coverage": "full"} for n in key["shared"]],
                             "cluster-coverage": "full"},
                "attributes": {"key-type": key["type"], "label": key["label"],
                               "id": "0x" + key["id"].encode().hex(), "check-value": key["kcv"],
                               "class": "secret-key", "extractable": key["extractable"],
                               "encrypt": key.get("encrypt", True), "decrypt": key.get("decrypt", True),
                               "key-length-bytes": key["size"]}}

    def visible(self, name, cluster):
        user = self.who(name)
        role = cluster["users"][user]["role"] if user else None
        return [(h, k) for h, k in sorted(cluster["keys"].items(), key=lambda i: int(i[0]))
                if role == "CO" or k["owner"] == user or user in k["shared"]]

    @staticmethod
    def match(handle, key, filters):
        for word in filters if isinstance(filters, list) else [filters]:
            field, value = word.split("=", 1)
            if field == "key-reference" and int(value, 16) != int(handle):
                return False
            if field == "attr.label" and key["label"] != value:
                return False
        return True

    def cmd_key_list(self, name, cluster, opt, raw):
        if not self.who(name):
            return 1, "This operation requires a logged in user"
        keys = [(h, k) for h, k in self.visible(name, cluster) if self.match(h, k, raw.get("filter", []))]
        start, size = int(opt.get("starting-token", 0)), int(opt.get("max-items", 10))
        page = keys[start:start + size]
        data = {"matched_keys": [self.key_json(h, k) for h, k in page], "total_key_count": len(keys),
                "returned_key_count": len(page)}
        if start + size < len(keys):
            data["next_token"] = str(start + size)
        return 0, data

    def cmd_key_replicate(self, name, cluster, opt, raw):
        source = self.cluster(opt["source-cluster-id"])
        handle = str(int(raw["filter"][0].split("=", 1)[1], 16))
        problem = self.sync_key(source, handle, self.cluster(opt["destination-cluster-id"]), None)
        if problem:
            return 1, problem
        self.save()
        return 0, {"key": self.key_json(handle, source["keys"][handle]), "message": "Successfully replicated key"}

    def _generate(self, name, cluster, opt, raw, key_type):
        handle = str(max([int(h) for h in cluster["keys"]] + [15]) + 1)
        attributes = dict(a.split("=", 1) for a in raw.get("attributes", []))
        cluster["keys"][handle] = {"label": opt["label"], "id": attributes.get("id", ""), "type": key_type,
                                   "size": int(opt["key-length-bytes"]), "kcv": "0x%06x" % (int(handle) * 7919),
                                   "owner": self.who(name), "shared": raw.get("share-crypto-users", []),
                                   "extractable": attributes.get("extractable") == "true"}
        self.save()
        return 0, {"key": self.key_json(handle, cluster["keys"][handle])}

    def cmd_key_generate_symmetric_aes(self, name, cluster, opt, raw):
        return self._generate(name, cluster, opt, raw, "aes")

    def cmd_key_generate_symmetric_generic_secret(self, name, cluster, opt, raw):
        return self._generate(name, cluster, opt, raw, "generic-secret")

    def _owned(self, name, cluster, raw):
        matched = [h for h, k in self.visible(name, cluster) if self.match(h, k, raw["filter"])]
        if len(matched) != 1:
            return None, (1, "Key selection criteria matched %d keys." % len(matched))
        if cluster["keys"][matched[0]]["owner"] != self.who(name):
            return None, (1, "Only the key owner can perform this operation")
        return cluster["keys"][matched[0]], None

    def cmd_key_set_attribute(self, name, cluster, opt, raw):
        key, problem = self._owned(name, cluster, raw)
        if problem:
            return problem
        if opt["name"] not in ("label", "encrypt", "decrypt"):
            return 1, "This attribute cannot be set on this key"
        key[opt["name"]] = opt["value"] if opt["name"] == "label" else opt["value"] == "true"
        self.save()
        return 0, {"message": "Attribute set successfully"}

    def _share(self, name, cluster, opt, raw, share):
        key, problem = self._owned(name, cluster, raw)
        if problem:
            return problem
        user = opt["username"].lower()
        if (user in key["shared"]) == share:
            return 1, "The key is already shared with this user" if share else "The key is not shared with this user"
        key["shared"] = sorted(set(key["shared"]) | {user}) if share else [n for n in key["shared"] if n != user]
        self.save()
        return 0, {"message": "Key shared successfully" if share else "Key unshared successfully"}

    def cmd_key_share(self, name, cluster, opt, raw):
        return self._share(name, cluster, opt, raw, True)

    def cmd_key_unshare(self, name, cluster, opt, raw):
        return self._share(name, cluster, opt, raw, False)

    def cmd_key_delete(self, name, cluster, opt, raw):
        matched = [h for h, k in self.visible(name, cluster) if self.match(h, k, raw["filter"])]
        if len(matched) != 1:
            return 1, "Key selection criteria matched %d keys." % len(matched)
        if cluster["keys"][matched[0]]["owner"] != self.who(name):
            return 1, "Only the key owner can perform this operation"
        del cluster["keys"][matched[0]]
        self.save()
        return 0, {"message": "Key deleted successfully"}


# ------------------------------------------------------------------------------------------ cloudhsm_mgmt_util

class FakeCmu(Fake):
    def run(self):
        servers = self.state["servers"]
        self.hosts = ["10.0.%d.10" % i for i in range(len(servers))]
        self.out("\nConnecting to the server(s), it may take time\ndepending on the server(s) load, please wait...\n")
        for host in self.hosts:
            self.out("\nConnecting to server '%s': hostname '%s', port 2225...\n" % (host, host))
            self.out("Connected to server '%s': hostname '%s', port 2225.\n" % (host, host))
            self.out("E2E enabled on server %d(%s)\n" % (self.hosts.index(host), host))
        self.server = None
        self.login = None
        while True:
            self.out("aws-cloudhsm>" if self.server is None else "server%d>" % self.server)
            line = self.line()
            if line is None:
                return 0
            words = line.split()
            if not words:
                continue
            self.log("command", words[:2])
            if words[0] == "quit":
                self.out("disconnecting from servers, please wait...\n")
                return 0
            getattr(self, "cmd_" + words[0], self.unknown)(words[1:])

    def unknown(self, args):
        self.out("Unknown command\n")

    def targets(self):
        indexes = range(len(self.hosts)) if self.server is None else [self.server]
        return [(i, self.hosts[i], self.cluster(self.state["servers"][i])) for i in indexes]

    def ask_password(self, prompt):
        self.out(prompt)
        return self.line()

    def cmd_listUsers(self, args):
        for index, host, cluster in self.targets():
            self.out("Users on server %d(%s):\nNumber of users found:%d\n\n" % (index, host, len(cluster["users"])))
            self.out("    User Id             User Type       User Name                          MofnPubKey    "
                     "LoginFailureCnt         2FA\n")
            for name, user in sorted(cluster["users"].items(), key=lambda i: i[1]["id"]):
                self.out("%10d              %-15s %-34s       NO %15d               NO\n" % (
                    user["id"], user["role"], name, user["failures"]))

    def cmd_loginHSM(self, args):
        user_type, name = args[0], args[1]
        password = self.ask_password("Enter password:") if args[2] == "-hpswd" else args[2]
        self.out("\n")
        failed = False
        for index, host, cluster in self.targets():
            problem = self.check_login(cluster, name, password)
            if problem:
                failed = True
                self.out("loginHSM failed: HSM Error: RET_USER_LOGIN_FAILURE\n")
                self.out("loginHSM failed on server %d(%s)\n" % (index, host))
            else:
                self.out("loginHSM success on server %d(%s)\n" % (index, host))
        self.login = None if failed else name

    def cmd_logoutHSM(self, args):
        for index, host, unused_cluster in self.targets():
            self.out("logoutHSM success on server %d(%s)\n" % (index, host))
        self.login = None

    def cmd_server(self, args):
        self.server = int(args[0])
        self.out("Server is in 'E2' mode...\n")

    def cmd_exit(self, args):
        self.server = None

    def caution(self):
        while True:
            self.out(CAUTION)
            answer = self.line()
            if answer == "y":
                return True
            if answer == "n":
                return False
            self.out("Invalid option, please type 'y' or 'n'\n")

    def cmd_createUser(self, args):
        user_type, name = args[0], args[1].lower()
        if not self.caution():
            return
        password = self.ask_password("Enter new password: ")
        self.ask_password("Re-enter new password: ")
        targets = self.targets()
        self.out("Creating User %s(%s) on %d nodes\n" % (name, user_type, len(targets)))
        for index, host, cluster in targets:
            if name in cluster["users"]:
                self.out("createUser failed: HSM Error: This user is already created\n")
                self.out("creating user on server %d(%s) failed\n\nRetry/Ignore/Abort?(R/I/A):" % (index, host))
                self.log("answer", self.line())
                return
            cluster["users"][name] = {"role": user_type, "password": password, "failures": 0,
                                      "id": max(u["id"] for u in cluster["users"].values()) + 1}
        self.save()

    def cmd_changePswd(self, args):
        user_type, name = args[0], args[1].lower()
        if not self.caution():
            return
        password = self.ask_password("Enter new password: ")
        self.ask_password("Re-enter new password: ")
        targets = self.targets()
        self.out("Changing password for %s(%s) on %d nodes\n" % (name, user_type, len(targets)))
        for index, host, cluster in targets:
            user = cluster["users"][name]
            user["password"] = password
            if user["role"] == "PRECO":
                user["role"] = "CO"
            self.out("changePswd success on server %d(%s)\n" % (index, host))
        self.save()

    def cmd_deleteUser(self, args):
        user_type, name = args[0], args[1].lower()
        targets = self.targets()
        self.out("Deleting user %s(%s) on %d nodes\n" % (name, user_type, len(targets)))
        for index, host, cluster in targets:
            if any(k["owner"] == name for k in cluster["keys"].values()):
                self.out("deleteUser failed: HSM Error: This user owns keys and cannot be deleted\n")
                self.out("deleteUser failed on server %d(%s)\n\nRetry/rollBack/Ignore?(R/B/I):" % (index, host))
                self.log("answer", self.line())
                continue
            cluster["users"].pop(name, None)
            self.out("deleteUser success on server %d(%s)\n" % (index, host))
        self.save()

    def cmd_findAllKeys(self, args):
        uid = int(args[0])
        for index, host, cluster in self.targets():
            names = [n for n, u in cluster["users"].items() if u["id"] == uid]
            entries = []
            for handle, key in sorted(cluster["keys"].items(), key=lambda i: int(i[0])):
                if names and key["owner"] == names[0]:
                    entries.append("%s(o)" % handle)
                elif names and names[0] in key["shared"]:
                    entries.append("%s(s)" % handle)
            self.out("Keys on server %d(%s):\nNumber of keys found %d\nnumber of keys matched from start index "
                     "0::%d\n%s\nfindAllKeys success on server %d(%s)\n" % (
                         index, host, len(entries), len(entries), ",".join(entries), index, host))

    def cmd_getAttribute(self, args):
        if self.state.get("get_attribute_refused"):
            # AWS lists getAttribute as a crypto-user command: a cluster may refuse it to an admin.
            self.out("getAttribute failed: HSM Error: Permission denied for this operation\ngetAttribute failed on "
                     "server %d(%s)\n" % (self.server, self.hosts[self.server]))
            return
        cluster = self.cluster(self.state["servers"][self.server])
        key = cluster["keys"][args[0]]
        self.out("Attribute Value on server %d(%s):\nOBJ_ATTR_CLASS\n0x04\nOBJ_ATTR_KEY_TYPE\n0x%02x\nOBJ_ATTR_TOKEN\n"
                 "0x%02x\nOBJ_ATTR_LABEL\n%s\nOBJ_ATTR_ID\n%s\nOBJ_ATTR_VALUE_LEN\n0x%08x\nOBJ_ATTR_KCV\n%s\n"
                 "OBJ_ATTR_EXTRACTABLE\n0x%02x\nOBJ_ATTR_ENCRYPT\n0x%02x\n" % (
                     self.server, self.hosts[self.server], 31 if key.get("type", "aes") == "aes" else 16,
                     0 if key.get("session") else 1, key["label"], key.get("id", ""), key.get("size", 32),
                     key["kcv"], int(key.get("extractable", False)), int(key.get("encrypt", False))))

    def cmd_getKeyInfo(self, args):
        cluster = self.cluster(self.state["servers"][self.server])
        key = cluster["keys"][args[1]]
        self.out("Key Info on server %d(%s):\n        Token/Flash Key,\n        Owned by user %d\n" % (
            self.server, self.hosts[self.server], cluster["users"][key["owner"]]["id"]))
        if key.get("quorum"):
            self.out("         %d Users need to approve to use/manage this key\n" % key["quorum"])

    def cmd_syncKey(self, args):
        # The reference leaves open whether syncKey asks to confirm: "sync_key_asks" makes it ask "always", or on
        # every call but the first ("after_first").
        asks = self.state.get("sync_key_asks")
        self.sync_key_calls = getattr(self, "sync_key_calls", 0) + 1
        if asks == "always" or (asks == "after_first" and self.sync_key_calls > 1):
            self.out("Do you want to continue(y/n)?")
            answer = self.line()
            self.log("answer", answer)
            if answer != "y":
                self.out("syncKey aborted\n")
                return
        source = self.cluster(self.state["servers"][self.server])
        problem = self.sync_key(source, args[0], self.cluster(self.state["servers"][int(args[1])]), self.login)
        self.out("syncKey failed: HSM Error: %s\n" % problem if problem else "syncKey success\n")
        self.save()

    def cmd_syncUser(self, args):
        source = self.cluster(self.state["servers"][self.server])
        names = [n for n, u in source["users"].items() if u["id"] == int(args[0])]
        problem = self.sync_user(source, names[0], self.cluster(self.state["servers"][int(args[1])]))
        if problem:
            self.out("syncUser failed: HSM Error: %s\n" % problem)
        else:
            self.out("ExtractMaskedObject: 0x0 !\nInsertMaskedObject: 0x0 !\nsyncUser success\n")
        self.save()


# ------------------------------------------------------------------------------------------------ key_mgmt_util

class FakeKmu(FakeCli):
    def run(self):
        self.cluster_name = self.state["default"]
        cluster = self.cluster(self.cluster_name)
        while True:
            self.out("\nCommand:  ")
            line = self.line()
            if line is None:
                return 0
            words = line.split()
            if not words:
                continue
            self.log("command", words[:2])
            if words[0] == "exit":
                return 0
            getattr(self, "kmu_" + words[0])(cluster, words[1:])

    def status(self, function, code=0, text="HSM Return: SUCCESS"):
        self.out("\tCfm3%s returned: 0x%02x : %s\n\n\tCluster Status:\n\tNode id 0 status: 0x%08x : %s\n" % (
            function, code, text, code, text))

    def kmu_loginHSM(self, cluster, args):
        name = args[args.index("-s") + 1]
        password = self.ask_password("Enter password: ")
        if self.check_login(cluster, name, password):
            self.status("LoginHSM", 0xa3, "HSM Error: RET_USER_LOGIN_FAILURE")
        else:
            self.sessions[self.cluster_name] = name.lower()
            self.status("LoginHSM")

    def ask_password(self, prompt):
        self.out(prompt)
        return self.line()

    def kmu_listUsers(self, cluster, args):
        self.out("\tNumber Of Users found %d\n\tIndex       User ID     User Type       User Name\n" % len(
            cluster["users"]))
        for position, (name, user) in enumerate(sorted(cluster["users"].items(), key=lambda i: i[1]["id"])):
            self.out("\t%d\t\t%d\t%s\t\t%s\t\tNO\t\t0\t\tNO\n" % (position + 1, user["id"], user["role"], name))
        self.status("ListUsers")

    def kmu_findKey(self, cluster, args):
        label = args[args.index("-l") + 1]
        key_id = args[args.index("-id") + 1] if "-id" in args else None
        handles = [h for h, k in self.visible(self.cluster_name, cluster)
                   if k["label"] == label and (key_id is None or k["id"] == key_id)]
        self.out("Total number of keys present %d\n" % len(handles))
        if handles:
            self.out(" number of keys matched from start index 0::%d\n%s\n" % (len(handles) - 1, ", ".join(handles)))
        self.status("FindKey")

    def kmu_getAttribute(self, cluster, args):
        key = cluster["keys"][args[args.index("-o") + 1]]
        with open(args[args.index("-out") + 1], "w") as handle:
            handle.write("OBJ_ATTR_CLASS\n0x04\nOBJ_ATTR_KEY_TYPE\n0x%02x\nOBJ_ATTR_LABEL\n%s\nOBJ_ATTR_ID\n%s\n"
                         "OBJ_ATTR_VALUE_LEN\n0x%08x\nOBJ_ATTR_KCV\n%s\nOBJ_ATTR_EXTRACTABLE\n0x%02x\n" % (
                             31 if key["type"] == "aes" else 16, key["label"], key["id"], key["size"], key["kcv"],
                             int(key["extractable"])))
        self.out("got all attributes of size 444 attr cnt 17\nAttributes dumped into %s file\n" % args[-1])
        self.status("GetAttribute")

    def kmu_getKeyInfo(self, cluster, args):
        key = cluster["keys"][args[args.index("-k") + 1]]
        self.out("       Cfm3GetKey returned: 0x00 : HSM Return: SUCCESS\n       Owned by user %d\n"
                 % cluster["users"][key["owner"]]["id"])
        if key["shared"]:
            self.out("       also, shared to following %d user(s):\n" % len(key["shared"]))
            self.out("".join("                %d\n" % cluster["users"][name]["id"] for name in key["shared"]))

    def kmu_genSymKey(self, cluster, args):
        handle = str(max([int(h) for h in cluster["keys"]] + [5]) + 1)
        names = dict((u["id"], n) for n, u in cluster["users"].items())
        shared = [names[int(i)] for i in args[args.index("-u") + 1].split(",")] if "-u" in args else []
        cluster["keys"][handle] = {"label": args[args.index("-l") + 1],
                                   "id": args[args.index("-id") + 1] if "-id" in args else "",
                                   "type": "aes" if args[args.index("-t") + 1] == "31" else "generic-secret",
                                   "size": int(args[args.index("-s") + 1]), "kcv": "0x%06x" % (int(handle) * 7919),
                                   "owner": self.sessions[self.cluster_name], "shared": shared,
                                   "extractable": "-nex" not in args}
        self.save()
        self.out("\tCfm3GenerateSymmetricKey returned: 0x00 : HSM Return: SUCCESS\n\n\tSymmetric Key Created.  "
                 "Key Handle: %s\n\n\tCluster Error Status\n\tNode id 0 and err state 0x00000000 : HSM Return: "
                 "SUCCESS\n" % handle)

    def kmu_deleteKey(self, cluster, args):
        handle = args[args.index("-k") + 1]
        if handle not in cluster["keys"]:
            self.status("FindKey", 0xa8, "HSM Error: Invalid object handle is passed to this operation")
            return
        del cluster["keys"][handle]
        self.save()
        self.status("DeleteKey")


if __name__ == "__main__":
    tool = globals()["TOOL"]
    sys.exit({"cloudhsm-cli": FakeCli, "cloudhsm_mgmt_util": FakeCmu, "key_mgmt_util": FakeKmu}[tool]().run())
