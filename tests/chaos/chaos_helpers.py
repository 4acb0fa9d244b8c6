"""What the fault tests share: a demo run with fault switches, a playbook killed at a task, the DR set's end state.

A ``ChaosRun`` is the demo's run (scripts/demo.py: simulator, client package, network, settings, secrets) plus the
simulator's admin API (faults, request log, HSM calls) and a way to kill a playbook when it reaches a task.
``converged`` reads the end state from the API and the simulated HSMs themselves (not through the collection).
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

import boto3
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import demo  # noqa: E402  (the flow make demo and tests/e2e use)
from process_tree import kill_run, marked_env  # noqa: E402

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks")
DemoError = demo.DemoError


class SharedClientLock:
    """The client lock of scripts/with_simulator.py, taken once per process and shared by every ChaosRun in it
    (the session's DR set stays alive while the interruption tests make DR sets of their own)."""

    handle = None
    users = 0

    def __init__(self):
        if SharedClientLock.handle is None:
            SharedClientLock.handle = demo.with_simulator.lock_client()
        SharedClientLock.users += 1
        self.open = True

    def close(self):
        if self.open:
            self.open = False
            SharedClientLock.users -= 1
            if SharedClientLock.users == 0:
                SharedClientLock.handle.close()
                SharedClientLock.handle = None


class ChaosRun(demo.DemoRun):
    def __init__(self, run_dir, sdk="5"):
        super().__init__(sdk, run_dir, out=sys.stderr)

    def lock_client(self):
        if self.client_lock is None:
            self.client_lock = SharedClientLock()

    def setup(self, settings=None):
        """Fresh run dir, no client left from earlier runs, a simulator, the client package, secrets, network.
        ``settings``: DR settings that replace the example's of the same name (before the network is made for them)."""
        self.prepare_run_dir()
        if settings:
            self.use_settings(dict(self.dr_settings(), **settings))
        self.reset_client()
        self.start_simulator()
        self.build_package()
        self.write_secrets()
        self.run_playbook("prepare_network.yml", progress=False)
        return self

    # -- the simulator's admin API ------------------------------------------------------------------------
    def sim(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.env["CLOUDHSM_SIM_ENDPOINT"].rstrip("/") + path, data=data,
                                         method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def set_faults(self, **settings):
        return self.sim("POST", "/_sim/faults", settings)["faults"]

    def clear_faults(self):
        self.sim("DELETE", "/_sim/faults")

    def requests(self, since=0, **query):
        params = "&".join("%s=%s" % item for item in dict(query, since=since).items())
        return self.sim("GET", "/_sim/requests?" + params)["requests"]

    def last_seq(self):
        log = self.requests()
        return max((r["seq"] for r in log), default=0)

    def client(self, service, region):
        return boto3.client(service, region_name=region, endpoint_url=self.env["AWS_ENDPOINT_URL"],
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    # -- playbooks ---------------------------------------------------------------------------------------
    def use_settings(self, settings):
        """Run later playbooks with these DR settings (a dict) instead of the example's."""
        path = os.path.join(self.run_dir, "dr-%d.yml" % int(time.monotonic() * 1000))
        with open(path, "w") as handle:
            yaml.safe_dump(settings, handle)
        self.settings = path

    def try_playbook(self, name, log_name=None, extra_vars=None, extra_files=()):
        """Run a playbook (from tests/chaos/playbooks, the examples or playbooks/); never raise on failure.
        Returns (PlaybookRun, output text)."""
        path = os.path.join(PLAYBOOKS, name)
        started = time.monotonic()
        command = self.playbook_command(path if os.path.exists(path) else self._resolve(name), extra_files=extra_files)
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        log_path = os.path.join(self.run_dir, (log_name or os.path.splitext(name)[0]) + ".log")
        result = subprocess.run(command, cwd=demo.ROOT, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, check=False)
        with open(log_path, "w") as handle:
            handle.write(result.stdout)
        recap = {}
        for line in result.stdout.splitlines():
            match = demo.RECAP.match(line)
            if match:
                recap[match.group(1)] = dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups()[1:])))
        return demo.PlaybookRun(name, result.returncode, recap, [], log_path, time.monotonic() - started), result.stdout

    def _resolve(self, name):
        for directory in (demo.EXAMPLES, demo.PLAYBOOKS):
            if os.path.exists(os.path.join(directory, name)):
                return os.path.join(directory, name)
        raise DemoError("no playbook %s" % name)

    def kill_at_task(self, name, task_prefix, log_name, when=None, occurrence=1, extra_files=()):
        """Start a playbook and SIGKILL its whole process tree as soon as it announces a task whose name starts
        with task_prefix (its ``occurrence``-th such task), or when ``when()`` turns true once that task started.
        Returns True when it was killed (and every process of it is gone), False when the playbook ended first."""
        env = self.env
        self.env, marker = marked_env(env)
        try:
            proc, log, _log_path = self.start_playbook(name, log_name=log_name, extra_files=extra_files)
        finally:
            self.env = env
        seen, armed, killed = 0, False, False
        with log:
            for line in proc.stdout:
                log.write(line)
                if line.startswith("TASK [") and task_prefix_of(line).startswith(task_prefix):
                    seen += 1
                    armed = seen >= occurrence
                if armed and when is None:
                    kill_run(proc, marker)
                    killed = True
                    break
                if armed:
                    break
        if armed and when is not None and not killed:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if when():
                    kill_run(proc, marker)
                    killed = True
                    break
                time.sleep(0.01)
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
        return killed

    # -- the HSMs ----------------------------------------------------------------------------------------
    def login(self, hsm, username, password, role="CO"):
        return self.hsm_call("login", hsm=hsm, role=role, username=username, password=password)["session"]

    def keys_of(self, hsm):
        session = self.login(hsm, "admin", self.passwords["admin"])
        try:
            return self.hsm_call("list_keys", hsm=hsm, session=session)["keys"]
        finally:
            self.hsm_call("logout", hsm=hsm, session=session)

    def users_of(self, hsm):
        return sorted((u["name"], u["role"]) for u in self.hsm_call("list_users", hsm=hsm)["users"])

    def generate_keys(self, hsm, owner, password, labels):
        session = self.login(hsm, owner, password, role="CU")
        try:
            for label in labels:
                self.hsm_call("generate_key", hsm=hsm, session=session, key_type="aes", size=32, label=label,
                              extractable=False)
        finally:
            self.hsm_call("logout", hsm=hsm, session=session)

    def cluster(self, role="clone"):
        return next(c for c in self.clusters() if c["role"] == role)


