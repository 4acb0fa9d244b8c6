# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Client SDK 3 driver: one ``cloudhsm_mgmt_util`` (CMU) process per module run over a multi-server config such as
SyncClusters.cfg, and ``key_mgmt_util`` (KMU) for key generation.

CMU prints text, one block per server in config order, and stops to ask: the CAUTION ``(y/n)`` question (answered
``y``: the module was asked to make the change), ``Retry/Ignore/Abort?(R/I/A)`` (answered ``A``) and
``Retry/rollBack/Ignore?(R/B/I)`` (answered ``I``) after a per-server failure: never retry, report per server.
Mutations run in server mode (``server N`` ... ``exit``) so each server is changed only where it needs it.
Passwords are typed at the ``-hpswd`` prompts on stdin, never put in a command line.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.driver import SDK3_KEY_TOOL, SDK3_TOOL
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.interface import HsmError, LoginFailed, OpResult
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.messages import login_failed_message
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.interface import HsmDriver, HsmSession
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.model import (
    ROLE_TO_SDK3_TYPE, ROLE_CRYPTO_USER, ClusterView, Key, User, pair_link)
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.process import ToolError, ToolSession

# ---------------------------------------------------------------------------------------------------------------
# Config


# What every config error says to do: the role writes the file in the shape cloudhsm_mgmt_util reads.
_CONFIG_FIX = ("Write it with the hsmops.cloudhsm.cloudhsm_sync_config role (sdk 3, each cluster's hsm_ip, source "
               "first), or set client_config to the file that role wrote.")


def read_servers(path):
    """[(index, hostname, name)] of a CMU config (cloudhsm_mgmt_util.cfg, SyncClusters.cfg), in config order."""
    try:
        with open(path) as handle:
            config = json.load(handle)
    except (IOError, OSError) as exc:
        raise HsmError("cannot read the cloudhsm_mgmt_util config %s (client_config): %s. SDK 3 needs that file to "
                       "list one HSM ENI IP of each cluster as a server. %s" % (path, exc.strerror or exc, _CONFIG_FIX))
    except ValueError as exc:
        raise HsmError("the cloudhsm_mgmt_util config %s is not JSON (%s); cloudhsm_mgmt_util needs a JSON object "
                       "with a \"servers\" list. %s" % (path, exc, _CONFIG_FIX))
    entries = config.get("servers") if isinstance(config, dict) else None
    servers = []
    for index, server in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(server, dict) or not server.get("hostname"):
            raise HsmError("server %d of the cloudhsm_mgmt_util config %s has no hostname (found %r); every server "
                           "needs the ENI IP of an HSM. %s" % (index, path, server, _CONFIG_FIX))
        servers.append((index, server["hostname"], server.get("name") or server["hostname"]))
    if not servers:
        raise HsmError("the cloudhsm_mgmt_util config %s lists no servers; it needs one server (an HSM ENI IP) per "
                       "cluster, source first. %s" % (path, _CONFIG_FIX))
    return servers


def resolve_server(servers, wanted, path=None):
    """The index of a server given as an index (int or digit string), ENI IP/hostname or name."""
    text = str(wanted).strip()
    for index, hostname, name in servers:
        if text in (str(index), hostname, name):
            return index
    raise HsmError("server %r is not in the cloudhsm_mgmt_util config%s (it lists %s). Give an index or an ENI IP "
                   "from that list; for a cluster the config lacks, add it to the clusters of the "
                   "hsmops.cloudhsm.cloudhsm_sync_config role and run that role again." % (
                       wanted, " " + path if path else "", ", ".join("%d=%s" % (s[0], s[1]) for s in servers)))


def cluster_map_path(config_path):
    """Where the cluster map of a cloudhsm_mgmt_util config lives: next to it, ``<name>.clusters.json``
    (SyncClusters.cfg -> SyncClusters.clusters.json). The hsmops.cloudhsm.cloudhsm_sync_config role writes both."""
    return os.path.splitext(config_path)[0] + ".clusters.json"


def read_cluster_map(config_path):
    """{cluster id: HSM ENI IP of its server} from the cluster map of ``config_path``; None when there is none.

    cloudhsm_mgmt_util names servers by index and IP only, and whether it tolerates extra fields in its config is
    not documented, so the cluster ids live in a file of their own."""
    path = cluster_map_path(config_path)
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (IOError, OSError):
        return None
    except ValueError as exc:
        raise HsmError("the cluster map %s is not JSON (%s). %s" % (path, exc, _CONFIG_FIX))
    entries = data.get("clusters") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get("cluster_id") and e.get("hostname")
                                                for e in entries):
        raise HsmError("the cluster map %s needs a \"clusters\" list of {cluster_id, hostname} (found %r). %s" % (
            path, data, _CONFIG_FIX))
    return dict((entry["cluster_id"], entry["hostname"]) for entry in entries)


