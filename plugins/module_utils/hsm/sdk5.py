# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Client SDK 5 driver: ``cloudhsm-cli interactive``, one process per module run, commands pipelined in batches.

Every command answers with one JSON envelope ``{"error_code": 0|1, "data": ...}``; failures carry the message in
``data``. Interactive mode prints a prompt and may print log lines (e.g. when it cannot write its log file), so the
reader extracts envelopes from the stream and skips everything else. Passwords are passed as ``--password`` inside
the commands written to stdin: they never reach argv of any process.
"""

from __future__ import annotations

import json
import re

from ansible.module_utils.six.moves import shlex_quote

from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.driver import SDK5_TOOL
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.interface import HsmError, LoginFailed, OpResult
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.messages import is_mtls_error, login_failed_message
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.interface import HsmDriver, HsmSession
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.model import (
    DRIFT_ATTRIBUTES, ClusterView, Key, User, pair_link)
from ansible_collections.hsmops.cloudhsm.plugins.module_utils.hsm.process import ToolSession, scrub

PAGE_SIZE = 1000
BATCH_SIZE = 100
ALREADY_ACTIVATED = "already been activated"

# Repairs applied only when an object does not parse: the AWS samples drop a comma (hsm-info) and elide members
# with "…" or "...8 keys later..."; real output never needs them, documented output does.
_MISSING_COMMA = re.compile(r'("|\d|true|false|null|\]|\})(\s*\n\s*)(")')
_ELISION = re.compile(r'\u2026|^\s*\.\.\.[^\n"]*\.\.\.\s*$|(?<=[}\]]),\.', re.M)
_TRAILING_COMMA = re.compile(r',(\s*[\]}])')


def _starts_line(buffer, start):
    """True when only whitespace or a prompt (text ending in '>') precedes ``start`` on its line."""
    line = buffer[buffer.rfind("\n", 0, start) + 1:start].strip()
    return not line or line.endswith(">")


def _decode(text):
    try:
        return json.loads(text)
    except ValueError:
        repaired = _ELISION.sub(lambda m: "," if m.group(0) == ",." else "", text)
        repaired = _TRAILING_COMMA.sub(r"\1", _MISSING_COMMA.sub(r"\1,\2\3", repaired))
        return json.loads(repaired)


_STRUCTURE = re.compile(r'[{}"\\]')


class EnvelopeMatcher(object):
    """Matcher for ToolSession.read_until: the first envelope in the buffer as (end, (error_code, data)).

    One matcher serves one read_until call, whose buffer only grows between calls: it resumes where the previous
    call stopped, so a long answer (a listing of thousands of keys arrives in many pipe reads) costs time in
    proportion to its length, not to its length squared.

    The tool pretty-prints its answers: an object whose first line is a lone '{' ends at the first '}' that starts a
    line (nested objects are indented, and JSON strings hold no newline), so it is found with a string search and
    decoded once. Anything else (an object on one line, or one that does not decode as it stands, e.g. a published
    sample with its indentation stripped or a comma missing) goes to the brace count, outside strings, and the
    repairs in _decode.
    """

    def __init__(self):
        self._next = 0  # where to look for the next candidate object
        self._pretty = None  # [start, where to resume the search for its closing line] of a pretty-printed object
        self._scan = None  # [start, resume index, depth, in_string, skip_until] of an object being brace-counted

    def __call__(self, buffer):
        while True:
            if self._scan is None and self._pretty is None:
                start = buffer.find("{", self._next)
                if start < 0:
                    self._next = len(buffer)
                    return None
                if not _starts_line(buffer, start):
                    self._next = start + 1
                    continue
                line_end = buffer.find("\n", start)
                if buffer[start:line_end if line_end >= 0 else len(buffer)].strip() == "{":
                    self._pretty = [start, start]
                else:
                    self._scan = [start, start, 0, False, start]
            if self._pretty is not None:
                start, search_from = self._pretty
                close = buffer.find("\n}", search_from)
                if close < 0:
                    self._pretty[1] = max(start, len(buffer) - 1)
                    return None
                self._pretty = None
                try:
                    obj = json.loads(buffer[start:close + 2])
                except ValueError:
                    self._scan = [start, start, 0, False, start]
                    continue
                if isinstance(obj, dict) and "error_code" in obj:
                    return close + 2, (obj.get("error_code"), obj.get("data"))
                self._next = close + 2
                continue
            end = self._object_end(buffer)
            if end is None:
                return None
            start, self._scan = self._scan[0], None
            try:
                obj = _decode(buffer[start:end])
            except ValueError:
                self._next = start + 1
                continue
            if isinstance(obj, dict) and "error_code" in obj:
                return end, (obj.get("error_code"), obj.get("data"))
            self._next = end

    def _object_end(self, buffer):
        start, index, depth, in_string, skip_until = self._scan
        for found in _STRUCTURE.finditer(buffer, index):
            position = found.start()
            if position < skip_until:
                continue
            char = found.group()
            if in_string:
                if char == "\\":
                    skip_until = position + 2
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    return position + 1
        self._scan = [start, len(buffer), depth, in_string, skip_until]
        return None


def match_envelope(buffer):
    """The first envelope in a complete ``buffer`` as (end, (error_code, data)), or None."""
    return EnvelopeMatcher()(buffer)


def parse_envelopes(text):
    """Every envelope in ``text`` (concatenated objects, prompts and log lines in between), in order."""
    envelopes = []
    while True:
        found = match_envelope(text)
        if found is None:
            return envelopes
        end, envelope = found
        envelopes.append(envelope)
        text = text[end:]


def _bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def parse_users(data):
    """Users from the data of ``user list``."""
    users = []
    for entry in (data or {}).get("users", []):
        users.append(User(entry.get("username", ""), entry.get("role", ""), locked=_bool(entry.get("locked", False)),
                          coverage=entry.get("cluster-coverage", "full"), quorum=bool(entry.get("quorum"))))
    return users


def decode_key_id(value):
    """Key ids print as text in some outputs and as ``0x<hex>`` of the bytes in others; return the text form."""
    text = value or ""
    if re.match(r"^0x([0-9a-fA-F]{2})*$", text):
        try:
            decoded = bytes.fromhex(text[2:]).decode("utf-8")
        except ValueError:
            return text.lower()
        return decoded if decoded.isprintable() else text.lower()
    return text


def parse_key(entry):
    """A Key from one ``key list`` entry or the ``key`` of generate/replicate output (verbose or not)."""
    attributes = entry.get("attributes") or {}
    info = entry.get("key-info") or {}
    owners = [owner.get("username") for owner in info.get("key-owners", []) if owner.get("username")]
    shared = [user.get("username") for user in info.get("shared-users", []) if user.get("username")]
    key_id = decode_key_id(attributes.get("id"))
    length = attributes.get("key-length-bytes")
    quorum = info.get("key-quorum-values")
    return Key(
        entry.get("key-reference"),
        label=attributes.get("label"),
        key_id=key_id,
        check_value=attributes.get("check-value") if attributes.get("check-value") != "inconsistent" else None,
        key_type=attributes.get("key-type"),
        key_class=attributes.get("class"),
        length=length if isinstance(length, int) else None,
        owner=owners[0] if owners else None,
        shared=shared,
        extractable=_bool(attributes.get("extractable")) if "extractable" in attributes else None,
        coverage=info.get("cluster-coverage"),
        token=_bool(attributes["token"]) if "token" in attributes else None,
        pair=pair_link(attributes.get("key-type"), attributes.get("modulus") or attributes.get("ec-point")),
        quorum=(quorum.get("manage-key-quorum-value", 0), quorum.get("use-key-quorum-value", 0))
        if isinstance(quorum, dict) else None,
        attributes=dict((name, _bool(attributes[name])) for name in DRIFT_ATTRIBUTES if name in attributes),
    )


def parse_key_list(data):
    """(keys, next_token) from the data of ``key list``; next_token is None on the last page."""
    data = data or {}
    return [parse_key(entry) for entry in data.get("matched_keys", [])], data.get("next_token")


def command_line(*words, **options):
    """One CLI command: words, then ``--option=value`` (None values skipped, True = bare flag, lists as separate
    words). The ``=`` form keeps a value that starts with ``-`` (a password may) from being read as an option."""
    parts = [shlex_quote(str(word)) for word in words]
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif isinstance(value, (list, tuple)):
            if value:
                parts.append(flag)
                parts.extend(shlex_quote(str(item)) for item in value)
        else:
            parts.append(shlex_quote("%s=%s" % (flag, value)))
    return " ".join(parts)


def filter_words(filters):
    """``attr.NAME=VALUE`` words for ``--filter`` from a dict (``key-reference`` passes through bare)."""
    words = []
    for name, value in sorted((filters or {}).items()):
        if isinstance(value, bool):
            value = str(value).lower()
        words.append("%s=%s" % (name, value) if name == "key-reference" else "attr.%s=%s" % (name, value))
    return words


class Sdk5Driver(HsmDriver):
    sdk = "5"

    def open(self, targets=None, secrets=(), keys=False):
        """A session on ``targets`` (cluster ids; [None] for a single-cluster config); ``keys`` changes nothing:
        one cloudhsm-cli session does users and keys."""
        return Sdk5Session(self.settings, targets, secrets)


class Sdk5Session(HsmSession):

    def __init__(self, settings, targets, secrets=()):
        self.settings = settings
        # No targets: the one cluster of a single-cluster configuration.
        self._targets = list(targets or []) or [None]
        argv = [settings.tool(SDK5_TOOL), "interactive"]
        if self._targets[0]:
            argv += ["--cluster-id", self._targets[0]]
        self.tool = ToolSession(argv, timeout=settings.timeout, secrets=secrets, name=SDK5_TOOL)

    def targets(self):
        return list(self._targets)

    def same_cluster(self, first, second):
        return str(first or "") == str(second or "")

    def close(self):
        self.tool.close(quit_command="quit")

    def _target_option(self, target):
        # The session starts on the first target; other targets are named per command.
        return target if target and target != self._targets[0] else None

    def run(self, line, secret=None):
        """One command, one envelope: (error_code, data) with data scrubbed when it is a message."""
        if secret:
            self.tool.add_secret(secret)
        self.tool.send(line)
        code, data = self.tool.read_until(EnvelopeMatcher())[1]
        return code, self._clean(data)

    def batch(self, lines):
        """Many commands, pipelined BATCH_SIZE at a time (small enough never to fill the stdin pipe)."""
        results = []
        for start in range(0, len(lines), BATCH_SIZE):
            chunk = lines[start:start + BATCH_SIZE]
            self.tool.send("\n".join(chunk))
            for unused_line in chunk:
                code, data = self.tool.read_until(EnvelopeMatcher())[1]
                results.append((code, self._clean(data)))
        return results

    def _clean(self, data):
        return scrub(data, self.tool.secrets) if isinstance(data, str) else data

    def login(self, username, role, password, targets=None):
        for target in targets or self._targets:
            line = command_line("login", username=username, role=role, password=password,
                                cluster_id=self._target_option(target))
            code, data = self.run(line, secret=password)
            if code != 0 and target and _names_unknown_cluster(_text(data)):
                raise HsmError("%s is not in the client configuration (cloudhsm-cli.cfg): %s. Add it with "
                               "configure-cli add-cluster (the hsmops.cloudhsm.cloudhsm_sync_config role does "
                               "this), then run again." % (target, _text(data)))
            if code != 0:
                raise LoginFailed(login_failed_message(username, role, target or "the cluster", _text(data)))

    def read_view(self, target, keys=False, key_filter=None, key_details=False):
        """``key_details`` changes nothing here: ``key list --verbose`` already shows every attribute."""
        code, data = self.run(command_line("user", "list", cluster_id=self._target_option(target)))
        if code != 0:
            raise HsmError("user list on %s failed: %s%s" % (target or "the cluster", _text(data),
                                                             mtls_hint(_text(data))))
        view = ClusterView(target or "default", parse_users(data))
        if keys:
            view.keys = self.list_keys(target, key_filter)
        return view

    def list_keys(self, target, key_filter=None):
        keys, token = [], None
        while True:
            line = command_line("key", "list", cluster_id=self._target_option(target),
                                filter=filter_words(key_filter), max_items=PAGE_SIZE, starting_token=token,
                                verbose=True)
            code, data = self.run(line)
            if code != 0:
                raise HsmError("key list on %s failed: %s" % (target or "the cluster", _text(data)))
            page, token = parse_key_list(data)
            keys.extend(key for key in page if key.token is not False)  # session keys are never synced
            if not token:
                return keys

    def activate(self, target, password, default_password=None):
        """``default_password`` is not needed: ``cluster activate`` takes the new password only."""
        code, data = self.run(command_line("cluster", "activate", password=password,
                                           cluster_id=self._target_option(target)), secret=password)
        if code == 0:
            return OpResult(True, _text(data))
        if ALREADY_ACTIVATED in _text(data):
            return OpResult(False, _text(data), "already_active")
        return OpResult(False, _text(data))

    def create_user(self, target, spec, password):
        return self._result(self.run(command_line(
            "user", "create", username=spec.name, role=spec.role, password=password,
            cluster_id=self._target_option(target)), secret=password))

    def change_password(self, target, spec, password):
        return self._result(self.run(command_line(
            "user", "change-password", username=spec.name, role=spec.role, password=password,
            cluster_id=self._target_option(target)), secret=password))

    def delete_user(self, target, user):
        return self._result(self.run(command_line(
            "user", "delete", username=user.name, role=user.role, cluster_id=self._target_option(target))))

    def replicate_users(self, users, source, destination):
        lines = [command_line("user", "replicate", username=user.name, role=user.role, source_cluster_id=source,
                              destination_cluster_id=destination) for user in users]
        return [self._result(result) for result in self.batch(lines)]

    def replicate_keys(self, keys, source, destination):
        lines = [command_line("key", "replicate", filter=["key-reference=%s" % key.reference],
                              source_cluster_id=source, destination_cluster_id=destination) for key in keys]
        return [self._result(result) for result in self.batch(lines)]

    def generate_key(self, target, spec):
        """spec: dict(label, key_type 'aes'|'generic-secret', length_bytes, extractable, share_with, key_id)."""
        attributes = ["extractable=%s" % str(bool(spec.get("extractable"))).lower()]
        if spec.get("key_id"):
            attributes.append("id=%s" % spec["key_id"])
        line = command_line("key", "generate-symmetric", spec.get("key_type", "aes"), label=spec["label"],
                            key_length_bytes=spec["length_bytes"], attributes=attributes,
                            share_crypto_users=list(spec.get("share_with") or []),
                            cluster_id=self._target_option(target))
        code, data = self.run(line)
        if code != 0:
            raise HsmError("generating key %r on %s failed: %s%s" % (
                spec["label"], target or "the cluster", _text(data),
                " (to be shared with %s)" % ", ".join(spec["share_with"]) if spec.get("share_with") else ""))
        return parse_key((data or {}).get("key") or {})

    def generate_key_pair(self, target, spec):
        """spec: dict(key_type 'rsa'|'ec', label, public_label, modulus_bits, public_exponent, curve, key_id,
        extractable, share_with). Returns (public Key, private Key)."""
        private_attributes = ["extractable=%s" % str(bool(spec.get("extractable"))).lower()]
        public_attributes = []
        if spec.get("key_id"):
            private_attributes.append("id=%s" % spec["key_id"])
            public_attributes.append("id=%s" % spec["key_id"])
        shape = (dict(public_exponent=spec.get("public_exponent") or 65537, modulus_size_bits=spec["modulus_bits"])
                 if spec["key_type"] == "rsa" else dict(curve=spec["curve"]))
        line = command_line("key", "generate-asymmetric-pair", spec["key_type"],
                            public_label=spec.get("public_label") or spec["label"], private_label=spec["label"],
                            public_attributes=public_attributes, private_attributes=private_attributes,
                            share_crypto_users=list(spec.get("share_with") or []),
                            cluster_id=self._target_option(target), **shape)
        code, data = self.run(line)
        if code != 0:
            raise HsmError("generating the %s key pair %r on %s failed: %s" % (
                spec["key_type"], spec["label"], target or "the cluster", _text(data)))
        data = data or {}
        return parse_key(data.get("public_key") or {}), parse_key(data.get("private_key") or {})

    def share_key(self, target, key, username, share=True):
        """Share ``key`` with the crypto user ``username`` (or stop sharing it)."""
        return self._result(self.run(command_line(
            "key", "share" if share else "unshare", filter=["key-reference=%s" % key.reference], username=username,
            role="crypto-user", cluster_id=self._target_option(target))))

    def set_key_attribute(self, target, key, name, value):
        """key set-attribute: one attribute of ``key`` (a flag as true/false); only the key's owner may."""
        if isinstance(value, bool):
            value = str(value).lower()
        return self._result(self.run(command_line(
            "key", "set-attribute", filter=["key-reference=%s" % key.reference], name=name, value=value,
            cluster_id=self._target_option(target))))

    def find_keys(self, target, label, key_id=None, key_class="secret-key"):
        """Keys of class ``key_class`` (any with None) labelled ``label`` (and with id ``key_id`` when given) that
        the login sees."""
        keys = self.list_keys(target, {"label": label})
        return [key for key in keys if key.label == label and (key_id is None or (key.key_id or "") == key_id)
                and (key_class is None or key.key_class in (key_class, None))]

    def delete_key(self, target, key):
        return self._result(self.run(command_line(
            "key", "delete", filter=["key-reference=%s" % key.reference], cluster_id=self._target_option(target))))

    # Mutual TLS (hsm2m.medium): trust anchors and the enforcement level.
    def list_trust_anchors(self, target):
        """[{reference, certificate}] registered on ``target`` (no login needed)."""
        code, data = self.run(command_line("cluster", "mtls", "list-trust-anchors",
                                           cluster_id=self._target_option(target)))
        if code != 0:
            raise HsmError("cluster mtls list-trust-anchors on %s failed: %s%s" % (
                target or "the cluster", _text(data), mtls_hint(_text(data))))
        return parse_trust_anchors(data)

    def get_mtls_enforcement(self, target):
        """The enforcement level of ``target`` ('none' or 'client-and-server'); needs an admin or crypto-user login."""
        code, data = self.run(command_line("cluster", "mtls", "get-enforcement", cluster_id=self._target_option(target)))
        if code != 0:
            raise HsmError("cluster mtls get-enforcement on %s failed: %s" % (target or "the cluster", _text(data)))
        return (data or {}).get("mtls-enforcement-level")

    def register_trust_anchor(self, target, path):
        """Register the PEM certificate in the file ``path`` on the host (the CLI reads a file)."""
        return self._result(self.run(command_line("cluster", "mtls", "register-trust-anchor", path=path,
                                                  cluster_id=self._target_option(target))))

    def deregister_trust_anchor(self, target, reference):
        return self._result(self.run(command_line("cluster", "mtls", "deregister-trust-anchor",
                                                  certificate_reference=reference,
                                                  cluster_id=self._target_option(target))))

    def set_mtls_enforcement(self, target, level):
        return self._result(self.run(command_line("cluster", "mtls", "set-enforcement", level=level,
                                                  cluster_id=self._target_option(target))))

    @staticmethod
    def _result(envelope):
        code, data = envelope
        return OpResult(code == 0, _text(data), data)


def parse_trust_anchors(data):
    """[{reference, certificate}] from the data of ``cluster mtls list-trust-anchors``."""
    anchors = []
    for entry in (data or {}).get("trust_anchors", []):
        anchors.append({"reference": entry.get("certificate-reference"), "certificate": entry.get("certificate") or ""})
    return anchors


def mtls_hint(message):
    """What to do when a cluster refuses this client for want of an mTLS certificate (wording unconfirmed)."""
    if is_mtls_error(message):
        return (" The cluster enforces mutual TLS: give this client a certificate signed by one of the cluster's "
                "trust anchors (role hsmops.cloudhsm.cloudhsm_client, variable cloudhsm_client_mtls_certificates; "
                "and cloudhsm_sync_config_mtls for the DR set's clusters).")
    return ""


def _names_unknown_cluster(message):
    """True when the tool says a --cluster-id is missing from its configuration (exact wording unconfirmed)."""
    lowered = message.lower()
    return "cluster" in lowered and "config" in lowered and ("not found" in lowered or "unknown" in lowered)


def _text(data):
    if isinstance(data, str):
        return data
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"]
    return json.dumps(data, sort_keys=True) if data is not None else ""
