# -*- coding: utf-8 -*-
# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmarks 2, 4 and 5: playbooks/clone_cluster.yml and sync.yml as ``make demo`` runs them.

Each repetition is a fresh simulator and run directory set up by scripts/demo.py's ``DemoRun``, with the DR vars of
``playbooks/examples/simulator/dr.yml`` and the clone list replaced to name 1 or 3 DR regions.
- economy (2): the request log of the first clone_cluster run, of a rerun and of sync.yml with nothing to do, cut
  into tasks by the time each task header appeared on the playbook's output;
- rerun (5): the rerun's wall time against a playbook of as many ``ansible.builtin.ping`` tasks as the rerun ran;
- fan-out (4): first runs to 1 and to 3 DR regions with every transition set to a few seconds.

The playbooks install the simulated client package with the client role (dpkg, /opt/cloudhsm), as the demo does.
So that this never touches the machine's /opt or package database (other runs may be using them), every playbook
runs in a private mount namespace where /opt and the role's download directory are empty directories of the run
and /var/lib/dpkg a copy of the machine's without the CloudHSM client packages.
"""

from __future__ import annotations

import collections
import os
import sys

import yaml

from common import ROOT, Simulator, bench_env, log, median, run_playbook, with_simulator

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import demo  # noqa: E402  pylint: disable=wrong-import-position
import private_client_host  # noqa: E402  pylint: disable=wrong-import-position

DR_REGIONS = (
    {"name": "bench-dr-us-west-2", "region": "us-west-2", "availability_zones": ["us-west-2a"]},
    {"name": "bench-dr-eu-west-1", "region": "eu-west-1", "availability_zones": ["eu-west-1a"]},
    {"name": "bench-dr-ap-southeast-2", "region": "ap-southeast-2", "availability_zones": ["ap-southeast-2a"]},
)


class Flow(object):
    """One DR set against one fresh simulator: the demo's set-up, then timed playbooks and their request logs."""

    def __init__(self, run_dir, regions=1, sdk=5, zones=1):
        self.demo = demo.DemoRun(sdk, run_dir, out=open(os.devnull, "w"))
        self.regions = regions
        self.zones = zones
        self.sim = None

    def __enter__(self):
        d = self.demo
        d.prepare_run_dir()
        self.private_roots()
        # Not DemoRun.start_simulator(): that also takes the machine-wide client lock, which runs in a private
        # namespace do not need (they would only wait for unrelated runs).
        d.proc, endpoint = with_simulator.start_simulator([], os.path.join(d.run_dir, "simulator.log"))
        d.env = bench_env(with_simulator.simulator_env(endpoint))
        self.sim = Simulator(endpoint=endpoint)
        d.build_package()
        d.write_secrets()
        settings = d.dr_settings()
        clones = []
        for member in DR_REGIONS[:self.regions]:
            clone = dict(member)
            clone["availability_zones"] = [member["region"] + suffix for suffix in "abc"[:self.zones]]
            clone["subnet_ids"] = "{{ dr_subnet_ids['%s'] | default([]) }}" % member["region"]
            clones.append(clone)
        settings["cloudhsm_dr_clones"] = clones
        d.settings = os.path.join(d.run_dir, "dr.yml")
        with open(d.settings, "w") as handle:
            handle.write("---\n")
            yaml.safe_dump(settings, handle, default_flow_style=False, sort_keys=False)
        self.playbook("prepare_network.yml")
        return self

    def __exit__(self, *exc):
        self.demo.stop_simulator()

    def private_roots(self):
        """An empty /opt and a package database without the client packages, for the mount namespace."""
        self.roots = private_client_host.private_roots(self.demo.run_dir)

    def isolated(self, command):
        """``command`` in a private mount namespace: this run's /opt, package database and package download dir."""
        return private_client_host.isolated(self.roots, command)

    def playbook(self, name, log_name=None):
        path = os.path.join(demo.EXAMPLES, name)
        if not os.path.exists(path):
            path = os.path.join(demo.PLAYBOOKS, name)
        log_path = os.path.join(self.demo.run_dir, (log_name or os.path.splitext(name)[0]) + ".log")
        since = self.sim.last_seq()
        run = run_playbook(self.isolated(self.demo.playbook_command(path)), self.demo.env, log_path)
        run.requests = self.sim.requests(since)
        return run


def noop_playbook(path, tasks):
    with open(path, "w") as handle:
        handle.write("---\n- name: No-op tasks\n  hosts: localhost\n  gather_facts: false\n  tasks:\n")
        for index in range(tasks):
            handle.write("    - name: No-op %d\n      ansible.builtin.ping:\n" % index)
    return path