def resolve_target(servers, cluster_map, wanted, path=None):
    """The server index of a target: a cluster id of the cluster map, or a server index/ENI IP/name. Without a
    map, a config of one server serves one cluster (the single-cluster configuration ``configure -a`` writes), so a
    cluster id names that server."""
    text = str(wanted).strip()
    if cluster_map and text in cluster_map:
        return resolve_server(servers, cluster_map[text], path)
    if text.startswith("cluster-"):
        if cluster_map is None and len(servers) == 1:
            return servers[0][0]
        raise HsmError("cluster %s is not in the cloudhsm_mgmt_util config%s: %s. Add it to the clusters of the "
                       "hsmops.cloudhsm.cloudhsm_sync_config role and run that role again." % (
                           text, " " + path if path else "",
                           "its cluster map %s names %s" % (cluster_map_path(path or ""), ", ".join(sorted(cluster_map)))
                           if cluster_map else "it has no cluster map (%s) and lists %d servers" % (
                               cluster_map_path(path or ""), len(servers))))
    return resolve_server(servers, wanted, path)


# ---------------------------------------------------------------------------------------------------------------
# CMU output parsers (transcripts: reference section 2.4 and supplement B)

_PROMPT = re.compile(
    r"(?P<prompt>aws-cloudhsm\s?>|server\s?\d*\s?>|\(y/n\)\?|\(R/I/A\):|\(R/B/I\):|[Pp]assword:)[ \t]*\Z")
# syncKey / syncUser lines queued at once: few enough that their answers never fill the pipes while lines wait.
PIPELINE_SIZE = 100
MTLS_SDK3_MESSAGE = ("mutual TLS (trust anchors, enforcement) is a feature of hsm2m.medium clusters, which only "
                     "Client SDK 5 (cloudhsm-cli) reaches; Client SDK 3 has no mTLS commands. Use sdk: '5'.")

_SERVER_HEADER = re.compile(r"^(Users|Keys) on server (\d+)\((.*?)\):\s*$", re.M)
_USER_ROW = re.compile(r"^\s*(\d+)\s+([A-Za-z]+)\s+(\S+)\s+(YES|NO)\s+(\d+)\s+(YES|NO)\s*$", re.M)
_SERVER_RESULT = re.compile(r"(\w+) (success|failed) on server (\d+)\((.*?)\)")
_CREATE_FAILED = re.compile(r"(?:creating|changing|deleting) \w+ on server (\d+)\((.*?)\) failed", re.I)
_HANDLE = re.compile(r"(\d+)(?:\((o|s)\))?")


def _prompt_matcher(pattern):
    """A matcher for ToolSession.read_until: the tool waits for input when the buffer ends with ``pattern``'s
    ``prompt``; value = the prompt text."""
    def match(buffer):
        found = pattern.search(buffer)
        return None if found is None else (len(buffer), found.group("prompt"))
    return match


match_prompt = _prompt_matcher(_PROMPT)


# With commands queued, several answers arrive at once: each ends at the next command prompt (at a line start) or
# question, wherever it stands in what was read.
_NEXT_PROMPT = re.compile(
    r"(?P<prompt>(?<![^\n])(?:aws-cloudhsm\s?>|server\s?\d*\s?>)|\(y/n\)\?|\(R/I/A\):|\(R/B/I\):|[Pp]assword:[ \t]*\Z)")


def match_next_prompt(buffer):
    """Matcher for ToolSession.read_until with queued commands: the answer up to the first prompt."""
    found = _NEXT_PROMPT.search(buffer)
    if found is None:
        return None
    return found.end(), found.group("prompt").strip()


def is_question(prompt):
    """True for the prompts that wait for an answer (y/n, retry choice, password), not for a command."""
    return not (prompt.startswith("aws-cloudhsm") or prompt.startswith("server"))


def _server_sections(text):
    """{server index: section text} for the per-server blocks (``Users on server N(host):`` ...)."""
    marks = list(_SERVER_HEADER.finditer(text))
    sections = {}
    for position, mark in enumerate(marks):
        end = marks[position + 1].start() if position + 1 < len(marks) else len(text)
        sections[int(mark.group(2))] = text[mark.end():end]
    return sections


def parse_list_users(text):
    """{server index: [User]} from ``listUsers``."""
    result = {}
    for index, section in _server_sections(text).items():
        result[index] = [User(row.group(3), row.group(2), user_id=int(row.group(1)), quorum=row.group(4) == "YES")
                         for row in _USER_ROW.finditer(section)]
    return result


def parse_server_results(text, command):
    """{server index: True/False} from ``<command> success|failed on server N(host)`` lines and
    ``creating user on server N(host) failed`` lines."""
    results = {}
    for found in _SERVER_RESULT.finditer(text):
        if found.group(1).lower() == command.lower():
            results[int(found.group(3))] = found.group(2) == "success"
    for found in _CREATE_FAILED.finditer(text):
        results[int(found.group(1))] = False
    return results


# A line of a handle list: "6, 7, 9", "8(s),9(s),17", or one piece of a list the tools wrap over several lines
# (every piece but the last ends with a comma).
_HANDLE_LIST_LINE = re.compile(r"^\d+(\([os]\))?(\s*,\s*\d+(\([os]\))?)*\s*,?$")


def parse_handle_list(text):
    """[(handle, 'o'|'s'|None)] from every handle-list line of ``text``, joining a list wrapped over lines."""
    entries = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and _HANDLE_LIST_LINE.match(stripped):
            entries.extend((int(m.group(1)), m.group(2)) for m in _HANDLE.finditer(stripped))
    return entries


