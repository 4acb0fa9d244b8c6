# -*- coding: utf-8 -*-
# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark 1: cloudhsm_key_sync with N missing keys on a clone, against the tool alone and a plain loop.

Per SDK and per N there is one source cluster holding exactly N keys of one crypto user, and a backup of it taken
before the keys were made. Every run gets a fresh clone from that backup (it has the users, none of the keys), so
every run copies N keys:
- module: ``ansible-playbook bench/playbooks/key_sync.yml`` (wall time, and the module process's life and peak RSS
  from /proc);
- tool alone (baseline a): the same replications typed into one client session (``cloudhsm-cli interactive`` /
  ``cloudhsm_mgmt_util``), timed from process start to exit;
- loop (baseline b): ``bench/playbooks/key_loop.yml``, one client command per key, measured at 0 and L keys and
  extrapolated linearly to larger N.

The mixed set (``mixed_sizes``): N key objects of which 60% are the objects of key pairs (two EC P-256 pairs and
one RSA 2048 pair in every ten objects), 20% AES keys shared with a second crypto user and 20% plain AES keys. The
module reports a pair as one entry; the tool alone and the loop copy each object.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time

from common import (ANSIBLE_PLAYBOOK, PLAYBOOKS, BenchError, PeakMemory, create_cluster_with_hsm, initialize_cluster,
                    log, make_subnet, median, run_playbook, wait_until, write_private)

REGION = "us-east-1"
ZONE = REGION + "a"
HSM_TYPES = {"5": "hsm2m.medium", "3": "hsm1.medium"}
OWNER = "bench_cu"
PARTNER = "bench_partner"
# Ten objects of the mixed set: (kind, objects): two EC pairs, one RSA pair, two shared keys, two plain keys.
MIXED_CYCLE = (("ec", 2), ("ec", 2), ("rsa", 2), ("shared", 1), ("shared", 1), ("aes", 1), ("aes", 1))


def tool_env(root):
    env = dict(os.environ)
    for name in ("CLOUDHSM_ROLE", "CLOUDHSM_PIN", "DESTINATION_CLOUDHSM_ROLE", "DESTINATION_CLOUDHSM_PIN"):
        env.pop(name, None)
    env["PATH"] = "/usr/bin" + os.pathsep + env.get("PATH", "")
    env["CLOUDHSM_SIM_ENDPOINT"] = open(os.path.join(root, "etc", "simulator-endpoint")).read().strip()
    return env