def api_profile(run):
    """Calls of one playbook run: totals, by operation, and per task the describes of each operation/region."""
    starts = [task["start"] for task in run.tasks]
    per_task = collections.OrderedDict()
    for entry in run.requests:
        index = max([i for i, start in enumerate(starts) if start <= entry["time"]] or [0])
        task = run.tasks[index] if run.tasks else {"name": "(before the first task)", "items": 0}
        key = "%d %s" % (index, task["name"])
        row = per_task.setdefault(key, {"task": task["name"], "items": task["items"], "calls": 0, "mutating": 0,
                                        "mutating_ops": collections.Counter(), "reads": collections.Counter()})
        row["calls"] += 1
        if entry["mutating"]:
            row["mutating"] += 1
            row["mutating_ops"]["%s.%s" % (entry["service"], entry["operation"])] += 1
        else:
            row["reads"]["%s.%s@%s" % (entry["service"], entry["operation"], entry["region"])] += 1
    tasks = []
    for row in per_task.values():
        worst = row["reads"].most_common(1)
        tasks.append({"task": row["task"], "items": row["items"], "calls": row["calls"], "mutating": row["mutating"],
                      "mutating_ops": dict(row["mutating_ops"]),
                      "max_reads_of_one_kind": worst[0][1] if worst else 0,
                      "max_reads_kind": worst[0][0] if worst else None})
    by_operation = collections.Counter("%s.%s" % (e["service"], e["operation"]) for e in run.requests)
    return {
        "seconds": round(run.seconds, 2),
        "changed": run.changed,
        "tasks_run": len(run.tasks),
        "calls": len(run.requests),
        "mutating_calls": sum(1 for e in run.requests if e["mutating"]),
        "by_operation": dict(sorted(by_operation.items())),
        "tasks": tasks,
        # The log carries no resource ids, so reads are counted per operation and region: every loop of these
        # playbooks has at most one item per region, so that is per resource.
        "tasks_over_two_reads": [t for t in tasks if t["max_reads_of_one_kind"] > 2],
    }


def economy(work_dir, repetitions):
    runs = []
    for repetition in range(repetitions):
        with Flow(os.path.join(work_dir, "economy-%d" % repetition)) as flow:
            first = flow.playbook("clone_cluster.yml", "clone_cluster-first")
            rerun = flow.playbook("clone_cluster.yml", "clone_cluster-rerun")
            sync = flow.playbook("sync.yml", "sync-nothing-to-do")
            noop_path = noop_playbook(os.path.join(flow.demo.run_dir, "noop.yml"), len(rerun.tasks))
            noop = run_playbook(flow.isolated([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                                               noop_path, "-i", "localhost,", "-c", "local"]), flow.demo.env,
                                os.path.join(flow.demo.run_dir, "noop.log"))
        runs.append({"first": api_profile(first), "rerun": api_profile(rerun), "sync": api_profile(sync),
                     "noop_tasks": len(rerun.tasks), "noop_seconds": round(noop.seconds, 2)})
        log("economy %d: first %.0f s / %d calls (%d mutating), rerun %.0f s / %d calls (%d mutating), "
            "sync %.0f s / %d calls, %d no-op tasks %.0f s"
            % (repetition, first.seconds, len(first.requests), runs[-1]["first"]["mutating_calls"], rerun.seconds,
               len(rerun.requests), runs[-1]["rerun"]["mutating_calls"], sync.seconds, len(sync.requests),
               len(rerun.tasks), noop.seconds))
    summary = {}
    for phase in ("first", "rerun", "sync"):
        summary[phase] = {
            "seconds": median([r[phase]["seconds"] for r in runs]),
            "calls": median([r[phase]["calls"] for r in runs]),
            "mutating_calls": median([r[phase]["mutating_calls"] for r in runs]),
            "max_mutating_calls": max(r[phase]["mutating_calls"] for r in runs),
            "changed": max(r[phase]["changed"] for r in runs),
            "tasks_over_two_reads": runs[-1][phase]["tasks_over_two_reads"],
            "by_operation": runs[-1][phase]["by_operation"],
        }
    rerun_time = {
        "rerun_s": summary["rerun"]["seconds"],
        "noop_tasks": runs[-1]["noop_tasks"],
        "noop_s": median([r["noop_seconds"] for r in runs]),
    }
    rerun_time["rerun_over_noop"] = round(rerun_time["rerun_s"] / rerun_time["noop_s"], 2)
    return {"summary": summary, "rerun_time": rerun_time, "runs": runs}


def fanout(work_dir, repetitions, transition_seconds):
    runs = {1: [], 3: []}
    for repetition in range(repetitions):
        for regions in (1, 3) if repetition % 2 == 0 else (3, 1):
            with Flow(os.path.join(work_dir, "fanout-%d-%d" % (repetition, regions)), regions=regions) as flow:
                flow.sim.set_transitions(all=transition_seconds)
                first = flow.playbook("clone_cluster.yml", "clone_cluster-first")
            runs[regions].append(round(first.seconds, 2))
            log("fan-out %d: %d region(s) %.0f s" % (repetition, regions, first.seconds))
    one, three = median(runs[1]), median(runs[3])
    return {"transition_s": transition_seconds, "one_region_s": one, "three_regions_s": three,
            "ratio": round(three / one, 2), "runs": {str(k): v for k, v in runs.items()}}