def parse_find_all_keys(text):
    """{server index: [(handle, 'o'|'s'|None)]} from ``findAllKeys`` (lists wrapped over several lines too)."""
    result = {}
    for index, section in _server_sections(text).items():
        # The counts printed above the list are not used: the AWS hash example prints 3 next to 4 handles.
        result[index] = parse_handle_list(section.split("Key Hash:")[0])
    return result


_FAILURE_LINE = re.compile(r"\b\w+ failed(:| on server)|on server \d+\(.*?\) failed|HSM Error|^\s*Error\b|\bRET_[A-Z_]+")


def command_failure(text):
    """The failure lines of a CMU answer, or None when it reports no failure (the CAUTION text says "failed" too)."""
    lines = [line.strip() for line in text.splitlines() if _FAILURE_LINE.search(line)]
    return "; ".join(lines) if lines else None


# ---------------------------------------------------------------------------------------------------------------
# KMU output parsers (reference section 2.5, supplement C)

_KMU_PROMPT = re.compile(r"(?P<prompt>Command:|[Pp]assword:)[ \t]*\Z")
_KMU_RETURN = re.compile(r"Cfm3(\w+) returned: (0x[0-9a-fA-F]+)[ \t]*(?::[ \t]*|\s*\n\s*)(HSM (?:Return|Error): [^\n]*)?")
_KMU_NODE = re.compile(r"Node id (\d+) (?:and err state|status:) (0x[0-9a-fA-F]+) : ([^\n]*)")
match_kmu_prompt = _prompt_matcher(_KMU_PROMPT)


def parse_kmu_status(text):
    """(ok, message, {node id: (code, message)}) from a KMU answer; both cluster-status forms are accepted."""
    found = None
    for found in _KMU_RETURN.finditer(text):
        pass
    nodes = dict((int(m.group(1)), (m.group(2), m.group(3).strip())) for m in _KMU_NODE.finditer(text))
    if found is None:
        error = re.search(r"(Error[^\n]*|HSM Error[^\n]*)", text)
        return False, error.group(1).strip() if error else "no return code in the output", nodes
    code = int(found.group(2), 16)
    message = (found.group(3) or "").strip() or ("HSM Return: SUCCESS" if code == 0 else "error %s" % found.group(2))
    return code == 0, message, nodes


def parse_kmu_users(text):
    """{user name: user id} from KMU ``listUsers`` (Index, User ID, User Type, User Name, ... columns)."""
    return dict((m.group(2).lower(), int(m.group(1))) for m in re.finditer(
        r"^\s*\d+\s+(\d+)\s+[A-Za-z]+\s+(\S+)\s+(?:YES|NO)\s+\d+\s+(?:YES|NO)\s*$", text, re.M))


def parse_gen_sym_key(text):
    """The new key handle from ``genSymKey`` (None if absent)."""
    found = re.search(r"Key Handle:\s*(\d+)", text)
    return int(found.group(1)) if found else None


def parse_find_key(text):
    """Key handles from ``findKey`` (both ``present N`` and ``present: N`` forms; lists wrapped over lines too)."""
    total = re.search(r"Total number of keys present:?\s*(\d+)", text)
    if total and int(total.group(1)) == 0:
        return []
    return [handle for handle, unused_mark in parse_handle_list(text)]


def parse_key_info(text):
    """(owner user id, [shared user ids], users needed for quorum) from ``getKeyInfo`` (KMU or one CMU server
    block); owner None when the text names none."""
    owner = re.search(r"Owned by user (\d+)", text)
    shared = []
    listed = re.search(r"shared to following (\d+) user\(s\):\s*\n((?:[ \t]*\d+[ \t]*\n?)*)", text)
    if listed:
        shared = [int(n) for n in listed.group(2).split()]
    quorum = re.search(r"(\d+) Users need to approve", text)
    return (int(owner.group(1)) if owner else None, shared, int(quorum.group(1)) if quorum else 0)


def parse_attribute_file(text):
    """{attribute name: value} from a getAttribute output file (a name line, then its value line, which may be
    empty, as an empty id is)."""
    lines = [line.strip() for line in text.splitlines()]
    attributes = {}
    for index, line in enumerate(lines):
        if line.startswith("OBJ_ATTR_"):
            value = lines[index + 1] if index + 1 < len(lines) else ""
            attributes[line] = "" if value.startswith("OBJ_ATTR_") else value
    return attributes


KMU_KEY_TYPES = {"aes": 31, "generic-secret": 16}
KMU_TYPE_NAMES = {0x00: "rsa", 0x03: "ec", 0x1f: "aes", 0x10: "generic-secret", 0x15: "3des", 0x12: "rc4"}
KMU_CLASS_CODES = {"public-key": 2, "private-key": 3, "secret-key": 4}
# genECCKeyPair -i curve ids (AWS genECCKeyPair page).
KMU_CURVE_IDS = {"prime256v1": 2, "secp256r1": 2, "secp384r1": 14, "secp521r1": 15, "secp256k1": 16}
# getAttribute -a 512 names of the drift attributes (SDK 5 names on the right).
KMU_DRIFT_ATTRIBUTES = {"OBJ_ATTR_ENCRYPT": "encrypt", "OBJ_ATTR_DECRYPT": "decrypt", "OBJ_ATTR_WRAP": "wrap",
                        "OBJ_ATTR_UNWRAP": "unwrap", "OBJ_ATTR_SIGN": "sign", "OBJ_ATTR_VERIFY": "verify",
                        "OBJ_ATTR_EXTRACTABLE": "extractable", "OBJ_ATTR_SENSITIVE": "sensitive",
                        "OBJ_ATTR_PRIVATE": "private"}