class KeySyncBench(object):
    def __init__(self, sim, work_dir, sdk, ca, subnet_prefix):
        from cloudhsm_sim import packaging

        self.sim = sim
        self.sdk = str(sdk)
        self.ca = ca
        self.work_dir = os.path.join(work_dir, "keysync-sdk%s" % self.sdk)
        os.makedirs(self.work_dir, mode=0o700)
        self.root = packaging.install_tree(self.sdk, os.path.join(self.work_dir, "client", "opt", "cloudhsm"),
                                           sim.endpoint)
        with open(os.path.join(self.root, "etc", "customerCA.crt"), "w") as handle:
            handle.write(ca.pem)
        self.bin_dir = os.path.join(self.root, "bin")
        self.sync_config = os.path.join(self.root, "etc", "SyncClusters.cfg")
        self.hsm_client = sim.client("cloudhsmv2", REGION)
        self.subnet = make_subnet(sim, REGION, subnet_prefix)
        self.password = secrets.token_urlsafe(12)
        self.cu_password = secrets.token_urlsafe(12)
        self.secrets_file = write_private(os.path.join(self.work_dir, "secrets.json"),
                                          json.dumps({"bench_admin_password": self.password}))
        self.sources = {}
        self.serial = 0

    # --------------------------------------------------------------------------------------------- set-up
    def make_source(self, count, mixed=False):
        """A source cluster holding ``count`` key objects of OWNER (all AES keys, or the mixed set), and the backup
        (users, no keys) clones start from."""
        started = time.monotonic()
        cluster_id, ip = create_cluster_with_hsm(self.hsm_client, self.subnet, ZONE,
                                                 "bench-src-%s%d" % ("mixed-" if mixed else "", count),
                                                 HSM_TYPES[self.sdk])
        initialize_cluster(self.hsm_client, self.ca, cluster_id)
        self.sim.hsm("activate", hsm=ip, password=self.password)
        admin = self.sim.hsm("login", hsm=ip, role="CO", username="admin", password=self.password)["session"]
        self.sim.hsm("create_user", hsm=ip, session=admin, role="CU", username=OWNER, password=self.cu_password)
        if mixed:
            self.sim.hsm("create_user", hsm=ip, session=admin, role="CU", username=PARTNER,
                         password=self.cu_password)
        self.sim.hsm("logout", session=admin)
        backup_id = self.sim.call("POST", "/_sim/clusters/%s/backup" % cluster_id)["backup"]["BackupId"]
        wait_until(lambda: self.hsm_client.describe_backups(Filters={"backupIds": [backup_id]})["Backups"][0],
                   lambda b: b["BackupState"] == "READY", "backup %s" % backup_id)
        session = self.sim.hsm("login", hsm=ip, role="CU", username=OWNER, password=self.cu_password)["session"]
        handles, entries = [], 0
        kinds = [kind for kind, objects in MIXED_CYCLE for unused in range(objects if kind not in ("ec", "rsa") else 1)]
        while len(handles) < count:
            kind = kinds[entries % len(kinds)] if mixed else "aes"
            label = "bench-%d-%d" % (count, entries)
            if kind in ("ec", "rsa") and count - len(handles) >= 2:
                shape = dict(modulus_bits=2048) if kind == "rsa" else dict(curve="secp256r1")
                made = self.sim.hsm("generate_key_pair", hsm=ip, session=session, key_type=kind, public_label=label,
                                    private_label=label, extractable=False, **shape)
                handles.extend([made["public_key"]["handle"], made["private_key"]["handle"]])
            else:
                share = [PARTNER] if kind == "shared" else []
                key = self.sim.hsm("generate_key", hsm=ip, session=session, key_type="aes", size=32, label=label,
                                   extractable=False, share=share)["key"]
                handles.append(key["handle"])
            entries += 1
        self.sim.hsm("logout", session=session)
        self.sources[(count, mixed)] = {"cluster_id": cluster_id, "ip": ip, "backup_id": backup_id,
                                        "handles": handles, "entries": entries}
        log("SDK %s: source with %d %skey objects (%d entries) ready in %.1f s" % (
            self.sdk, count, "mixed " if mixed else "", entries, time.monotonic() - started))

    def fresh_clone(self, count, mixed=False):
        """A new clone of the N-key source (none of its keys) and the client configured for source + clone."""
        source = self.sources[(count, mixed)]
        self.serial += 1
        clone_id, clone_ip = create_cluster_with_hsm(self.hsm_client, self.subnet, ZONE,
                                                     "bench-clone-%d" % self.serial, HSM_TYPES[self.sdk],
                                                     backup_id=source["backup_id"])
        env = tool_env(self.root)
        if self.sdk == "5":
            cfg = os.path.join(self.root, "etc", "cloudhsm-cli.cfg")
            if os.path.exists(cfg):
                os.unlink(cfg)
            for args in (["--cluster-id", source["cluster_id"], "--region", REGION],
                         ["add-cluster", "--cluster-id", clone_id, "--region", REGION]):
                subprocess.run([os.path.join(self.bin_dir, "configure-cli")] + args, env=env, check=True,
                               capture_output=True)
            return {"source": source["cluster_id"], "destination": clone_id, "clone_ip": clone_ip}
        with open(os.path.join(self.root, "etc", "cloudhsm_mgmt_util.cfg")) as handle:
            base = json.load(handle)
        template = base["servers"][0] if base.get("servers") else {"port": 2225, "enable": "yes"}
        base["servers"] = [dict(template, hostname=ip, name=ip) for ip in (source["ip"], clone_ip)]
        with open(self.sync_config, "w") as handle:
            json.dump(base, handle, indent=4)
        return {"source": "0", "destination": "1", "clone_ip": clone_ip}

    def keys_on(self, clone_ip):
        session = self.sim.hsm("login", hsm=clone_ip, role="CO", username="admin", password=self.password)["session"]
        try:
            return self.sim.hsm("list_keys", hsm=clone_ip, session=session, limit=0)["total"]
        finally:
            self.sim.hsm("logout", session=session)

    def key_refs(self, count, mixed=False):
        handles = self.sources[(count, mixed)]["handles"]
        if self.sdk == "5":
            return ["0x%016x" % handle for handle in handles]
        return [str(handle) for handle in handles]

    # ------------------------------------------------------------------------------------------------ runs
    def playbook_command(self, playbook, clone, count, extra=None):
        variables = {"bench_sdk": self.sdk, "bench_bin_dir": self.bin_dir, "bench_source": clone["source"],
                     "bench_destination": clone["destination"], "bench_owner": OWNER, "bench_expected": count,
                     "bench_client_config": self.sync_config if self.sdk == "3" else ""}
        variables.update(extra or {})
        vars_file = os.path.join(self.work_dir, "vars-%d.json" % self.serial)
        with open(vars_file, "w") as handle:
            json.dump(variables, handle)
        return [ANSIBLE_PLAYBOOK, os.path.join(PLAYBOOKS, playbook), "-i", "localhost,", "-c", "local",
                "-e", "@" + vars_file, "-e", "@" + self.secrets_file]

    def run_module(self, count, mixed=False):
        clone = self.fresh_clone(count, mixed)
        # A key pair is one entry of the module's result.
        command = self.playbook_command("key_sync.yml", clone, self.sources[(count, mixed)]["entries"])
        with PeakMemory("AnsiballZ_cloudhsm_key_sync") as module_proc:
            run = run_playbook(command, self.sim.env, os.path.join(self.work_dir, "module-%d.log" % self.serial))
        copied = self.keys_on(clone["clone_ip"])
        if copied != count:
            raise BenchError("module run left %d of %d keys on the clone" % (copied, count))
        return {"wall_s": round(run.seconds, 3), "module_s": module_proc.seconds, "module_peak_rss_mb": module_proc.peak_mb}

    def run_tool_alone(self, count, mixed=False):
        clone = self.fresh_clone(count, mixed)
        refs = self.key_refs(count, mixed)
        if self.sdk == "5":
            argv = [os.path.join(self.bin_dir, "cloudhsm-cli"), "interactive", "--cluster-id", clone["source"]]
            lines = ["login --username admin --role admin --password=%s" % self.password,
                     "login --username admin --role admin --password=%s --cluster-id %s"
                     % (self.password, clone["destination"])]
            lines += ["key replicate --filter key-reference=%s --source-cluster-id %s --destination-cluster-id %s"
                      % (ref, clone["source"], clone["destination"]) for ref in refs]
            lines.append("quit")
        else:
            argv = [os.path.join(self.bin_dir, "cloudhsm_mgmt_util"), self.sync_config]
            lines = ["loginHSM CO admin -hpswd", self.password, "server 0"]
            lines += ["syncKey %s 1" % ref for ref in refs]
            lines += ["exit", "quit"]
        marker = "cloudhsm-cli" if self.sdk == "5" else "cloudhsm_mgmt_util"
        started = time.monotonic()
        with PeakMemory(marker) as tool_proc:
            result = subprocess.run(argv, input="\n".join(lines) + "\n", env=tool_env(self.root),
                                    capture_output=True, text=True, timeout=1800, check=False)
        seconds = time.monotonic() - started
        copied = self.keys_on(clone["clone_ip"])
        if result.returncode != 0 or copied != count:
            raise BenchError("the tool alone copied %d of %d keys (rc %d): %s"
                             % (copied, count, result.returncode, result.stderr[-400:]))
        return {"wall_s": round(seconds, 3), "tool_peak_rss_mb": tool_proc.peak_mb}

    def profile_module(self, count, top=12, mixed=False):
        """cProfile of one module run (the module file run directly, as AnsiballZ would), hottest functions first."""
        import cProfile
        import pstats

        clone = self.fresh_clone(count, mixed)
        args = {"sdk": self.sdk, "client_bin_dir": self.bin_dir, "source": clone["source"],
                "destinations": [clone["destination"]], "owner": OWNER, "username": "admin",
                "password": self.password, "timeout": 600}
        if self.sdk == "3":
            args["client_config"] = self.sync_config
        args_file = write_private(os.path.join(self.work_dir, "profile-args.json"),
                                  json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        stats_file = os.path.join(self.work_dir, "profile-sdk%s-%d.prof" % (self.sdk, count))
        env = tool_env(self.root)
        collections_path = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(PLAYBOOKS))))
        env["PYTHONPATH"] = os.path.dirname(collections_path)
        started = time.monotonic()
        try:
            subprocess.run([sys.executable, "-m", "cProfile", "-o", stats_file, "-m",
                            "ansible_collections.hsmops.cloudhsm.plugins.modules.cloudhsm_key_sync", args_file],
                           env=env, capture_output=True, text=True, timeout=1800, check=False)
        finally:
            os.unlink(args_file)
        seconds = time.monotonic() - started
        stats = pstats.Stats(stats_file)
        rows = []
        for (filename, line, function), (unused_cc, calls, tottime, cumtime, unused) in stats.stats.items():
            rows.append({"function": "%s:%d(%s)" % (os.path.basename(filename), line, function), "calls": calls,
                         "self_s": round(tottime, 3), "cumulative_s": round(cumtime, 3)})
        rows.sort(key=lambda row: row["self_s"], reverse=True)
        return {"keys": count, "wall_s": round(seconds, 2), "copied": self.keys_on(clone["clone_ip"]),
                "stats_file": stats_file, "top_self": rows[:top]}

    def run_loop(self, count, mixed=False):
        clone = self.fresh_clone(count, mixed)
        refs = self.key_refs(count, mixed)
        command = self.playbook_command("key_loop.yml", clone, count, {"bench_keys": refs})
        run = run_playbook(command, self.sim.env, os.path.join(self.work_dir, "loop-%d.log" % self.serial))
        copied = self.keys_on(clone["clone_ip"])
        if copied != count:
            raise BenchError("the loop left %d of %d keys on the clone" % (copied, count))
        return {"wall_s": round(run.seconds, 3)}


