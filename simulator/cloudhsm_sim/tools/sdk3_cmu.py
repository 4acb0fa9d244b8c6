"""Emulated ``cloudhsm_mgmt_util`` (Client SDK 3 CMU): ``cloudhsm_mgmt_util <config>``, commands on stdin.

Each ``servers[]`` entry of the config is one HSM (server N in file order); servers may belong to different
clusters (SyncClusters.cfg). Global commands run on every server in turn; ``server N`` limits them to one.
"""

import hashlib
import os
import shlex
import sys

from . import common, unconfirmed
from .sdk3_kmu import ATTRIBUTES as KMU_ATTRIBUTES
from .sdk3_kmu import Kmu
from .common import HsmRefused, ToolError

PROMPT = "aws-cloudhsm> "
SERVER_PROMPT = "server {n}> "
PORT = 2225
CAUTION = (
    "*************************CAUTION********************************\n"
    "This is a CRITICAL operation, should be done on all nodes in the\n"
    "cluster. AWS does NOT synchronize these changes automatically with the\n"
    "nodes on which this operation is not executed or failed, please\n"
    "ensure this operation is executed on all nodes in the cluster.\n"
    "****************************************************************\n"
)
# changePswd's banner as a real run printed it (no blank line before it, trailing blanks on three lines).
CAUTION_CHANGE_PSWD = (
    "*************************CAUTION********************************\n"
    "This is a CRITICAL operation, should be done on all nodes in the\n"
    "cluster. AWS does NOT synchronize these changes automatically with the \n"
    "nodes on which this operation is not executed or failed, please \n"
    "ensure this operation is executed on all nodes in the cluster.  \n"
    "****************************************************************\n"
)
USER_TYPES = ("CO", "CU", "AU", "PCO", "PRECO")
LIST_ROW = "%10d%14s%-16s%-34s%9s%16d%17s"
LIST_HEADER = (
    "    User Id             User Type       User Name                          MofnPubKey"
    "    LoginFailureCnt         2FA"
)
INFO_HEADER = (
    "Id      Name                    Hostname         Port   State           Partition               LoginState"
)
COMMANDS = (
    "loginHSM",
    "logoutHSM",
    "listUsers",
    "createUser",
    "deleteUser",
    "changePswd",
    "info",
    "server",
    "exit",
    "findAllKeys",
    "getKeyInfo",
    "getAttribute",
    "shareKey",
    "registerQuorumPubKey",
    "setMValue",
    "syncKey",
    "syncUser",
    "quit",
    "enable_e2e",
    "help",
)
HELP = """\
Help Commands Available:

Syntax: <command> -h


   Command               Description
   =======               ===========

   exit                   Exits this application
   help                   Displays this information

        Configuration and Admin Commands

   getHSMInfo             Gets the HSM Information
   getPartitionInfo       Gets the Partition Information
   listUsers              Lists all users of a partition
   loginHSM               Login to the HSM
   logoutHSM              Logout from the HSM

        User Management Commands

   createUser             Creates a user
   deleteUser             Deletes a user
   changePswd             Changes a user's password
   syncUser               Copies a user to another HSM
   registerQuorumPubKey   Registers a quorum public key for a CO
   setMValue              Sets the quorum minimum value of a service

        Key Management Commands

   findAllKeys            Find all keys of a user
   getKeyInfo             Get key info
   getAttribute           Gets the attributes of a key
   shareKey               Shares or unshares a key with a crypto user
   syncKey                Copies a key to another HSM

        Other Commands

   info                   Gets server information
   server                 Enters or leaves server mode
   enable_e2e             Enables end-to-end encryption
   quit                   Quits this application
"""


class Server:
    def __init__(self, number, hostname):
        self.number = number
        self.hostname = hostname
        self.connected = False
        self.cluster_id = None
        self.hsm_id = None
        self.session = None
        self.login = None  # (name, type) of the logged in user

    @property
    def label(self):
        return "%d(%s)" % (self.number, self.hostname)