KMU_CLASS_NAMES = {2: "public-key", 3: "private-key", 4: "secret-key"}


def key_from_attributes(handle, attributes, owner=None):
    """A Key from KMU getAttribute -a 512 output."""
    def number(name):
        value = attributes.get(name)
        try:
            return int(value, 16) if value and value.startswith("0x") else int(value)
        except (TypeError, ValueError):
            return None
    key_type = KMU_TYPE_NAMES.get(number("OBJ_ATTR_KEY_TYPE"), number("OBJ_ATTR_KEY_TYPE"))
    flags = dict((name, bool(number(attribute))) for attribute, name in KMU_DRIFT_ATTRIBUTES.items()
                 if number(attribute) is not None)
    return Key(handle, label=attributes.get("OBJ_ATTR_LABEL"), key_id=attributes.get("OBJ_ATTR_ID") or "",
               check_value=attributes.get("OBJ_ATTR_KCV"), key_type=key_type,
               key_class=KMU_CLASS_NAMES.get(number("OBJ_ATTR_CLASS")),
               length=number("OBJ_ATTR_VALUE_LEN"), owner=owner,
               extractable=flags.get("extractable"),
               token=None if number("OBJ_ATTR_TOKEN") is None else bool(number("OBJ_ATTR_TOKEN")),
               pair=pair_link(key_type, attributes.get("OBJ_ATTR_MODULUS") or attributes.get("OBJ_ATTR_EC_POINT")),
               attributes=flags)


# ---------------------------------------------------------------------------------------------------------------
# Driver


def _first_prompt(tool, matcher):
    """The start-up output up to the first prompt; a tool that never gets there is stopped, not left behind."""
    try:
        return tool.read_until(matcher)[0]
    except ToolError:
        tool.close(grace=1.0)
        raise


class Sdk3Driver(HsmDriver):
    sdk = "3"

    def config_path(self):
        return self.settings.config_path or os.path.join(self.settings.etc_dir, "cloudhsm_mgmt_util.cfg")

    def open(self, targets=None, secrets=(), keys=False):
        """One session over both SDK 3 tools: cloudhsm_mgmt_util for the servers of the config (``targets``,
        cluster ids or server indexes/IPs, narrow what ``targets()`` returns) and key_mgmt_util for the keys of the
        cluster the client daemon serves. ``keys``: log in with key_mgmt_util first (cloudhsm_mgmt_util starts
        only when an operation needs it)."""
        return Sdk3ClientSession(self.settings, self.config_path(), targets, secrets, keys_first=keys)