def measure(bench, count, repetitions, mixed=False):
    """Module and tool-alone runs of one N (alternating), as medians and raw runs."""
    runs = {"module": [], "tool": []}
    for repetition in range(repetitions):
        # Alternate the order so that drift in the machine's load hits both sides alike.
        order = ("module", "tool") if repetition % 2 == 0 else ("tool", "module")
        for kind in order:
            runs[kind].append(bench.run_module(count, mixed) if kind == "module"
                              else bench.run_tool_alone(count, mixed))
    module_wall = median([r["wall_s"] for r in runs["module"]])
    tool_wall = median([r["wall_s"] for r in runs["tool"]])
    return {
        "module_wall_s": module_wall,
        "module_process_s": median([r["module_s"] for r in runs["module"]]),
        "module_peak_rss_mb": max(r["module_peak_rss_mb"] or 0 for r in runs["module"]),
        "module_keys_per_s": round(count / module_wall, 1),
        "tool_wall_s": tool_wall,
        "tool_keys_per_s": round(count / tool_wall, 1),
        "tool_peak_rss_mb": max(r["tool_peak_rss_mb"] or 0 for r in runs["tool"]),
        "module_over_tool": round(module_wall / tool_wall, 3),
        "module_process_over_tool": round(median([r["module_s"] for r in runs["module"]]) / tool_wall, 3),
        "entries": bench.sources[(count, mixed)]["entries"],
        "runs": runs,
    }


