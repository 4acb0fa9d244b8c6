"""``make demo``: the cross-region clone of a CloudHSM cluster, then a day-2 sync, against the local simulator.

    python scripts/demo.py [--sdk 5|3] [--kms 0|1] [--migrate 0|1] [--run-dir DIR]

Run from the collection root (the build-tree copy, where ANSIBLE_COLLECTIONS_PATH finds the collection and its
dependencies). Steps: start ``cloudhsm-sim serve`` on 127.0.0.1, build the simulated client package, make a VPC and
subnets in each region, run ``playbooks/clone_cluster.yml``, add a user and a key on the source, run
``playbooks/sync.yml``, then read users and keys straight from the simulated HSMs of every cluster and show that
they match. With ``--kms 1`` (``make demo KMS=1``) the DR set also gets ``kmsuser`` and a KMS custom key store on
the clone (``playbooks/examples/simulator/kms.yml``), and after the sync a key store on the source gets a KMS key;
the source cluster is then lost and ``playbooks/restore_in_region.yml`` brings the key back. With ``--migrate 1``
(``make demo MIGRATE=1``) the DR set is built with SDK 3 and hsm1.medium, then ``playbooks/migrate.yml`` moves the
clients to SDK 5 (AWS refuses the clusters that week), and after a simulated week the clones and the source to
hsm2m.medium, showing what every cluster holds before and after. The simulator is stopped at the end, whatever
happens.

``DemoRun`` is also what ``tests/e2e`` drives, so the test runs the same flow as the demo.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import string
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
KMS_SOURCE_STORE = "demo-keystore"
KMS_PLAINTEXT = b"written before the loss"
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

    def __init__(self, sdk, run_dir, out=sys.stdout, kms=False):
        self.sdk = int(sdk)
        self.run_dir = os.path.abspath(run_dir)
        self.out = out
        self.kms = bool(kms)
        self.proc = None
        self.client_lock = None
        self.env = None
        self.package_file = None
        self.settings = os.path.join(EXAMPLES, "dr.yml")  # may be replaced by a run with settings of its own
        self.network_file = os.path.join(self.run_dir, "network.yml")
        self.secrets_file = os.path.join(self.run_dir, "secrets.yml")
        self.passwords = {}
        self.sdk5_package = None

    @property
    def settings_files(self):
        """The DR settings, then with KMS the settings that add kmsuser and a key store on the clone (whose clone
        item, with a second zone, replaces the one of dr.yml)."""
        return [self.settings] + ([os.path.join(EXAMPLES, "kms.yml")] if self.kms else [])

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
        # Each task's module goes to the interpreter on its standard input, not through a temporary file: fewer
        # processes and files per task, as most production configurations run.
        self.env.setdefault("ANSIBLE_PIPELINING", "1")
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
        if self.kms:  # KMS takes 7 to 32 letters and digits only
            self.passwords["kmsuser"] = "".join(secrets.choice(string.ascii_letters + string.digits) for unused_index in range(24))
        fd = os.open(self.secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("---\n")
            yaml.safe_dump({"dr_passwords": self.passwords}, handle, default_flow_style=False)

    # -- playbooks ------------------------------------------------------------------------------------------
    def playbook_command(self, path, check=False, extra_files=()):
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path,
                   "-i", os.path.join(EXAMPLES, "inventory.yml")]
        for settings in self.settings_files:
            command += ["-e", "@" + settings]
        if os.path.exists(self.network_file):
            command += ["-e", "@" + self.network_file]
        command += ["-e", "@" + self.secrets_file,
                    "-e", json.dumps({"cloudhsm_dr_sdk": self.sdk, "dr_run_dir": self.run_dir,
                                      "dr_network_file": self.network_file,
                                      "cloudhsm_dr_client_package_file": self.package_file or ""})]
        for extra in extra_files:
            command += ["-e", "@" + extra]
        if check:
            command.append("--check")
        return command

    def start_playbook(self, name, log_name=None, check=False, extra_files=()):
        """Start a playbook in the background; returns (process, log path)."""
        path = os.path.join(EXAMPLES, name)
        if not os.path.exists(path):
            path = os.path.join(PLAYBOOKS, name)
        log_path = os.path.join(self.run_dir, (log_name or os.path.splitext(os.path.basename(name))[0]) + ".log")
        log = open(log_path, "w")
        proc = subprocess.Popen(self.playbook_command(path, check, extra_files), cwd=ROOT, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        return proc, log, log_path

    def run_playbook(self, name, log_name=None, check=False, progress=True, extra_files=()):
        started = time.monotonic()
        proc, log, log_path = self.start_playbook(name, log_name, check, extra_files)
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
        """The DR settings as the playbooks see them: the settings files in order, later top-level keys winning."""
        settings = {}
        for path in self.settings_files:
            with open(path) as handle:
                settings.update(yaml.safe_load(handle))
        return settings

    def aws(self, service, region, **options):
        import boto3

        return boto3.client(service, region_name=region, endpoint_url=self.env["AWS_ENDPOINT_URL"],
                            aws_access_key_id="testing", aws_secret_access_key="testing", **options)

    def clusters(self):
        """Every live cluster of the DR set, source first, from the CloudHSM API (boto3 on the simulator)."""
        settings = self.dr_settings()
        members = [("source", settings["cloudhsm_dr_source"])] + [("clone", c) for c in settings["cloudhsm_dr_clones"]]
        found = []
        for role, member in members:
            client = self.aws("cloudhsmv2", member["region"])
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
            "keys": sorted((k["label"], k["key_type"], k["size"], k["kcv"], k["owner_name"], k["class"],
                            tuple(sorted(k["shared_names"]))) for k in keys),
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

    @staticmethod
    def describe_key(key):
        """One key object of hsm_state: label, type, class (of a pair), owner and shares."""
        label, key_type, size, kcv, owner, key_class, shared = key
        kind = "%s-%d" % (key_type, size * 8) if key_class == "secret-key" else "%s %s" % (key_type, key_class)
        sharing = ", shared with %s" % "+".join(shared) if shared else ""
        return "%s [%s kcv %s, owner %s%s]" % (label, kind, kcv, owner, sharing)

    def print_report(self, report):
        for row in report["clusters"]:
            self.say("  %-6s %-10s %-18s %s  %s" % (row["role"], row["region"], row["name"], row["cluster_id"], row["state"]))
            origin = "   from backup " + row["source_backup_id"] if row["source_backup_id"] else ""
            self.say("         HSMs %s%s" % (", ".join(row["hsm_ips"]), origin))
            self.say("         users %s" % ", ".join("%s (%s)" % user for user in row["users"]))
            for index, key in enumerate(row["keys"]):
                self.say("         %s %s" % ("keys " if index == 0 else "     ", self.describe_key(key)))
        self.say("  users and keys match in every cluster: %s" % ("yes" if report["match"] else "NO"))

    # -- KMS custom key stores ------------------------------------------------------------------------------
    def key_store(self, region, name):
        """The key store called name in region, as DescribeCustomKeyStores gives it, or None."""
        from botocore.exceptions import ClientError

        try:
            return self.aws("kms", region).describe_custom_key_stores(CustomKeyStoreName=name)["CustomKeyStores"][0]
        except ClientError as error:
            if error.response["Error"]["Code"] == "CustomKeyStoreNotFoundException":
                return None
            raise

    def clone_key_stores(self):
        """(clone, store or None) for every clone of the settings that names a key_store."""
        return [(clone, self.key_store(clone["region"], clone["key_store"]))
                for clone in self.dr_settings()["cloudhsm_dr_clones"] if clone.get("key_store")]

    def print_clone_key_stores(self):
        for clone, store in self.clone_key_stores():
            if store is None:
                self.say("  KMS key store %s: missing in %s" % (clone["key_store"], clone["region"]))
                continue
            self.say("  KMS key store %s (%s) %s on the clone %s in %s"
                     % (store["CustomKeyStoreName"], store["CustomKeyStoreId"], store["ConnectionState"],
                        store["CloudHsmClusterId"], clone["region"]))
        self.say("         (a second store with its own KMS keys: keys of the source's store do not work there)")

    def source_key_and_secret(self):
        """A KMS key in the source's key store and a ciphertext made with it: what must survive the loss."""
        source = self.dr_settings()["cloudhsm_dr_source"]
        store = self.key_store(source["region"], KMS_SOURCE_STORE)
        kms = self.aws("kms", source["region"])
        key = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store["CustomKeyStoreId"],
                             Description="hsmops demo")["KeyMetadata"]
        blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=KMS_PLAINTEXT)["CiphertextBlob"]
        return store, key, blob

    def decrypt(self, region, blob):
        """(plaintext, None) or (None, error code)."""
        from botocore.config import Config
        from botocore.exceptions import ClientError

        # One attempt: a refused decrypt is an answer here, not something to retry.
        kms = self.aws("kms", region, config=Config(retries={"total_max_attempts": 1}))
        try:
            return kms.decrypt(CiphertextBlob=blob)["Plaintext"], None
        except ClientError as error:
            return None, error.response["Error"]["Code"]

    # -- HSM type migration (playbooks/migrate.yml) ----------------------------------------------------------
    def sim_admin(self, method, path, payload=None):
        request = urllib.request.Request(self.env["CLOUDHSM_SIM_ENDPOINT"].rstrip("/") + path,
                                         data=json.dumps(payload or {}).encode(),
                                         headers={"Content-Type": "application/json"}, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def prepare_migration(self, seconds_per_hsm=1.0):
        """The vars file migrate.yml gets here: the SDK 5 client package (built now) and a one-second poll. The
        simulator's HSM-type migration takes seconds_per_hsm per HSM (AWS: about 30 minutes)."""
        sdk, package = self.sdk, self.package_file
        self.sdk = 5
        try:
            self.sdk5_package = self.build_package()
        finally:
            self.sdk, self.package_file = sdk, package
        path = os.path.join(self.run_dir, "migrate.yml")
        with open(path, "w") as handle:
            handle.write("---\n")
            yaml.safe_dump({"cloudhsm_dr_migrate_client_package_file": self.sdk5_package,
                            "cloudhsm_dr_migrate_poll_seconds": 1}, handle, default_flow_style=False)
        self.sim_admin("POST", "/_sim/transitions", {"cluster_modify": seconds_per_hsm})
        return path

    def let_a_week_pass(self):
        """The rehearsal's stand-in for AWS's rule that clients used only SDK 5.9+ for 7 days: every cluster of the
        DR set forgets the SDK 3 clients it saw (their connections become 8 days old)."""
        for cluster in self.clusters():
            self.sim_admin("POST", "/_sim/clusters/%s/time-passes" % cluster["cluster_id"], {"seconds": 8 * 86400})

    def hsm_types(self):
        """{cluster id: (state, HSM type)} of the DR set, from the CloudHSM API."""
        types = {}
        for cluster in self.clusters():
            found = self.aws("cloudhsmv2", cluster["region"]).describe_clusters(
                Filters={"clusterIds": [cluster["cluster_id"]]})["Clusters"][0]
            types[cluster["cluster_id"]] = (found["State"], found["HsmType"])
        return types

    def use_sdk5(self):
        """After the migration: later playbooks run with Client SDK 5 and its package."""
        self.sdk, self.package_file = 5, self.sdk5_package

    def migrate_demo(self, first_step, total):
        """Steps first_step.. of `make demo MIGRATE=1`; True when every cluster is hsm2m.medium with what it held."""
        before = self.report()
        self.step(first_step, total, "running playbooks/migrate.yml: clients to SDK 5 (the clusters must wait 7 days)")
        migrate_vars = self.prepare_migration()
        try:
            self.run_playbook("migrate.yml", log_name="migrate-clients", progress=False, extra_files=[migrate_vars])
            self.say("      unexpected: the clusters migrated with SDK 3 clients seen this week")
            return False
        except DemoError as error:
            # The playbook's own message (the "msg" of its last failure), not the whole failed result.
            refusal = [msg for msg in re.findall(r'"msg": "((?:[^"\\]|\\.)*)"', str(error)) if "Client SDK" in msg]
            self.say("      clients on SDK 5; AWS refuses the clusters for now: %s" % (refusal[-1] if refusal else error))
        self.step(first_step + 1, total, "a week later: running playbooks/migrate.yml again (clones first, then the source)")
        self.let_a_week_pass()
        run = self.run_playbook("migrate.yml", progress=False, extra_files=[migrate_vars])
        self.say("      done in %.0f s, %d changes" % (run.seconds, run.changed))
        for cluster_id, (state, hsm_type) in sorted(self.hsm_types().items()):
            self.say("      %s %s %s" % (cluster_id, state, hsm_type))
        self.use_sdk5()
        self.step(first_step + 2, total, "what every cluster holds after the migration")
        after = self.report()
        self.print_report(after)
        same = [(r["users"], r["keys"]) for r in after["clusters"]] == [(r["users"], r["keys"]) for r in before["clusters"]]
        self.say("      users and keys exactly as before the migration: %s" % ("yes" if same else "NO"))
        return same and all(t == ("ACTIVE", "hsm2m.medium") for t in self.hsm_types().values())

    def take_backup(self, cluster_id):
        request = urllib.request.Request(self.env["CLOUDHSM_SIM_ENDPOINT"].rstrip("/")
                                         + "/_sim/clusters/%s/backup" % cluster_id, data=b"{}",
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["backup"]

    def lose_cluster(self, region, cluster_id):
        """The loss: every HSM of the cluster deleted, then the cluster (its backups stay)."""
        client = self.aws("cloudhsmv2", region)
        for hsm in client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0].get("Hsms", []):
            client.delete_hsm(ClusterId=cluster_id, HsmId=hsm["HsmId"])
        deadline = time.monotonic() + 120
        while client.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0].get("Hsms"):
            if time.monotonic() > deadline:
                raise DemoError("the HSMs of %s were not deleted in time" % cluster_id)
            time.sleep(0.2)
        client.delete_cluster(ClusterId=cluster_id)

    def write_restore_settings(self, lost_cluster_id):
        """restore.yml for playbooks/restore_in_region.yml: the source's Region, zones and subnets."""
        source = self.dr_settings()["cloudhsm_dr_source"]
        with open(self.network_file) as handle:
            subnets = yaml.safe_load(handle)["dr_subnet_ids"][source["region"]]
        path = os.path.join(self.run_dir, "restore.yml")
        with open(path, "w") as handle:
            handle.write("---\n")
            yaml.safe_dump({"cloudhsm_restore": {
                "region": source["region"], "lost_cluster_id": lost_cluster_id, "name": source["name"] + "-restored",
                "subnet_ids": subnets, "availability_zones": source["availability_zones"],
                "key_store": KMS_SOURCE_STORE}}, handle, default_flow_style=False)
        return path

    def kms_restore(self, first_step, total):
        """Steps first_step.. of the KMS demo; True when the key made before the loss decrypts again."""
        source = self.dr_settings()["cloudhsm_dr_source"]
        self.step(first_step, total, "KMS: a custom key store on the source cluster, and a KMS key in it")
        self.run_playbook("kms_source_key_store.yml", progress=False)
        store, key, blob = self.source_key_and_secret()
        self.say("      key store %s (%s) %s on %s; kmsuser made there by clone_cluster"
                 % (store["CustomKeyStoreName"], store["CustomKeyStoreId"], store["ConnectionState"],
                    store["CloudHsmClusterId"]))
        self.say("      KMS key %s, encrypted %r with it" % (key["KeyId"], KMS_PLAINTEXT.decode()))

        self.step(first_step + 1, total, "the source cluster is lost (after its daily backup)")
        lost_id = store["CloudHsmClusterId"]
        backup = self.take_backup(lost_id)
        self.lose_cluster(source["region"], lost_id)
        _plain, code = self.decrypt(source["region"], blob)
        self.say("      backup %s kept; cluster %s deleted; decrypt now fails: %s"
                 % (backup["BackupId"], lost_id, code or "no error (unexpected)"))

        self.step(first_step + 2, total, "running playbooks/restore_in_region.yml")
        run = self.run_playbook("restore_in_region.yml", progress=False,
                                extra_files=[self.write_restore_settings(lost_id)])
        store = self.key_store(source["region"], KMS_SOURCE_STORE)
        plain, code = self.decrypt(source["region"], blob)
        self.say("      done in %.0f s, %d changes: key store %s now on %s (from backup %s)"
                 % (run.seconds, run.changed, store["ConnectionState"], store["CloudHsmClusterId"],
                    backup["BackupId"]))
        usable = plain == KMS_PLAINTEXT and code is None
        self.say("      KMS key %s usable again: %s" % (
            key["KeyId"], "yes, decrypted %r" % plain.decode() if usable else "NO (%s)" % code))
        return usable and store["CloudHsmClusterId"] != lost_id


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sdk", choices=["3", "5"], default="5")
    parser.add_argument("--kms", default="0",
                        help="1: also KMS custom key stores (one on the clone, one on the source restored in its Region)")
    parser.add_argument("--migrate", default="0",
                        help="1: an SDK 3 / hsm1.medium DR set, then its migration to SDK 5 / hsm2m.medium")
    parser.add_argument("--run-dir", default=None,
                        help="where settings and logs go (default: hsmops-demo-sdkN in the temporary directory)")
    args = parser.parse_args(argv)
    # Not inside the collection: `make build-tree` prunes files that are not part of the work tree.
    run_dir = args.run_dir or os.path.join(tempfile.gettempdir(), "hsmops-demo-sdk%s" % args.sdk)
    kms = args.kms not in ("", "0")
    migrate = args.migrate not in ("", "0")
    if migrate:
        args.sdk, kms = "3", False  # the migration starts from the seed's stack
        run_dir = args.run_dir or os.path.join(tempfile.gettempdir(), "hsmops-demo-migrate")
    demo = DemoRun(args.sdk, run_dir, kms=kms)
    started = time.monotonic()
    total = 10 if kms or migrate else 7
    demo.say("hsmops.cloudhsm demo: clone a CloudHSM cluster from us-east-1 to us-west-2 with Client SDK %s" % args.sdk)
    if kms:
        demo.say("with KMS custom key stores: one on the clone, one on the source that survives the source's loss")
    demo.say("(everything runs against the local simulator; logs in %s)" % demo.run_dir)
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
        if kms:
            demo.print_clone_key_stores()
        demo.step(5, total, "day 2: a new crypto user, a key, an RSA key pair and a shared key on the source only")
        demo.run_playbook("add_user_and_key.yml")
        demo.step(6, total, "running playbooks/sync.yml")
        run = demo.run_playbook("sync.yml")
        demo.say("      done in %.0f s, %d changes" % (run.seconds, run.changed))
        demo.step(7, total, "what every cluster holds now")
        report = demo.report()
        demo.print_report(report)
        kms_ok = demo.kms_restore(8, total) if kms else True
        migrated = demo.migrate_demo(8, total) if migrate else True
        demo.say("demo finished in %.0f s" % (time.monotonic() - started))
        return 0 if report["match"] and kms_ok and migrated else 1
    except DemoError as error:
        demo.say("demo failed: %s" % error)
        return 1
    finally:
        demo.stop_simulator()


if __name__ == "__main__":
    sys.exit(main())