class Sdk3Session(object):

    def __init__(self, settings, config_path, targets=None, secrets=()):
        self.config_path = config_path
        self.servers = read_servers(config_path)
        self._targets = ([resolve_server(self.servers, t, config_path) for t in targets] if targets
                         else [s[0] for s in self.servers])
        self.tool = ToolSession([settings.tool(SDK3_TOOL), config_path], timeout=settings.timeout, secrets=secrets,
                                name=SDK3_TOOL)
        self.banner = _first_prompt(self.tool, match_prompt)
        self.asked_question = False
        self._users = None
        self._key_lists = {}
        if "unencrypted mode" in self.banner or "Enabling E2E failed" in self.banner:
            self.warning = ("cloudhsm_mgmt_util could not set up end-to-end encryption (is customerCA.crt in place?); "
                            "it runs in limited commands mode.")
        else:
            self.warning = None

    def server_name(self, index):
        for server in self.servers:
            if server[0] == index:
                return "server %d (%s)" % (server[0], server[1])
        return "server %s" % index

    def resolve(self, wanted):
        return resolve_server(self.servers, wanted, self.config_path)

    def targets(self):
        return list(self._targets)

    def close(self):
        self.tool.close(quit_command="quit")

    def command(self, line, password=None):
        """Run one CMU command to the next main prompt, answering its questions; returns the output."""
        if password:
            self.tool.add_secret(password)
        self.tool.send(line)
        self.asked_question = False
        output = []
        while True:
            text, prompt = self.tool.read_until(match_prompt)
            output.append(text)
            self.asked_question = self.asked_question or is_question(prompt)
            if prompt.endswith("(y/n)?"):
                self.tool.send("y")
            elif prompt == "(R/I/A):":
                self.tool.send("A")
            elif prompt == "(R/B/I):":
                self.tool.send("I")
            elif prompt.lower().endswith("password:"):
                if not password:
                    self.tool.send("")
                    raise HsmError("cloudhsm_mgmt_util asked for a password for %r, and none applies." % line.split()[0])
                self.tool.send(password)
            else:
                text = "".join(output).rstrip()
                return text[:-len(prompt)] if text.endswith(prompt) else text

    def _enter_server(self, index):
        text = self.command("server %d" % index)
        failure = command_failure(text)
        if failure:
            raise HsmError("cannot enter server mode on %s: %s" % (self.server_name(index), failure))

    def _in_server(self, index, lines_and_passwords):
        """Enter server mode on ``index``, run each (line, password), leave. Returns the outputs."""
        self._enter_server(index)
        outputs = []
        try:
            for line, password in lines_and_passwords:
                outputs.append(self.command(line, password))
        finally:
            self.command("exit")
        return outputs

    def _pipelined_in_server(self, index, lines):
        """Enter server mode on ``index`` and run commands that take no password, queued PIPELINE_SIZE at a time.

        Whether syncKey and syncUser ask a question is not documented. The first line runs alone, answering any
        question; only when it asked none are the others queued, so that no queued line can be read as an answer.
        """
        if not lines:
            return []
        self._enter_server(index)
        outputs = [self.command(lines[0])]
        if self.asked_question:
            try:
                outputs.extend(self.command(line) for line in lines[1:])
            finally:
                self.command("exit")
            return outputs
        for start in range(1, len(lines), PIPELINE_SIZE):
            chunk = lines[start:start + PIPELINE_SIZE]
            self.tool.send("\n".join(chunk))
            for line in chunk:
                text, prompt = self.tool.read_until(match_next_prompt)
                if is_question(prompt):
                    # The lines queued behind this one may be read as answers: stop, and let a rerun compare again.
                    self.tool.close()
                    raise HsmError(
                        "cloudhsm_mgmt_util asked %r after %r, which asked nothing the first time; the commands queued "
                        "behind it may have been read as answers, so this run stops. Rerun: the clusters are "
                        "compared again and only what is still missing is copied." % (prompt, line.split()[0]))
                text = text.rstrip()
                outputs.append(text[:-len(prompt)] if text.endswith(prompt) else text)
        self.command("exit")
        return outputs

    def login(self, username, role, password, targets=None):
        user_type = ROLE_TO_SDK3_TYPE.get(role, role)
        text = self.command("loginHSM %s %s -hpswd" % (user_type, username), password)
        results = parse_server_results(text, "loginHSM")
        failed = [self.server_name(i) for i, ok in sorted(results.items()) if not ok]
        if failed or not results or command_failure(text):
            if results and any(results.values()):
                self.command("logoutHSM")
            raise LoginFailed("loginHSM %s %s: %s" % (user_type, username, login_failed_message(
                username, role, ", ".join(failed) or "the servers", command_failure(text) or "no success line")))
        self._users = None
        self._key_lists = {}

    def _all_users(self):
        if self._users is None:
            text = self.command("listUsers")
            self._users = parse_list_users(text)
        return self._users

    def read_view(self, target, keys=False, key_filter=None, key_details=False):
        """``key_details``: also read each key's attributes and quorum value (getAttribute, getKeyInfo: two
        commands a key; findAllKeys alone gives handles, owners and shares)."""
        index = self.resolve(target)
        users = self._all_users().get(index)
        if users is None:
            raise HsmError("listUsers printed nothing for %s." % self.server_name(index))
        view = ClusterView(self.server_name(index), users)
        if keys:
            view.keys = self._keys_on(index, users)
            if key_details:
                view.keys = self._with_details(index, view.keys)
        return view

    def _with_details(self, index, keys):
        """The keys with class, type, label, id, check value, pair link, token flag, drift attributes and quorum
        values read on server ``index`` (one server-mode session, commands queued)."""
        lines = []
        for key in keys:
            lines.extend(["getAttribute %s 512" % key.reference, "getKeyInfo -k %s" % key.reference])
        outputs = self._pipelined_in_server(index, lines)
        detailed = []
        for position, key in enumerate(keys):
            attributes, info = outputs[2 * position], outputs[2 * position + 1]
            read = key_from_attributes(key.reference, parse_attribute_file(attributes), owner=key.owner)
            read.shared = key.shared
            quorum = parse_key_info(info)[2]
            read.quorum = (quorum, quorum)
            detailed.append(read)
        return [key for key in detailed if key.token is not False]

    def _keys_on(self, index, users):
        """Keys of the crypto users of server ``index``, owner and shares from findAllKeys marks."""
        by_handle = {}
        for user in users:
            if user.role != ROLE_CRYPTO_USER:
                continue
            if user.user_id not in self._key_lists:
                text = self.command("findAllKeys %d 0" % user.user_id)
                self._key_lists[user.user_id] = parse_find_all_keys(text)
            for handle, mark in self._key_lists[user.user_id].get(index, []):
                entry = by_handle.setdefault(handle, {"owner": None, "shared": []})
                if mark == "o":
                    entry["owner"] = user.name
                elif mark == "s":
                    entry["shared"].append(user.name)
        return [Key(str(handle), owner=entry["owner"], shared=entry["shared"])
                for handle, entry in sorted(by_handle.items()) if entry["owner"]]

    def activate(self, target, password, default_password="password"):
        index = self.resolve(target)
        view = self.read_view(index)
        preco = [user for user in view.users if user.role == "unactivated-admin"]
        if not preco:
            return OpResult(False, "%s has no PRECO user: it is already activated." % self.server_name(index),
                            "already_active")
        name = preco[0].name
        outputs = self._in_server(index, [
            ("loginHSM PRECO %s -hpswd" % name, default_password),
            ("changePswd PRECO %s -hpswd" % name, password),
            ("logoutHSM", None),
        ])
        failure = command_failure(outputs[0]) or command_failure(outputs[1])
        self._users = None
        if failure:
            return OpResult(False, failure)
        return OpResult(True, "activated %s: the PRECO user %s is now a crypto officer" % (self.server_name(index), name))

    def _mutate(self, target, line, password=None, command=None):
        index = self.resolve(target)
        text = self._in_server(index, [(line, password)])[0]
        self._users = None
        failure = command_failure(text)
        if failure:
            return OpResult(False, failure, text)
        return OpResult(True, text.strip().splitlines()[-1] if text.strip() else "", text)

    def create_user(self, target, spec, password):
        return self._mutate(target, "createUser %s %s -hpswd" % (ROLE_TO_SDK3_TYPE[spec.role], spec.name), password)

    def change_password(self, target, spec, password):
        return self._mutate(target, "changePswd %s %s -hpswd" % (ROLE_TO_SDK3_TYPE[spec.role], spec.name), password)

    def delete_user(self, target, user):
        return self._mutate(target, "deleteUser %s %s" % (ROLE_TO_SDK3_TYPE.get(user.role, "CU"), user.name))

    def replicate_users(self, users, source, destination):
        destination_index = self.resolve(destination)
        outputs = self._pipelined_in_server(self.resolve(source), [
            "syncUser %d %d" % (user.user_id, destination_index) for user in users])
        self._users = None
        return [self._sync_result(text, "syncUser") for text in outputs]

    def replicate_keys(self, keys, source, destination):
        destination_index = self.resolve(destination)
        outputs = self._pipelined_in_server(self.resolve(source), [
            "syncKey %s %d" % (key.reference, destination_index) for key in keys])
        self._key_lists = {}
        return [self._sync_result(text, "syncKey") for text in outputs]

    @staticmethod
    def _sync_result(text, command):
        if re.search(r"%s success" % command, text):
            return OpResult(True, "%s success" % command, text)
        return OpResult(False, command_failure(text) or text.strip() or "%s printed no success line" % command, text)