def run(sim, work_dir, ca, sdks, sizes, loop_sizes, repetitions, mixed_sizes=()):
    """Returns {"sdk5": {...}, "sdk3": {...}} with per-N medians, raw runs, the loop model and the ratios; the mixed
    set's figures under "mixed"."""
    results = {}
    for index, sdk in enumerate(sdks):
        bench = KeySyncBench(sim, work_dir, sdk, ca, "10.%d" % (60 + index))
        loop_source = max(loop_sizes) if loop_sizes else 0
        for count in sorted(set(sizes) | ({loop_source} if loop_source else set())):
            bench.make_source(count)
        for count in mixed_sizes:
            bench.make_source(count, mixed=True)
        per_size = {}
        for count in list(sizes):
            per_size[count] = measure(bench, count, repetitions)
            log("SDK %s N=%d: module %.2f s (process %.2f s), tool alone %.2f s"
                % (sdk, count, per_size[count]["module_wall_s"], per_size[count]["module_process_s"] or 0,
                   per_size[count]["tool_wall_s"]))
        mixed = {}
        for count in mixed_sizes:
            mixed[count] = measure(bench, count, repetitions, mixed=True)
            log("SDK %s mixed N=%d: module %.2f s, tool alone %.2f s"
                % (sdk, count, mixed[count]["module_wall_s"], mixed[count]["tool_wall_s"]))
        loop = {"measured": {}}
        for count in ([0] + list(loop_sizes)) if loop_sizes else []:
            if count == 0:
                walls = []
                for unused in range(repetitions):
                    clone = bench.fresh_clone(loop_source)
                    command = bench.playbook_command("key_loop.yml", clone, 0, {"bench_keys": []})
                    walls.append(run_playbook(command, sim.env, os.path.join(bench.work_dir, "loop-0.log")).seconds)
                loop["measured"][0] = {"wall_s": round(median(walls), 3), "runs": [round(w, 3) for w in walls]}
            else:
                walls = [bench.run_loop(count)["wall_s"] for unused in range(repetitions)]
                loop["measured"][count] = {"wall_s": median(walls), "runs": walls}
            log("SDK %s loop of %d keys: %.2f s" % (sdk, count, loop["measured"][count]["wall_s"]))
        if loop_sizes:
            top = max(loop_sizes)
            fixed = loop["measured"][0]["wall_s"]
            per_key = (loop["measured"][top]["wall_s"] - fixed) / float(top)
            loop["fixed_s"] = round(fixed, 3)
            loop["per_key_s"] = round(per_key, 4)
            # The loop copies one object per command, so the mixed set's loop is its objects' count of commands.
            rows = [(count, row, loop["measured"].get(count)) for count, row in per_size.items()]
            rows += [(count, row, None) for count, row in mixed.items()]
            for count, row, measured in rows:
                loop_wall = measured["wall_s"] if measured else fixed + per_key * count
                row["loop_wall_s"] = round(loop_wall, 2)
                row["loop_measured"] = bool(measured)
                row["loop_over_module"] = round(loop_wall / row["module_wall_s"], 1)
        results["sdk%s" % sdk] = {"sizes": {str(k): v for k, v in per_size.items()}, "loop": loop,
                                  "mixed": {str(k): v for k, v in mixed.items()}}
    return results
