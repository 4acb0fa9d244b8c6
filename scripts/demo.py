"""``make demo``: the cross-region clone of a CloudHSM cluster, then a day-2 sync, against the local simulator.

    python scripts/demo.py [--sdk 5|3] [--run-dir DIR]

Run from the collection root (the build-tree copy, where ANSIBLE_COLLECTIONS_PATH finds the collection and its
dependencies). Steps: start ``cloudhsm-sim serve`` on 127.0.0.1, build the simulated client package, make a VPC and
subnets in each region, run ``playbooks/clone_cluster.yml``, add a user and a key on the source, run
``playbooks/sync.yml``, then read users and keys straight from the simulated HSMs of every cluster and show that
they match. The simulator is stopped at the end, whatever happens.

``DemoRun`` is also what ``tests/e2e`` drives, so the test runs the same flow as the demo.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import with_simulator  # noqa: E402  (a sibling script)

PLAYBOOKS = os.path.join(ROOT, "playbooks")
EXAMPLES = os.path.join(PLAYBOOKS, "examples", "simulator")
CLIENT_PACKAGES = ("cloudhsm-cli", "cloudhsm-client")
SIMULATOR_MAINTAINER = "hsmops.cloudhsm simulator"
CLIENT_ETC = "/opt/cloudhsm/etc"
CLIENT_LEFTOVERS = ("cloudhsm-cli.cfg", "SyncClusters.cfg", "customerCA.crt", "cloudhsm_client.cfg", "cloudhsm_mgmt_util.cfg")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


class DemoError(Exception):
    pass


class PlaybookRun:
    """The outcome of one ansible-playbook run: return code, per-host recap, tasks that reported a change."""

    def __init__(self, name, returncode, recap, changed_tasks, log_path, seconds):
        self.name = name
        self.returncode = returncode
        self.recap = recap
        self.changed_tasks = changed_tasks
        self.log_path = log_path
        self.seconds = seconds

    @property
    def changed(self):
        return sum(counts["changed"] for counts in self.recap.values())

    @property
    def ok(self):
        return self.returncode == 0 and all(c["failed"] == 0 and c["unreachable"] == 0 for c in self.recap.values())


class DemoRun:
    """One demo: a simulator, a run directory with the settings, and the playbooks run against them."""

    def __init__(self, sdk, run_dir, out=sys.stdout):
        self.sdk = int(sdk)
        self.run_dir = os.path.abspath(run_dir)
        self.out = out
        self.proc = None
        self.client_lock = None
        self.env = None
        self.package_file = None
        self.settings = os.path.join(EXAMPLES, "dr.yml")
        self.network_file = os.path.join(self.run_dir, "network.yml")
        self.secrets_file = os.path.join(self.run_dir, "secrets.yml")
        self.passwords = {}

    # -- output ---------------------------------------------------------------------------------------------
    def say(self, text=""):
        self.out.write(text + "\n")
        self.out.flush()

    def step(self, number, total, text):
        self.say("[%d/%d] %s" % (number, total, text))

    # -- set-up ---------------------------------------------------------------------------------------------
    def prepare_run_dir(self):
        if os.path.isdir(self.run_dir):
            shutil.rmtree(self.run_dir)
        os.makedirs(self.run_dir, mode=0o700)

    def lock_client(self):
        """Hold the machine's CloudHSM client until stop_simulator(): other runs wait instead of clobbering it."""
        if self.client_lock is None:
            self.client_lock = with_simulator.lock_client(lambda text: self.say("      " + text))

    def reset_client(self):
        """Remove the simulated client packages and the configuration an earlier run left (never a real client)."""
        self.lock_client()
        installed = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Abbrev}\t${Maintainer}\n"]
                                   + list(CLIENT_PACKAGES), capture_output=True, text=True, check=False).stdout
        for line in installed.splitlines():
            name, status, maintainer = (line.split("\t") + ["", ""])[:3]
            if status[:1] not in ("i", "r"):  # installed, or removed with its configuration left
                continue
            if SIMULATOR_MAINTAINER not in maintainer:
                raise DemoError("%s from %s is installed here; the demo only replaces the simulator's client packages"
                                % (name, maintainer or "an unknown source"))
            subprocess.run(["dpkg", "--purge", name], check=True, capture_output=True)
        for name in CLIENT_LEFTOVERS:
            path = os.path.join(CLIENT_ETC, name)
            if os.path.exists(path):
                os.unlink(path)

    def start_simulator(self):
        self.lock_client()
        log_path = os.path.join(self.run_dir, "simulator.log")
        self.proc, endpoint = with_simulator.start_simulator([], log_path)
        self.env = with_simulator.simulator_env(endpoint)
        self.env.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
        self.env["ANSIBLE_FORCE_COLOR"] = "0"
        self.env["ANSIBLE_NOCOLOR"] = "1"
        self.env["ANSIBLE_RETRY_FILES_ENABLED"] = "0"
        return endpoint

    def stop_simulator(self):
        if self.proc is not None:
            with_simulator.stop_simulator(self.proc)
            self.proc = None
        if self.client_lock is not None:
            self.client_lock.close()
            self.client_lock = None

    def build_package(self):
        out_dir = os.path.join(self.run_dir, "packages")
        env = dict(self.env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.join(ROOT, "simulator"), env.get("PYTHONPATH")]))
        result = subprocess.run([sys.executable, "-m", "cloudhsm_sim.cli", "package", "--sdk", str(self.sdk),
                                 "--out", out_dir], env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DemoError("building the client package failed: %s" % result.stderr.strip())
        self.package_file = result.stdout.strip().splitlines()[-1]
        return self.package_file

    def write_secrets(self):
        """Random passwords in a file only the owner can read (never on a command line)."""
        self.passwords = {name: secrets.token_urlsafe(12) for name in ("admin", "payments_app", "new_user")}
        fd = os.open(self.secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("---\n")
            yaml.safe_dump({"dr_passwords": self.passwords}, handle, default_flow_style=False)

    # -- playbooks ------------------------------------------------------------------------------------------
    def playbook_command(self, path, check=False):
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path,
                   "-i", os.path.join(EXAMPLES, "inventory.yml"),
                   "-e", "@" + self.settings,
                   "-e", "@" + self.secrets_file,
                   "-e", json.dumps({"cloudhsm_dr_sdk": self.sdk, "dr_run_dir": self.run_dir,
                                     "dr_network_file": self.network_file,
                                     "cloudhsm_dr_client_package_file": self.package_file or ""})]
        if os.path.exists(self.network_file):
            command[6:6] = ["-e", "@" + self.network_file]
        if check:
            command.append("--check")
        return command

    def start_playbook(self, name, log_name=None, check=False):
        """Start a playbook in the background; returns (process, log path)."""
        path = os.path.join(EXAMPLES, name)
        if not os.path.exists(path):
            path = os.path.join(PLAYBOOKS, name)
        log_path = os.path.join(self.run_dir, (log_name or os.path.splitext(os.path.basename(name))[0]) + ".log")
        log = open(log_path, "w")
        proc = subprocess.Popen(self.playbook_command(path, check), cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        return proc, log, log_path

    def run_playbook(self, name, log_name=None, check=False, progress=True):
        started = time.monotonic()
        proc, log, log_path = self.start_playbook(name, log_name, check)
        recap, changed_tasks, task = {}, [], None
        with log:
            for line in proc.stdout:
                log.write(line)
                stripped = line.rstrip("\n")
                if stripped.startswith("PLAY [") and progress:
                    self.say("      - " + stripped[6:].split("]")[0])
                elif stripped.startswith("TASK ["):
                    task = stripped[6:].rsplit("]", 1)[0]
                elif stripped.startswith("changed:") and task and task not in changed_tasks:
                    changed_tasks.append(task)
                match = RECAP.match(stripped)
                if match:
                    recap[match.group(1)] = dict(zip(("ok", "changed", "unreachable", "failed"),
                                                     map(int, match.groups()[1:])))
        returncode = proc.wait()
        run = PlaybookRun(name, returncode, recap, changed_tasks, log_path, time.monotonic() - started)
        if not run.ok:
            raise DemoError("%s failed (rc %d); see %s\n%s" % (name, returncode, log_path, self.tail(log_path)))
        return run

    @staticmethod
    def tail(path, lines=25):
        with open(path) as handle:
            return "".join(handle.readlines()[-lines:])

    # -- what the HSMs hold ---------------------------------------------------------------------------------
    def dr_settings(self):
        with open(self.settings) as handle:
            return yaml.safe_load(handle)

    def clusters(self):
        """Every live cluster of the DR set, source first, from the CloudHSM API (boto3 on the simulator)."""
        import boto3

        settings = self.dr_settings()
        members = [("source", settings["cloudhsm_dr_source"])] + [("clone", c) for c in settings["cloudhsm_dr_clones"]]
        found = []
        for role, member in members:
            client = boto3.client("cloudhsmv2", region_name=member["region"], endpoint_url=self.env["AWS_ENDPOINT_URL"],
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
            for cluster in client.describe_clusters()["Clusters"]:
                tags = {t["Key"]: t["Value"] for t in cluster.get("TagList", [])}
                if tags.get("Name") == member["name"] and cluster["State"] not in ("DELETE_IN_PROGRESS", "DELETED"):
                    found.append({"role": role, "name": member["name"], "region": member["region"],
                                  "cluster_id": cluster["ClusterId"], "state": cluster["State"],
                                  "source_backup_id": cluster.get("SourceBackupId", ""),
                                  "hsm_ips": [h["EniIp"] for h in cluster.get("Hsms", [])]})
        return found

    def hsm_call(self, op, **args):
        request = urllib.request.Request(self.env["CLOUDHSM_SIM_ENDPOINT"].rstrip("/") + "/_hsm/v1/call",
                                         data=json.dumps({"op": op, "args": args}).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        if not answer.get("ok"):
            raise DemoError("HSM %s: %s" % (op, answer.get("message")))
        return answer["result"]

    def hsm_state(self, cluster):
        """Users and keys of a cluster, read from its first HSM as the admin (not through the collection's code)."""
        hsm = cluster["hsm_ips"][0]
        users = self.hsm_call("list_users", hsm=hsm)["users"]
        admin = next(u for u in users if u["name"] == "admin")
        session = self.hsm_call("login", hsm=hsm, role=admin["role"], username="admin",
                                password=self.passwords["admin"])["session"]
        try:
            keys = self.hsm_call("list_keys", hsm=hsm, session=session)["keys"]
        finally:
            self.hsm_call("logout", hsm=hsm, session=session)
        return {
            "users": sorted((u["name"], u["role"]) for u in users),
            "keys": sorted((k["label"], k["key_type"], k["size"], k["kcv"], k["owner_name"]) for k in keys),
        }

    def report(self):
        """Per cluster: where it is, its HSMs and backup, and its users and keys; plus whether they all match."""
        rows = []
        for cluster in self.clusters():
            rows.append(dict(cluster, **self.hsm_state(cluster)))
        reference = rows[0] if rows else None
        matching = bool(rows) and len(rows) > 1 and all(
            r["users"] == reference["users"] and r["keys"] == reference["keys"] for r in rows)
        return {"clusters": rows, "match": matching}

    def print_report(self, report):
        for row in report["clusters"]:
            self.say("  %-6s %-10s %-18s %s  %s" % (row["role"], row["region"], row["name"], row["cluster_id"], row["state"]))
            origin = "   from backup " + row["source_backup_id"] if row["source_backup_id"] else ""
            self.say("         HSMs %s%s" % (", ".join(row["hsm_ips"]), origin))
            self.say("         users %s" % ", ".join("%s (%s)" % user for user in row["users"]))
            self.say("         keys  %s" % ", ".join("%s [%s-%d kcv %s, owner %s]" % (k[0], k[1], k[2] * 8, k[3], k[4])
                                                     for k in row["keys"]))
        self.say("  users and keys match in every cluster: %s" % ("yes" if report["match"] else "NO"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sdk", choices=["3", "5"], default="5")
    parser.add_argument("--kms", default="0", help="accepted for the Makefile; the demo does not set up KMS")
    parser.add_argument("--run-dir", default=None,
                        help="where settings and logs go (default: hsmops-demo-sdkN in the temporary directory)")
    args = parser.parse_args(argv)
    # Not inside the collection: `make build-tree` prunes files that are not part of the work tree.
    run_dir = args.run_dir or os.path.join(tempfile.gettempdir(), "hsmops-demo-sdk%s" % args.sdk)
    demo = DemoRun(args.sdk, run_dir)
    started = time.monotonic()
    total = 7
    demo.say("hsmops.cloudhsm demo: clone a CloudHSM cluster from us-east-1 to us-west-2 with Client SDK %s" % args.sdk)
    demo.say("(everything runs against the local simulator; logs in %s)" % demo.run_dir)
    if args.kms not in ("", "0"):
        demo.say("(KMS=%s: this demo does not set up a KMS custom key store; see the cloudhsm_kms_key_store module)" % args.kms)
    try:
        demo.prepare_run_dir()
        demo.reset_client()
        demo.step(1, total, "starting the simulator")
        demo.say("      %s" % demo.start_simulator())
        demo.step(2, total, "building the simulated client package")
        demo.say("      %s" % os.path.basename(demo.build_package()))
        demo.write_secrets()
        demo.step(3, total, "making a VPC and subnets in each region")
        demo.run_playbook("prepare_network.yml")
        demo.step(4, total, "running playbooks/clone_cluster.yml")
        run = demo.run_playbook("clone_cluster.yml")
        demo.say("      done in %.0f s, %d changes" % (run.seconds, run.changed))
        demo.print_report(demo.report())
        demo.step(5, total, "day 2: a new crypto user and a new key on the source only")
        demo.run_playbook("add_user_and_key.yml")
        demo.step(6, total, "running playbooks/sync.yml")
        run = demo.run_playbook("sync.yml")
        demo.say("      done in %.0f s, %d changes" % (run.seconds, run.changed))
        demo.step(7, total, "what every cluster holds now")
        report = demo.report()
        demo.print_report(report)
        demo.say("demo finished in %.0f s" % (time.monotonic() - started))
        return 0 if report["match"] else 1
    except DemoError as error:
        demo.say("demo failed: %s" % error)
        return 1
    finally:
        demo.stop_simulator()


if __name__ == "__main__":
    sys.exit(main())