class KmuSession(object):
    """key_mgmt_util: the keys of the one cluster the client daemon serves; needs a crypto-user login."""

    def __init__(self, settings, secrets=()):
        self.settings = settings
        self.secrets = list(secrets)
        self.tool = ToolSession([settings.tool(SDK3_KEY_TOOL)], timeout=settings.timeout, secrets=secrets,
                                name=SDK3_KEY_TOOL)
        self.banner = _first_prompt(self.tool, match_kmu_prompt)
        self._cmu = None  # cloudhsm_mgmt_util, opened for shareKey only
        self._user_ids = None
        self._login = None

    def command(self, line, password=None):
        if password:
            self.tool.add_secret(password)
        self.tool.send(line)
        output = []
        while True:
            text, prompt = self.tool.read_until(match_kmu_prompt)
            output.append(text)
            if prompt.lower().endswith("password:"):
                self.tool.send(password or "")
            else:
                return "".join(output)

    def close(self):
        try:
            if self._cmu is not None:
                self._cmu.close()
        finally:
            self.tool.close(quit_command="exit")

    def targets(self):
        return ["daemon"]

    def login(self, username, role, password, targets=None):
        if role != "crypto-user":
            raise HsmError("key_mgmt_util manages keys as a crypto user; set role=crypto-user (got %s)." % role)
        text = self.command("loginHSM -u CU -s %s -hpswd" % username, password)
        ok, message = parse_kmu_status(text)[:2]
        if not ok:
            raise LoginFailed("key_mgmt_util loginHSM: %s" % login_failed_message(
                username, role, "the cluster of the client daemon", message))
        self._login = (username, password)  # for a cloudhsm_mgmt_util session, should shareKey be needed

    def user_ids(self):
        if self._user_ids is None:
            self._user_ids = parse_kmu_users(self.command("listUsers"))
        return self._user_ids

    def find_keys(self, target, label, key_id=None, key_class="secret-key"):
        line = "findKey -c %d -l %s" % (KMU_CLASS_CODES[key_class], label)
        if key_id:
            line += " -id %s" % key_id
        text = self.command(line)
        ok, message = parse_kmu_status(text)[:2]
        if not ok:
            raise HsmError("findKey -l %s failed: %s" % (label, message))
        return [self.describe_key(handle) for handle in parse_find_key(text)]

    def describe_key(self, handle):
        work_dir = tempfile.mkdtemp(prefix="hsm-attr-")
        path = os.path.join(work_dir, "attributes")
        try:
            text = self.command("getAttribute -o %d -a 512 -out %s" % (handle, path))
            ok, message = parse_kmu_status(text)[:2]
            if not os.path.exists(path):
                raise HsmError("getAttribute -o %d wrote no file: %s" % (handle, message))
            with open(path) as stream:
                key = key_from_attributes(str(handle), parse_attribute_file(stream.read()))
        finally:
            if os.path.exists(path):
                os.remove(path)
            os.rmdir(work_dir)
        return self._with_owners(key)

    def _with_owners(self, key):
        """The key with its owner, shared users and quorum value from getKeyInfo (getAttribute has none)."""
        text = self.command("getKeyInfo -k %s" % key.reference)
        owner_id, shared_ids, quorum = parse_key_info(text)
        if owner_id is None:
            return key
        names = dict((user_id, name) for name, user_id in self.user_ids().items())
        key.owner = names.get(owner_id, str(owner_id))
        key.shared = tuple(sorted(names.get(i, str(i)) for i in shared_ids))
        key.quorum = (quorum, quorum)  # getKeyInfo prints one number for use and manage
        return key

    def generate_key(self, target, spec):
        line = "genSymKey -t %d -s %d -l %s" % (KMU_KEY_TYPES[spec.get("key_type", "aes")], spec["length_bytes"],
                                                spec["label"])
        if spec.get("key_id"):
            line += " -id %s" % spec["key_id"]
        if not spec.get("extractable"):
            line += " -nex"
        if spec.get("share_with"):
            ids = self.user_ids()
            unknown = [name for name in spec["share_with"] if name.lower() not in ids]
            if unknown:
                raise HsmError("cannot share key %r with %s: no such user on the cluster." % (
                    spec["label"], ", ".join(unknown)))
            line += " -u %s" % ",".join(str(ids[name.lower()]) for name in spec["share_with"])
        text = self.command(line)
        ok, message = parse_kmu_status(text)[:2]
        handle = parse_gen_sym_key(text)
        if not ok or handle is None:
            raise HsmError("genSymKey for label %r failed: %s" % (spec["label"], message))
        return self.describe_key(handle)

    def _share_ids(self, names, label):
        ids = self.user_ids()
        unknown = [name for name in names if name.lower() not in ids]
        if unknown:
            raise HsmError("cannot share key %r with %s: no such user on the cluster." % (label, ", ".join(unknown)))
        return [ids[name.lower()] for name in names]

    def generate_key_pair(self, target, spec):
        """genRSAKeyPair / genECCKeyPair: one label (and id) for both keys. Returns (public Key, private Key)."""
        if spec.get("public_label") not in (None, spec["label"]):
            raise HsmError("key_mgmt_util gives both keys of a pair the same label; public_label %r differs from "
                           "label %r. Leave public_label out with SDK 3." % (spec["public_label"], spec["label"]))
        if spec["key_type"] == "rsa":
            exponent = spec.get("public_exponent") or 65537
            line = "genRSAKeyPair -m %d -e %d -l %s" % (spec["modulus_bits"], exponent, spec["label"])
        else:
            line = "genECCKeyPair -i %d -l %s" % (KMU_CURVE_IDS[spec["curve"]], spec["label"])
        if spec.get("key_id"):
            line += " -id %s" % spec["key_id"]
        if not spec.get("extractable"):
            line += " -nex"
        if spec.get("share_with"):
            line += " -u %s" % ",".join(str(i) for i in self._share_ids(spec["share_with"], spec["label"]))
        text = self.command(line)
        ok, message = parse_kmu_status(text)[:2]
        handles = re.search(r"public key handle:\s*(\d+)\s+private key handle:\s*(\d+)", text)
        if not ok or handles is None:
            raise HsmError("%s for label %r failed: %s" % (line.split()[0], spec["label"], message))
        return self.describe_key(int(handles.group(1))), self.describe_key(int(handles.group(2)))

    def share_key(self, target, key, username, share=True):
        """shareKey is a cloudhsm_mgmt_util command: run it there, logged in as the same crypto user."""
        user_id = self._share_ids([username], key.label or key.reference)[0]
        if self._cmu is None:
            driver = Sdk3Driver(self.settings)
            self._cmu = Sdk3Session(self.settings, driver.config_path(), secrets=self.secrets)
            self._cmu.login(self._login[0], "crypto-user", self._login[1])
        text = self._cmu.command("shareKey %s %d %d" % (key.reference, user_id, 1 if share else 0))
        results = parse_server_results(text, "shareKey")
        failure = command_failure(text)
        if failure or not results or not all(results.values()):
            return OpResult(False, failure or "shareKey printed no success line", text)
        return OpResult(True, "shareKey success", text)

    def delete_key(self, target, key):
        text = self.command("deleteKey -k %s" % key.reference)
        ok, message = parse_kmu_status(text)[:2]
        return OpResult(ok, message, text)


