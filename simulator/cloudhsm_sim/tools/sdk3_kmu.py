"""Emulated ``key_mgmt_util`` (Client SDK 3 KMU): ``Command:`` prompt, commands on stdin or ``singlecmd ...``.

The real KMU talks to the local ``cloudhsm-client`` daemon, which knows every HSM of the cluster named in
``cloudhsm_client.cfg``; the emulation asks the simulator for that cluster directly (the daemon is optional).
"""

import shlex
import sys

from . import common, unconfirmed
from .common import HsmRefused, ToolError

PROMPT = "Command:  "
COMMANDS = (
    "loginHSM",
    "logoutHSM",
    "genSymKey",
    "genRSAKeyPair",
    "genECCKeyPair",
    "findKey",
    "setAttribute",
    "getAttribute",
    "deleteKey",
    "getKeyInfo",
    "listUsers",
    "exit",
    "help",
)
LIST_USERS_HEADER = (
    "        Index       User ID     User Type       User Name           MofnPubKey    LoginFailureCnt         2FA"
)
LIST_USERS_ROW = "        %-5d%13d      %-16s%-26s%-17s%-16d%s"
KEY_TYPES = {16: "generic-secret", 21: "des3", 31: "aes"}
KEY_TYPE_CODES = {"rsa": 0, "ec": 3, "generic-secret": 16, "des3": 21, "aes": 31}
CLASS_CODES = {"secret-key": 4, "public-key": 2, "private-key": 3}
# getAttribute constants (listAttributes) -> attribute name printed in the file.
ATTRIBUTES = {
    0: "OBJ_ATTR_CLASS",
    1: "OBJ_ATTR_TOKEN",
    2: "OBJ_ATTR_PRIVATE",
    3: "OBJ_ATTR_LABEL",
    256: "OBJ_ATTR_KEY_TYPE",
    258: "OBJ_ATTR_ID",
    259: "OBJ_ATTR_SENSITIVE",
    260: "OBJ_ATTR_ENCRYPT",
    261: "OBJ_ATTR_DECRYPT",
    262: "OBJ_ATTR_WRAP",
    263: "OBJ_ATTR_UNWRAP",
    264: "OBJ_ATTR_SIGN",
    266: "OBJ_ATTR_VERIFY",
    353: "OBJ_ATTR_VALUE_LEN",
    354: "OBJ_ATTR_EXTRACTABLE",
    355: "OBJ_ATTR_LOCAL",
    371: "OBJ_ATTR_KCV",
    288: "OBJ_ATTR_MODULUS",
    289: "OBJ_ATTR_MODULUS_BITS",
    290: "OBJ_ATTR_PUBLIC_EXPONENT",
    unconfirmed.KMU_EC_POINT_ATTRIBUTE: "OBJ_ATTR_EC_POINT",
}
# setAttribute: the attributes it may change (label, encrypt, decrypt, wrap, unwrap; reference 2.4 table).
SETTABLE = {3: "label", 260: "encrypt", 261: "decrypt", 262: "wrap", 263: "unwrap"}
BOOLEAN_ATTRIBUTES = {
    1: "token",
    2: "private",
    259: "sensitive",
    260: "encrypt",
    261: "decrypt",
    262: "wrap",
    263: "unwrap",
    264: "sign",
    266: "verify",
    354: "extractable",
    355: "local",
}
USAGE = {
    "loginHSM": "loginHSM -u <user type> { -p | -hpswd } <password> -s <username>\n",
    "genSymKey": "genSymKey -t <key-type> -s <key-size> -l <label> [-id <key-ID>] [-min_srv <minimum-number-of-servers>]"
    " [-m_value <0..8>] [-nex] [-sess] [-timeout <number-of-seconds> ] [-u <user-ids>] [-attest]\n",
    "findKey": "findKey [-c <key class>] [-t <key type>] [-l <key label>] [-id <key ID>] [-sess (0 | 1)]"
    " [-u <user-ids>] [-m <modulus>] [-kcv <key_check_value>]\n",
    "getAttribute": "getAttribute -o <key handle> -a <attribute constant> -out <file>\n",
    "deleteKey": "deleteKey -k <key handle>\n",
    "genRSAKeyPair": "genRSAKeyPair -m <modulus length> -e <public exponent> -l <label> [-id <key ID>]"
    " [-min_srv <minimum number of servers>] [-m_value <0..8>] [-nex] [-sess] [-timeout <number of seconds>]"
    " [-u <user-ids>] [-attest]\n",
    "genECCKeyPair": "genECCKeyPair -i <EC curve id> -l <label> [-id <key ID>] [-min_srv <minimum number of servers>]"
    " [-m_value <0..8>] [-nex] [-sess] [-timeout <number of seconds>] [-u <user-ids>] [-attest]\n",
    "setAttribute": "setAttribute -o <object handle> -a <attribute id> -v <attribute value>\n",
}
SUCCESS = "HSM Return: SUCCESS"