class Cmu:
    def __init__(self, root, config_path, stdin=None, out=None):
        self.root = root
        self.out = out or sys.stdout
        self.input = common.Input(stdin, self.out)
        self.config = common.read_json(config_path)
        entries = [s for s in self.config.get("servers", []) if s.get("enable", "yes") == "yes"]
        self.entries = entries
        self.servers = [Server(n, s["hostname"]) for n, s in enumerate(entries)]
        self.client = common.HsmClient(root, common.SDK3_VERSION)
        self.current = None  # server mode

    def write(self, text):
        self.out.write(text)
        self.out.flush()

    # ---------------------------------------------------------------------------------------------- startup
    def connect(self):
        if any(e.get("e2e_encryption", {}).get("enable") == "yes" for e in self.entries):
            self.write("Ignoring E2E enable flag in the configuration file\n")
        self.write("\nConnecting to the server(s), it may take time\ndepending on the server(s) load, please wait...\n")
        answers = {h["ip"]: h for h in self.client.call("connect", hsms=[s.hostname for s in self.servers])["hsms"]}
        ca_path = self.ca_path()
        ca_missing = not os.path.exists(ca_path)
        for server in self.servers:
            self.write("\nConnecting to server '{0}': hostname '{0}', port {1}...\n".format(server.hostname, PORT))
            answer = answers.get(server.hostname, {})
            if not answer.get("reachable"):
                self.write(unconfirmed.CMU_CONNECT_FAILED.format(host=server.hostname) + "\n")
                continue
            server.connected = True
            server.cluster_id, server.hsm_id = answer["cluster_id"], answer["hsm_id"]
            self.write("Connected to server '{0}': hostname '{0}', port {1}.\n".format(server.hostname, PORT))
            if ca_missing:
                self.write(
                    "%s,\npartition owner certificate not exist at given path\n"
                    "Server %s is in unencrypted mode now...\nrunning in limited commands mode\n"
                    % (ca_path, server.label)
                )
            else:
                self.write("E2E enabled on server %s\n" % server.label)
        if ca_missing and self.servers:
            self.write(
                "Error: partition owner certificate doesn't exist at given path.\nFailed to create client ssl "
                "ctx\nE2E Session failed: E2E setup failed\nEnabling E2E failed\n"
            )

    def ca_path(self):
        for entry in self.entries:
            path = entry.get("e2e_encryption", {}).get("owner_cert_path")
            if path:
                return path
        return common.etc(self.root, "customerCA.crt")

    # ---------------------------------------------------------------------------------------------- helpers
    def targets(self):
        return [self.current] if self.current is not None else self.servers

    def call(self, server, op, **args):
        if not server.connected:
            raise HsmRefused("hsm_unreachable", "server is not connected")
        return self.client.call(op, hsm=server.hostname, **args)

    @staticmethod
    def error(refused):
        return unconfirmed.CMU_ERRORS.get(refused.code, unconfirmed.CMU_DEFAULT_ERROR)

    def caution(self, text="\n" + CAUTION):
        self.write(text + "\nDo you want to continue(y/n)?")
        while True:
            answer = self.input.prompt("")
            if answer is None:
                return False
            if answer.strip() in ("y", "Y"):
                return True
            if answer.strip() in ("n", "N"):
                return False
            self.write("Invalid option, please type 'y' or 'n'\n\nDo you want to continue(y/n)?")

    def ask_retry(self, command):
        """The per-node failure prompt; returns "R", "I" or "A" (B, roll back, is treated as abort)."""
        prompt = unconfirmed.CMU_RETRY_PROMPTS[command]
        choices = prompt[prompt.index("(") + 1 : prompt.index(")")].split("/")
        self.write("\n" + prompt)
        while True:
            answer = self.input.prompt("")
            if answer is None:
                return "A"
            answer = answer.strip().upper()
            if answer in choices:
                return "A" if answer == "B" else answer
            self.write(prompt)

    def mutate_each(self, command, op, args):
        """Run a user-changing command on every target server with the R/I/A handling; one op id for all."""
        op_id = common.new_op_id()
        for server in self.targets():
            while True:
                try:
                    self.call(server, op, session=server.session, op_id=op_id, **args)
                except HsmRefused as refused:
                    self.write("%s failed: %s\n" % (command, self.error(refused)))
                    self.write(
                        unconfirmed.CMU_FAILED_ON_SERVER[command].format(n=server.number, host=server.hostname) + "\n"
                    )
                    answer = self.ask_retry(command)
                    if answer == "R":
                        continue
                    if answer == "A":
                        return
                    break
                else:
                    if unconfirmed.CMU_PER_SERVER_SUCCESS[command]:
                        self.write("%s success on server %s\n" % (command, server.label))
                    break

    def password_arg(self, value, new):
        if value != "-hpswd":
            return value
        if not new:
            return self.input.secret("Enter password:")
        first = self.input.secret("Enter new password: ")
        second = self.input.secret("Re-enter new password: ")
        if first != second:
            self.write("Passwords do not match\n")
            return None
        return first

    # ---------------------------------------------------------------------------------------------- commands
    def cmd_loginHSM(self, args):
        if len(args) < 3 or args[0] not in ("CO", "CU", "PRECO", "PCO", "AU"):
            self.write("Usage: loginHSM <user-type> <user-name> <password |-hpswd> [-2fa </path/to/authdata>]\n")
            return
        user_type, name = args[0], args[1]
        password = self.password_arg(args[2], new=False)
        if password is None:
            return
        self.write("\n")
        op_id = common.new_op_id()
        for server in self.targets():
            try:
                result = self.call(
                    server,
                    "login",
                    role="CO" if user_type == "PCO" else user_type,
                    username=name,
                    password=password,
                    op_id=op_id,
                )
            except HsmRefused as refused:
                self.write("loginHSM failed: %s\nloginHSM failed on server %s\n" % (self.error(refused), server.label))
                continue
            if server.session:  # a new login replaces the server's previous one
                self.client.call("logout", session=server.session)
            server.session = result["session"]
            server.login = (result["user"]["name"], result["user"]["role"])
            self.write("loginHSM success on server %s\n" % server.label)
        self.write("\n")

    def cmd_logoutHSM(self, args):
        self.write("\n")
        for server in self.targets():
            if server.session is None or not server.connected:
                self.write(
                    "logoutHSM failed: %s\nlogoutHSM failed on server %s\n"
                    % (unconfirmed.CMU_ERRORS["not_logged_in"], server.label)
                )
                continue
            self.client.call("logout", session=server.session)
            server.session = server.login = None
            self.write("logoutHSM success on server %s\n" % server.label)
        self.write("\n")

    def cmd_listUsers(self, args):
        for server in self.targets():
            try:
                users = self.call(server, "list_users")["users"]
            except HsmRefused as refused:
                self.write(
                    "listUsers failed: %s\nlistUsers failed on server %s\n" % (self.error(refused), server.label)
                )
                continue
            self.write(
                "Users on server %s:\nNumber of users found:%d\n\n%s\n" % (server.label, len(users), LIST_HEADER)
            )
            for user in users:
                self.write(
                    LIST_ROW
                    % (
                        user["id"],
                        "",
                        user["role"],
                        user["name"],
                        "YES" if user["mofn"] else "NO",
                        user["failures"],
                        "YES" if user["two_factor"] else "NO",
                    )
                    + "\n"
                )

    def cmd_createUser(self, args):
        if len(args) < 3 or args[0] not in USER_TYPES:
            self.write("Usage: createUser <user-type> <user-name> <password |-hpswd> [-2fa </path/to/authdata>]\n")
            return
        if not self.caution():
            return
        password = self.password_arg(args[2], new=True)
        if password is None:
            return
        self.write("Creating User %s(%s) on %d nodes\n" % (args[1], args[0], len(self.targets())))
        self.mutate_each("createUser", "create_user", {"role": args[0], "username": args[1], "password": password})

    def cmd_changePswd(self, args):
        if len(args) < 3 or args[0] not in USER_TYPES:
            self.write("Usage: changePswd <user-type> <user-name> <password |-hpswd> [-2fa </path/to/authdata>]\n")
            return
        if not self.caution(CAUTION_CHANGE_PSWD):
            return
        password = self.password_arg(args[2], new=True)
        if password is None:
            return
        self.write("Changing password for %s(%s) on %d nodes\n" % (args[1], args[0], len(self.targets())))
        self.mutate_each(
            "changePswd",
            "change_password",
            {"role": "CO" if args[0] == "PCO" else args[0], "username": args[1], "password": password},
        )

    def cmd_deleteUser(self, args):
        if len(args) < 2 or args[0] not in USER_TYPES:
            self.write("Usage: deleteUser <user-type> <user-name>\n")
            return
        self.write("Deleting user %s(%s) on %d nodes\n" % (args[1], args[0], len(self.targets())))
        self.mutate_each("deleteUser", "delete_user", {"role": args[0], "username": args[1]})

    def cmd_info(self, args):
        if len(args) != 2 or args[0] != "server" or not args[1].isdigit() or int(args[1]) >= len(self.servers):
            self.write("Usage: info server <server ID>\n")
            return
        server = self.servers[int(args[1])]
        state = "Connected" if server.connected else "Disconnected"
        login = ("Logged in as '%s(%s)'" % server.login) if server.login else unconfirmed.CMU_NOT_LOGGED_IN_STATE
        self.write(INFO_HEADER + "\n")
        self.write(
            "%-8d%-24s%-16s%-8d%-16s%-24s%s\n"
            % (server.number, server.hostname, server.hostname, PORT, state, server.hsm_id or "", login)
        )

    def cmd_server(self, args):
        if len(args) != 1 or not args[0].isdigit() or int(args[0]) >= len(self.servers):
            self.write("Usage: server <server ID>\n")
            return
        self.current = self.servers[int(args[0])]
        self.write("Server is in 'E2' mode...\n")

    def cmd_findAllKeys(self, args):
        if len(args) < 2 or not args[0].isdigit() or args[1] not in ("0", "1"):
            self.write("Usage: findAllKeys <user id> <key hash (0/1)> [<output file>]\n")
            return
        for server in self.targets():
            try:
                keys = self.call(server, "find_all_keys", session=server.session, user_id=int(args[0]))["keys"]
            except HsmRefused as refused:
                self.write(
                    "findAllKeys failed: %s\nfindAllKeys failed on server %s\n" % (self.error(refused), server.label)
                )
                continue
            listing = unconfirmed.wrap_handles(
                ["%d(%s)" % (handle, kind) if kind else str(handle) for handle, kind in keys],
                ",",
                unconfirmed.CMU_HANDLES_PER_LINE,
            )
            text = "Number of keys found %d\nnumber of keys matched from start index 0::%d\n%s\n" % (
                len(keys),
                len(keys),
                listing,
            )
            if args[1] == "1":
                digest = hashlib.sha256(listing.encode()).hexdigest()
                text += "Key Hash:\n%s\n" % digest
            if len(args) > 2:
                with open(args[2], "w") as handle:
                    handle.write("Keys on server %s:\n%s" % (server.label, text))
            self.write("Keys on server %s:\n%s" % (server.label, text))
            self.write("findAllKeys success on server %s\n" % server.label)

    def cmd_getKeyInfo(self, args):
        if len(args) < 2 or args[0] != "-k" or not args[1].isdigit():
            self.write("Usage: getKeyInfo -k <key-handle> [<output file>]\n")
            return
        for server in self.targets():
            try:
                key = self.call(server, "get_key", handle=int(args[1]))["key"]
            except HsmRefused as refused:
                self.write(
                    "getKeyInfo failed: %s\ngetKeyInfo failed on server %s\n" % (self.error(refused), server.label)
                )
                continue
            text = "Key Info on server %s:\n        %s Key,\n        Owned by user %d\n" % (
                server.label,
                "Session" if key["session"] else "Token/Flash",
                key["owner"],
            )
            if key["shared"]:
                text += "        also, shared to following %d user(s):\n" % len(key["shared"])
                text += "".join("                 %d\n" % uid for uid in key["shared"])
            if max(key["quorum"]):
                text += "         %d Users need to approve to use/manage this key\n" % max(key["quorum"])
            self.write(text)

    def cmd_getAttribute(self, args):
        # getAttribute <key handle> <attribute id> [<output file>]; 512 = every attribute, as KMU writes them.
        if len(args) < 2 or not args[0].isdigit() or not args[1].isdigit():
            self.write("Usage: getAttribute <key handle> <attribute id> [<output file>]\n")
            return
        for server in self.targets():
            try:
                key = self.call(server, "get_key", handle=int(args[0]))["key"]
                values = Kmu.attribute_values(key)
                wanted = sorted(values) if int(args[1]) == 512 else [int(args[1])]
                if any(a not in values for a in wanted):
                    raise HsmRefused("invalid_attribute", "")
            except HsmRefused as refused:
                self.write(
                    "getAttribute failed: %s\ngetAttribute failed on server %s\n" % (self.error(refused), server.label)
                )
                continue
            text = "".join("%s\n%s\n" % (KMU_ATTRIBUTES[a], values[a]) for a in wanted)
            if len(args) > 2:
                with open(args[2], "w") as handle:
                    handle.write(text)
            self.write("Attribute Value on server %s:\n%s" % (server.label, text))

    def each_server(self, command, op, **args):
        """One op on every target server (one op id), a success or failed line per server."""
        op_id = common.new_op_id()
        for server in self.targets():
            try:
                self.call(server, op, session=server.session, op_id=op_id, **args)
            except HsmRefused as refused:
                self.write(
                    "%s failed: %s\n%s failed on server %s\n" % (command, self.error(refused), command, server.label)
                )
                continue
            self.write("%s success on server %s\n" % (command, server.label))

    def cmd_registerQuorumPubKey(self, args):
        # registerQuorumPubKey CO <user> <token file> <signature file> <public key file>; nothing is verified.
        if len(args) != 5 or args[0] != "CO" or not all(os.path.isfile(path) for path in args[2:]):
            self.write("Usage: registerQuorumPubKey <user-type> <user-name> <token> <signature> <public key>\n")
            return
        self.each_server("registerQuorumPubKey", "register_quorum_key")

    def cmd_setMValue(self, args):
        if len(args) != 2 or args[0] != unconfirmed.CMU_USER_SERVICE or not args[1].isdigit():
            self.write("Usage: setMValue <service number> <M value>\n")
            return
        self.each_server("setMValue", "set_user_quorum", value=int(args[1]))

    def cmd_shareKey(self, args):
        if len(args) != 3 or not args[0].isdigit() or not args[1].isdigit() or args[2] not in ("0", "1"):
            self.write("Usage: shareKey <key handle> <user id> <(share/unshare key?) 1/0>\n")
            return
        if not self.caution():
            return
        op_id = common.new_op_id()
        for server in self.targets():
            try:
                self.call(
                    server,
                    "share_key",
                    session=server.session,
                    handle=int(args[0]),
                    users=[int(args[1])],
                    share=args[2] == "1",
                    op_id=op_id,
                )
            except HsmRefused as refused:
                self.write(
                    "shareKey failed: %s\nshareKey failed on server %s\n" % (self.error(refused), server.label)
                )
                continue
            self.write("shareKey success on server %s\n" % server.label)

    def sync(self, command, op, args, usage, **extra):
        if self.current is None:
            self.write("%s: this command is only available in server mode (server <server ID>)\n" % command)
            return
        if len(args) != 2 or not all(a.isdigit() for a in args) or int(args[1]) >= len(self.servers):
            self.write(usage)
            return
        dest = self.servers[int(args[1])]
        try:
            if not dest.connected:
                raise HsmRefused("hsm_unreachable", "destination not connected")
            extra = {name: int(args[0]) for name in extra}
            self.call(
                self.current,
                op,
                session=self.current.session,
                dest_hsm=dest.hostname,
                dest_session=dest.session,
                **extra
            )
        except HsmRefused as refused:
            self.write(unconfirmed.CMU_SYNC_FAILED.format(cmd=command, error=self.error(refused)) + "\n")
            return
        if command == "syncUser":
            self.write("ExtractMaskedObject: 0x0 !\nInsertMaskedObject: 0x0 !\n")
        self.write("%s success\n" % command)

    def cmd_syncKey(self, args):
        self.sync("syncKey", "sync_key", args, "Usage: syncKey <key handle> <destination hsm>\n", handle=True)

    def cmd_syncUser(self, args):
        self.sync("syncUser", "sync_user", args, "Usage: syncUser <user ID> <server ID>\n", user_id=True)

    def cmd_enable_e2e(self, args):
        for server in self.targets():
            if server.connected:
                self.write("E2E enabled on server %s\n" % server.label)

    def cmd_help(self, args):
        self.write(HELP)

    # ------------------------------------------------------------------------------------------------ loop
    def resolve(self, word):
        if word in COMMANDS:
            return word
        matches = [c for c in COMMANDS if c.startswith(word)]
        return matches[0] if len(matches) == 1 else None

    def loop(self):
        while True:
            prompt = SERVER_PROMPT.format(n=self.current.number) if self.current is not None else PROMPT
            line = self.input.prompt(prompt)
            if line is None:
                return
            try:
                words = shlex.split(line)
            except ValueError:
                words = line.split()
            if not words:
                continue
            command = self.resolve(words[0])
            if command == "exit" and self.current is not None:
                self.current = None
                continue
            if command in ("quit", "exit"):
                return
            if command is None:
                self.write(unconfirmed.CMU_UNKNOWN_COMMAND.format(name=words[0]) + "\n")
                continue
            getattr(self, "cmd_" + command)(words[1:])

    def close(self):
        self.write("disconnecting from servers, please wait...\n")
        for server in self.servers:
            if server.session:
                try:
                    self.client.call("logout", session=server.session)
                except (HsmRefused, ToolError):
                    pass
        self.client.close()


def main(root, argv):
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write("Usage: cloudhsm_mgmt_util <configuration file>\n")
        return 0 if argv else 1
    try:
        cmu = Cmu(root, argv[0])
    except (OSError, ValueError) as error:
        sys.stdout.write("Failed to read the configuration file %s: %s\n" % (argv[0], error))
        return 1
    except ToolError as error:
        sys.stdout.write("%s\n" % error)
        return 1
    try:
        cmu.connect()
        cmu.loop()
    except ToolError as error:
        sys.stdout.write("\n%s\n" % error)
        return 1
    finally:
        cmu.close()
    return 0