class Sdk3ClientSession(HsmSession):
    """The one SDK 3 session: cloudhsm_mgmt_util (users, key listings, syncUser/syncKey, activation) and
    key_mgmt_util (key generation, search, deletion; the cluster the client daemon serves) behind the one interface,
    each tool started when first needed and logged in with the session's credentials."""

    # cloudhsm_mgmt_util shows key handles, owners and shares only (attributes at two commands a key, on one server),
    # and only key_mgmt_util deletes keys, on the cluster of the client daemon.
    selects_keys_by_attribute = False
    deletes_keys_by_cluster = False
    # setAttribute's arguments and answers are not documented well enough to change keys on a clone safely.
    changes_key_attributes = False
    manages_mtls = False
    keys_by_cluster = False

    def __init__(self, settings, config_path, targets=None, secrets=(), keys_first=False):
        self.settings = settings
        self.config_path = config_path
        self.secrets = list(secrets)
        self._given = [target for target in targets or [] if target is not None]
        self._servers = None
        self._cluster_map = None
        self._cmu = None
        self._kmu = None
        self._login = None
        self.warning = None
        if not keys_first:
            self._cmu_session()

    # Targets -----------------------------------------------------------------------------------------------
    def _resolve_all(self):
        if self._servers is None:
            self._servers = read_servers(self.config_path)
            self._cluster_map = read_cluster_map(self.config_path)
        return self._servers

    def resolve(self, target):
        """The server index of ``target`` (cluster id, index or ENI IP)."""
        return resolve_target(self._resolve_all(), self._cluster_map, target, self.config_path)

    def targets(self):
        if self._given:
            return list(self._given)
        if self._cmu is None and self._servers is None:
            return [None]  # key_mgmt_util only: the cluster of the client daemon
        names = dict((hostname, cluster_id) for cluster_id, hostname in (self._cluster_map or {}).items())
        return [names.get(hostname, index) for index, hostname, unused_name in self._resolve_all()]

    def same_cluster(self, first, second):
        return str(first) == str(second) or self.resolve(first) == self.resolve(second)

    def _index(self, target):
        return self.resolve(target if target is not None else self.targets()[0])

    # Tools -------------------------------------------------------------------------------------------------
    def _cmu_session(self):
        if self._cmu is None:
            self._resolve_all()
            wanted = [self.resolve(target) for target in self._given] or None
            self._cmu = Sdk3Session(self.settings, self.config_path, wanted, self.secrets)
            self.warning = self._cmu.warning
            if self._login is not None:
                self._cmu.login(*self._login)
        return self._cmu

    def _kmu_session(self):
        if self._kmu is None:
            self._kmu = KmuSession(self.settings, self.secrets)
            if self._login is not None:
                self._kmu.login(*self._login)
        return self._kmu

    def login(self, username, role, password, targets=None):
        self._login = (username, role, password)
        if password:
            self.secrets.append(password)
        if self._cmu is not None:
            self._cmu.login(username, role, password)
        else:
            self._kmu_session()

    def close(self):
        try:
            if self._kmu is not None:
                self._kmu.close()
        finally:
            if self._cmu is not None:
                self._cmu.close()

    # cloudhsm_mgmt_util ------------------------------------------------------------------------------------
    def read_view(self, target, keys=False, key_filter=None, key_details=False):
        view = self._cmu_session().read_view(self._index(target), keys=keys, key_filter=key_filter,
                                             key_details=key_details)
        if target is not None and str(target) in (self._cluster_map or {}):
            view.name = str(target)
        return view

    def activate(self, target, password, default_password=None):
        return self._cmu_session().activate(self._index(target), password,
                                            default_password=default_password or "password")

    def create_user(self, target, spec, password):
        return self._cmu_session().create_user(self._index(target), spec, password)

    def change_password(self, target, spec, password):
        return self._cmu_session().change_password(self._index(target), spec, password)

    def delete_user(self, target, user):
        return self._cmu_session().delete_user(self._index(target), user)

    def replicate_users(self, users, source, destination):
        return self._cmu_session().replicate_users(users, self._index(source), self._index(destination))

    def replicate_keys(self, keys, source, destination):
        return self._cmu_session().replicate_keys(keys, self._index(source), self._index(destination))

    # key_mgmt_util -----------------------------------------------------------------------------------------
    def generate_key(self, target, spec):
        return self._kmu_session().generate_key(target, spec)

    def generate_key_pair(self, target, spec):
        return self._kmu_session().generate_key_pair(target, spec)

    def find_keys(self, target, label, key_id=None, key_class="secret-key"):
        return self._kmu_session().find_keys(target, label, key_id=key_id, key_class=key_class)

    def share_key(self, target, key, username, share=True):
        return self._kmu_session().share_key(target, key, username, share=share)

    def delete_key(self, target, key):
        return self._kmu_session().delete_key(target, key)

    def set_key_attribute(self, target, key, name, value):
        raise HsmError("changing a key's %s needs SDK 5: the cloudhsm_mgmt_util (SDK 3) setAttribute command's "
                       "arguments and answers are not documented well enough to change keys safely; change it "
                       "by hand as the key's owner" % name)

    # Mutual TLS exists only for hsm2m.medium clusters, which Client SDK 3 cannot reach.
    def list_trust_anchors(self, target):
        raise HsmError(MTLS_SDK3_MESSAGE)

    def get_mtls_enforcement(self, target):
        raise HsmError(MTLS_SDK3_MESSAGE)

    def register_trust_anchor(self, target, path):
        raise HsmError(MTLS_SDK3_MESSAGE)

    def deregister_trust_anchor(self, target, reference):
        raise HsmError(MTLS_SDK3_MESSAGE)

    def set_mtls_enforcement(self, target, level):
        raise HsmError(MTLS_SDK3_MESSAGE)