def options(args, flags=()):
    """``-name value`` pairs; names in ``flags`` take no value."""
    result, i = {}, 0
    while i < len(args):
        name = args[i]
        if not name.startswith("-"):
            raise ValueError(name)
        if name in flags:
            result[name] = True
            i += 1
            continue
        if i + 1 >= len(args):
            raise ValueError(name)
        result[name] = args[i + 1]
        i += 2
    return result


class Kmu:
    def __init__(self, root, stdin=None, out=None):
        self.root = root
        self.out = out or sys.stdout
        self.input = common.Input(stdin, self.out)
        config = common.read_json(common.etc(root, "cloudhsm_client.cfg"))
        self.hostname = config.get("server", {}).get("hostname", "")
        self.client = common.HsmClient(root, common.SDK3_VERSION)
        self.session = None
        self.nodes = None

    def write(self, text):
        self.out.write(text)
        self.out.flush()

    def hsm(self):
        """The HSMs of the cluster, as the daemon would know them (node id = position)."""
        if self.nodes is None:
            info = self.client.call("cluster_info", hsm=self.hostname)
            self.nodes = [h["ip"] for h in info["hsms"]] or [self.hostname]
        return self.hostname

    def call(self, op, **args):
        self.hsm()
        return self.client.call(op, hsm=self.hostname, **args)

    @staticmethod
    def failure(refused):
        return unconfirmed.KMU_ERRORS.get(refused.code, unconfirmed.KMU_DEFAULT_ERROR)

    def node_lines(self, indent="", code=0, text=SUCCESS):
        return "".join(
            "%sNode id %d and err state 0x%08x : %s\n" % (indent, n, code, text)
            for n in range(len(self.nodes or [None]))
        )

    # ---------------------------------------------------------------------------------------------- commands
    def cmd_loginHSM(self, args):
        try:
            opts = options(args, flags=("-hpswd",))
            user_type, name = opts["-u"], opts["-s"]
            if "-hpswd" not in opts and "-p" not in opts:
                raise KeyError("-p")
        except (ValueError, KeyError):
            self.write(USAGE["loginHSM"])
            return
        password = opts.get("-p")
        if "-hpswd" in opts:
            password = self.input.secret("Enter password: ")
        try:
            result = self.call("login", role=user_type, username=name, password=password or "")
        except HsmRefused as refused:
            code, text = self.failure(refused)
            self.write(
                "Cfm3LoginHSM returned: 0x%02x : %s\n\nCluster Error Status\n%s"
                % (code, text, self.node_lines(code=code, text=text))
            )
            return
        self.session = result["session"]
        self.write("Cfm3LoginHSM returned: 0x00 : %s\n\nCluster Error Status\n%s" % (SUCCESS, self.node_lines()))

    def cmd_logoutHSM(self, args):
        if self.session is not None:
            self.client.call("logout", session=self.session)
            self.session = None
        self.hsm()
        self.write("Cfm3LogoutHSM returned: 0x00 : %s\nCluster Error Status\n%s" % (SUCCESS, self.node_lines()))

    def cmd_genSymKey(self, args):
        try:
            opts = options(args, flags=("-nex", "-sess", "-attest"))
            key_type = KEY_TYPES[int(opts["-t"])]
            size = int(opts["-s"])
            label = opts["-l"]
        except (ValueError, KeyError):
            self.write(USAGE["genSymKey"])
            return
        share = [u for u in opts.get("-u", "").split(",") if u]
        try:
            key = self.call(
                "generate_key",
                session=self.session,
                key_type=key_type,
                size=size,
                label=label,
                key_id=opts.get("-id", ""),
                extractable="-nex" not in opts,
                share=share,
                session_key="-sess" in opts,
                manage_quorum=int(opts.get("-m_value", 0)),
                use_quorum=int(opts.get("-m_value", 0)),
                op_id=common.new_op_id(),
            )["key"]
        except HsmRefused as refused:
            code, text = self.failure(refused)
            self.write(
                "        Cfm3GenerateSymmetricKey returned: 0x%02x : %s\n        Cluster Error Status\n%s"
                % (code, text, self.node_lines("        ", code, text))
            )
            return
        attest = "        Attestation Check : [PASS]\n" if "-attest" in opts else ""
        self.write(
            "        Cfm3GenerateSymmetricKey returned: 0x00 : %s\n        Symmetric Key Created.  Key Handle: %d\n"
            "%s        Cluster Error Status\n%s" % (SUCCESS, key["handle"], attest, self.node_lines("        "))
        )

    def generate_pair(self, args, usage, **shape):
        """genRSAKeyPair / genECCKeyPair: one label for both keys, the id on both (SDK 3 has one -l and one -id)."""
        try:
            opts = options(args, flags=("-nex", "-sess", "-attest"))
            label = opts["-l"]
            shape = {name: value(opts) for name, value in shape.items()}
            m_value = int(opts.get("-m_value", 0))
        except (ValueError, KeyError):
            self.write(USAGE[usage])
            return
        try:
            made = self.call(
                "generate_key_pair",
                session=self.session,
                public_label=label,
                private_label=label,
                public_id=opts.get("-id", ""),
                private_id=opts.get("-id", ""),
                extractable="-nex" not in opts,
                share=[u for u in opts.get("-u", "").split(",") if u],
                session_key="-sess" in opts,
                manage_quorum=m_value,
                use_quorum=m_value,
                op_id=common.new_op_id(),
                **shape
            )
        except HsmRefused as refused:
            code, text = self.failure(refused)
            self.write(
                "        Cfm3GenerateKeyPair returned: 0x%02x : %s\n        Cluster Error Status\n%s"
                % (code, text, self.node_lines("        ", code, text))
            )
            return
        attest = "        Attestation Check : [PASS]\n" if "-attest" in opts else ""
        self.write(
            "        Cfm3GenerateKeyPair returned: 0x00 : %s\n\n"
            "        Cfm3GenerateKeyPair:    public key handle: %d    private key handle: %d\n\n"
            "%s        Cluster Error Status\n%s"
            % (
                SUCCESS,
                made["public_key"]["handle"],
                made["private_key"]["handle"],
                attest,
                self.node_lines("        "),
            )
        )

    def cmd_genRSAKeyPair(self, args):
        self.generate_pair(
            args,
            "genRSAKeyPair",
            key_type=lambda o: "rsa",
            modulus_bits=lambda o: int(o["-m"]),
            public_exponent=lambda o: int(o["-e"]),
        )

    def cmd_genECCKeyPair(self, args):
        self.generate_pair(
            args,
            "genECCKeyPair",
            key_type=lambda o: "ec",
            curve=lambda o: unconfirmed.KMU_EC_CURVES[int(o["-i"])],
        )

    def cmd_setAttribute(self, args):
        try:
            opts = options(args)
            handle, attribute, value = int(opts["-o"]), int(opts["-a"]), opts["-v"]
        except (ValueError, KeyError):
            self.write(USAGE["setAttribute"])
            return
        try:
            if attribute not in SETTABLE:
                raise HsmRefused("invalid_attribute", "")
            name = SETTABLE[attribute]
            self.call(
                "set_attribute",
                session=self.session,
                handle=handle,
                name=name,
                value=value if name == "label" else value in ("1", "0x01", "true"),
                op_id=common.new_op_id(),
            )
        except HsmRefused as refused:
            code, text = self.failure(refused)
            self.write(
                "        Cfm3SetAttribute returned: 0x%02x : %s\n        Cluster Error Status\n%s"
                % (code, text, self.node_lines("        ", code, text))
            )
            return
        self.write(
            "        Cfm3SetAttribute returned: 0x00 : %s\n        Cluster Error Status\n%s"
            % (SUCCESS, self.node_lines("        "))
        )

    def cmd_findKey(self, args):
        try:
            opts = options(args)
        except ValueError:
            self.write(USAGE["findKey"])
            return
        filters = {}
        if "-l" in opts:
            filters["label"] = opts["-l"]
        if "-kcv" in opts:
            filters["check-value"] = opts["-kcv"] if opts["-kcv"].startswith("0x") else "0x" + opts["-kcv"]
        try:
            keys = self.call("list_keys", session=self.session, filters=filters)["keys"]
        except HsmRefused as refused:
            code, text = self.failure(refused)
            self.write(
                "        Cluster Error Status\n%s        Cfm3FindKey returned: 0x%02x : %s\n"
                % (self.node_lines("        ", code, text), code, text)
            )
            return
        wanted_class = opts.get("-c")
        wanted_type = opts.get("-t")
        wanted_sess = opts.get("-sess")
        wanted_users = {int(u) for u in opts.get("-u", "").split(",") if u.isdigit()}
        selected = []
        for key in keys:
            if wanted_class is not None and str(CLASS_CODES.get(key["class"])) != wanted_class:
                continue
            if wanted_type is not None and str(KEY_TYPE_CODES.get(key["key_type"])) != wanted_type:
                continue
            if "-id" in opts and key["id"] != opts["-id"]:
                continue
            if wanted_sess is not None and int(key["session"]) != int(wanted_sess == "1"):
                continue
            if wanted_users and not wanted_users & ({key["owner"]} | set(key["shared"])):
                continue
            selected.append(key["handle"])
        if not selected:
            self.write(
                "\nTotal number of keys present 0\n\n        Cluster Error Status\n%s\n"
                "        Cfm3FindKey returned: 0x00 : %s\n" % (self.node_lines("        "), SUCCESS)
            )
            return
        self.write(
            "Total number of keys present %d\n number of keys matched from start index 0::%d\n%s\n"
            "        Cluster Error Status\n%s        Cfm3FindKey returned: 0x00 : %s\n"
            % (
                len(selected),
                len(selected) - 1,
                unconfirmed.wrap_handles([str(h) for h in selected], ", ", unconfirmed.KMU_HANDLES_PER_LINE),
                self.node_lines("        "),
                SUCCESS,
            )
        )

    def cmd_getAttribute(self, args):
        try:
            opts = options(args)
            handle, attribute, path = int(opts["-o"]), int(opts["-a"]), opts["-out"]
        except (ValueError, KeyError):
            self.write(USAGE["getAttribute"])
            return
        try:
            key = self.call("get_key", handle=handle)["key"]
            if self.session is None:
                raise HsmRefused("not_logged_in", "")
        except HsmRefused as refused:
            code, text = self.failure(refused)
            self.write("        Cfm3GetAttribute returned: 0x%02x : %s\n" % (code, text))
            return
        values = self.attribute_values(key)
        wanted = sorted(values) if attribute == 512 else [attribute]
        if any(a not in values for a in wanted):
            self.write("        Cfm3GetAttribute returned: 0x%02x : %s\n" % unconfirmed.KMU_DEFAULT_ERROR)
            return
        lines = "".join("%s\n%s\n" % (ATTRIBUTES[a], values[a]) for a in wanted)
        with open(path, "w") as handle:
            handle.write(lines)
        if attribute == 512:
            self.write(
                "got all attributes of size %d attr cnt %d\nAttributes dumped into %s file\n"
                "        Cfm3GetAttribute returned: 0x00 : %s\n" % (len(lines.encode()), len(wanted), path, SUCCESS)
            )
        else:
            self.write("Attributes dumped into %s file\n" % path)

    @staticmethod
    def attribute_values(key):
        attrs = key["attributes"]
        values = {
            0: "0x%08x" % CLASS_CODES[key["class"]],
            3: key["label"],
            256: "0x%08x" % KEY_TYPE_CODES[key["key_type"]],
            258: key["id"],
            353: "0x%08x" % key["size"],
            371: key["kcv"],
        }
        if key["key_type"] == "rsa":
            values[288] = attrs["modulus"]
            values[289] = "0x%08x" % attrs["modulus-size-bits"]
            values[290] = "0x%08x" % int(attrs["public-exponent"], 16)
        elif key["key_type"] == "ec":
            values[unconfirmed.KMU_EC_POINT_ATTRIBUTE] = attrs["ec-point"]
        for constant, name in BOOLEAN_ATTRIBUTES.items():
            values[constant] = "0x%02x" % int(bool(attrs.get(name)))
        return values

    def cmd_deleteKey(self, args):
        try:
            handle = int(options(args)["-k"])
        except (ValueError, KeyError):
            self.write("Error: Key handle (-k) is missing.\n")
            return
        try:
            self.call("delete_key", session=self.session, handle=handle, op_id=common.new_op_id())
        except HsmRefused as refused:
            code, text = self.failure(refused)
            if refused.code == "no_such_key":
                self.write(
                    "        Cfm3FindKey returned: 0x%02x : %s\n        Cluster Error Status\n%s"
                    % (code, text, self.node_lines("        ", code, text))
                )
            else:
                self.write("Cfm3DeleteKey returned: 0x%02x : %s\n" % (code, text))
            return
        self.write(
            "        Cfm3DeleteKey returned: 0x00 : %s\n        Cluster Error Status\n%s"
            % (SUCCESS, self.node_lines("        "))
        )

    def cmd_getKeyInfo(self, args):
        try:
            handle = int(options(args)["-k"])
        except (ValueError, KeyError):
            self.write("getKeyInfo -k <key handle>\n")
            return
        try:
            key = self.call("get_key", handle=handle)["key"]
        except HsmRefused as refused:
            self.write("       Cfm3GetKey returned: 0x%02x : %s\n" % self.failure(refused))
            return
        text = "       Cfm3GetKey returned: 0x00 : %s\n       Owned by user %d\n" % (SUCCESS, key["owner"])
        if key["shared"]:
            text += "       also, shared to following %d user(s):\n" % len(key["shared"])
            text += "".join("                %d\n" % uid for uid in key["shared"])
        if max(key["quorum"]):
            text += "         %d Users need to approve to use/manage this key\n" % max(key["quorum"])
        self.write(text)

    def cmd_listUsers(self, args):
        try:
            users = self.call("list_users")["users"]
        except HsmRefused as refused:
            self.write("        Cfm3ListUsers returned: 0x%02x : %s\n" % self.failure(refused))
            return
        self.write("        Number Of Users found %d\n%s\n" % (len(users), LIST_USERS_HEADER))
        for index, user in enumerate(users, 1):
            self.write(
                LIST_USERS_ROW
                % (
                    index,
                    user["id"],
                    user["role"],
                    user["name"],
                    "YES" if user["mofn"] else "NO",
                    user["failures"],
                    "YES" if user["two_factor"] else "NO",
                )
                + "\n"
            )
        self.write("        Cfm3ListUsers returned: 0x00 : %s\n" % SUCCESS)

    def cmd_help(self, args):
        self.write("\n".join("    %s" % c for c in COMMANDS) + "\n")

    def run(self, words):
        command = words[0]
        if command not in COMMANDS:
            self.write("Command not found: %s\n" % command)
            return
        if words[1:] == ["-h"] and command in USAGE:
            self.write(USAGE[command])
            return
        getattr(self, "cmd_" + command)(words[1:])

    def loop(self):
        while True:
            line = self.input.prompt(PROMPT)
            if line is None:
                return
            try:
                words = shlex.split(line)
            except ValueError:
                words = line.split()
            if not words:
                continue
            if words[0] == "exit":
                return
            self.run(words)

    def close(self):
        if self.session is not None:
            try:
                self.client.call("logout", session=self.session)
            except (HsmRefused, ToolError):
                pass
        self.client.close()


def split_singlecmd(words):
    commands, current = [], []
    for word in words:
        if word in COMMANDS and current:
            commands.append(current)
            current = []
        current.append(word)
    if current:
        commands.append(current)
    return commands


def main(root, argv):
    try:
        kmu = Kmu(root)
    except (OSError, ValueError, ToolError):
        sys.stdout.write("\n\tDaemon socket connection error\n")
        return 1
    try:
        if argv and argv[0] == "singlecmd":
            for words in split_singlecmd(argv[1:]):
                kmu.run(words)
        else:
            kmu.loop()
    except ToolError:
        sys.stdout.write("\n\tDaemon socket connection error\n")
        return 1
    finally:
        kmu.close()
    return 0