def task_prefix_of(line):
    """The task name of a ``TASK [role : name] ***`` line, without the role prefix."""
    name = line[len("TASK ["):].rsplit("]", 1)[0]
    return name.split(" : ", 1)[-1]


def converged(run):
    """Problems with the DR set's end state ([] when it is right): one live cluster per member, ACTIVE, with the
    HSMs asked for; one copy of the source's backup per clone region, the clone made from it; every cluster
    holding the same users and keys, each key once, the declared users and keys among them."""
    problems = []
    settings = run.dr_settings()
    members = [settings["cloudhsm_dr_source"]] + settings["cloudhsm_dr_clones"]
    clusters = run.clusters()
    for member in members:
        found = [c for c in clusters if c["name"] == member["name"] and c["region"] == member["region"]]
        if len(found) != 1:
            problems.append("%d live clusters named %s in %s" % (len(found), member["name"], member["region"]))
            continue
        cluster = found[0]
        if cluster["state"] != "ACTIVE":
            problems.append("%s is %s" % (member["name"], cluster["state"]))
        hsms = run.client("cloudhsmv2", member["region"]).describe_clusters(
            Filters={"clusterIds": [cluster["cluster_id"]]})["Clusters"][0].get("Hsms", [])
        states = sorted(h["State"] for h in hsms)
        if states != ["ACTIVE"] * len(member["availability_zones"]):
            problems.append("%s has HSMs %s, wants %d ACTIVE" % (member["name"], states, len(member["availability_zones"])))
    for clone in settings["cloudhsm_dr_clones"]:
        copies = [b for b in run.client("cloudhsmv2", clone["region"]).describe_backups()["Backups"]
                  if b.get("SourceBackup") and b.get("BackupState") not in ("PENDING_DELETION", "DELETED")]
        if len(copies) != 1:
            problems.append("%d backup copies in %s" % (len(copies), clone["region"]))
        clone_cluster = [c for c in clusters if c["name"] == clone["name"]]
        if copies and clone_cluster and clone_cluster[0]["source_backup_id"] != copies[0]["BackupId"]:
            problems.append("%s was not made from the copy %s" % (clone["name"], copies[0]["BackupId"]))
    if problems:
        return problems
    report = run.report()
    if not report["match"]:
        problems.append("users or keys differ: %s" % [(c["name"], c["users"], c["keys"]) for c in report["clusters"]])
    for cluster in report["clusters"]:
        labels = [k[0] for k in cluster["keys"]]
        if len(labels) != len(set(labels)):
            problems.append("%s holds duplicate keys: %s" % (cluster["name"], labels))
        for user in [u["name"] for u in settings.get("cloudhsm_dr_users", [])] + ["admin"]:
            if user not in [u[0] for u in cluster["users"]]:
                problems.append("%s lacks user %s" % (cluster["name"], user))
        for key in settings.get("cloudhsm_dr_keys", []):
            if key["label"] not in labels:
                problems.append("%s lacks key %s" % (cluster["name"], key["label"]))
    return problems
