# -*- coding: utf-8 -*-
# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The goals of the benchmarks checked against a run, and RESULTS.md rendered from results.json's document."""

from __future__ import annotations

import os

ANALYSIS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")


def _get(data, *path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _fmt(value, digits=2):
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return ("%%.%df" % digits) % value
    return str(value)


def goals(document):
    """[{"benchmark", "goal", "measured", "met"}] for every goal of the issue that the run measured."""
    results = document["results"]
    rows = []
    key = results.get("key_sync") or {}
    for sdk in ("sdk5", "sdk3"):
        sizes = _get(key, sdk, "sizes") or {}
        if "1000" in sizes and "loop_over_module" in sizes["1000"]:
            row = sizes["1000"]
            rows.append({"benchmark": "1 key sync %s" % sdk.upper(), "goal": ">= 50x faster than the loop at N=1,000",
                         "measured": "%.1fx (loop %s)" % (row["loop_over_module"],
                                                          "measured" if row["loop_measured"] else "extrapolated"),
                         "met": row["loop_over_module"] >= 50})
        for count, row in sorted((_get(key, sdk, "mixed") or {}).items(), key=lambda item: int(item[0])):
            if "loop_over_module" in row:
                rows.append({"benchmark": "1 key sync %s mixed" % sdk.upper(),
                             "goal": ">= 50x faster than the loop at N=%s (pairs and shared keys)" % count,
                             "measured": "%.1fx (loop extrapolated; module / tool %.2fx)" % (
                                 row["loop_over_module"], row["module_over_tool"]),
                             "met": row["loop_over_module"] >= 50})
        if sizes:
            top = str(max(int(n) for n in sizes))
            row = sizes[top]
            rows.append({"benchmark": "1 key sync %s" % sdk.upper(),
                         "goal": "within 1.2x of the tool alone (N=%s, wall time of ansible-playbook)" % top,
                         "measured": "%.2fx (module process alone %.2fx)" % (
                             row["module_over_tool"], row["module_process_over_tool"]),
                         "met": row["module_over_tool"] <= 1.2})
    economy = _get(results, "economy", "summary")
    if economy:
        rows.append({"benchmark": "2 API economy", "goal": "a rerun makes zero mutating calls",
                     "measured": "%s mutating calls (most in any repetition)" % economy["rerun"]["max_mutating_calls"],
                     "met": economy["rerun"]["max_mutating_calls"] == 0})
        rows.append({"benchmark": "2 API economy", "goal": "sync with nothing to do makes zero mutating calls",
                     "measured": "%s mutating calls" % economy["sync"]["max_mutating_calls"],
                     "met": economy["sync"]["max_mutating_calls"] == 0})
        over = sum(len(economy[phase]["tasks_over_two_reads"]) for phase in ("first", "rerun", "sync"))
        rows.append({"benchmark": "2 API economy", "goal": "no resource described more than twice per task",
                     "measured": "%d task(s) over" % over, "met": over == 0})
    for length in _get(results, "waits", "lengths") or []:
        if "error" in length:
            rows.append({"benchmark": "3 waits", "goal": "%s s transition" % length["transition_s"],
                         "measured": length["error"][:200], "met": False})
            continue
        rows.append({"benchmark": "3 waits %s s" % length["transition_s"],
                     "goal": "lag below the poll cap (%s s)" % _fmt(length["poll_cap_s"], 0),
                     "measured": "%s s to detect, %s s to return" % (_fmt(length["lag_to_detect_s"]),
                                                                     _fmt(length["lag_to_return_s"])),
                     "met": length["lag_below_cap"] and not length["failed_runs"]})
        rows.append({"benchmark": "3 waits %s s" % length["transition_s"],
                     "goal": "describes <= log(wait) + wait/cap (bound %d)" % length["call_bound"],
                     "measured": "%s describes" % _fmt(length["describe_calls"], 0),
                     "met": length["calls_within_bound"]})
    fanout = results.get("fanout")
    if fanout and "ratio" in fanout:
        rows.append({"benchmark": "4 fan-out", "goal": "3 regions <= 1.3x the time of 1",
                     "measured": "%.2fx" % fanout["ratio"], "met": fanout["ratio"] <= 1.3})
    rerun = _get(results, "economy", "rerun_time")
    if rerun:
        rows.append({"benchmark": "5 rerun", "goal": "(reported) rerun against as many no-op tasks",
                     "measured": "%.2fx" % rerun["rerun_over_noop"], "met": None})
    critical = results.get("critical_path")
    if critical and "summary" in critical:
        large = max(critical["scales_s"])
        for regions, row in sorted(critical["summary"].items()):
            rows.append({"benchmark": "6 critical path, %s DR region(s)" % regions,
                         "goal": "slope between the scales <= %.1f" % critical["goal"]["slope"],
                         "measured": "%.2f (to DR-ready %.2f)" % (row["slope_wall"], row["slope_ready"]),
                         "met": row["slope_wall"] <= critical["goal"]["slope"]})
            rows.append({"benchmark": "6 critical path, %s DR region(s)" % regions,
                         "goal": "time to DR-ready / critical path <= %.1f at %g s per unit" % (
                             critical["goal"]["ratio"], large),
                         "measured": "%.2fx (whole playbook %.2fx)" % (row["ready_over_critical"],
                                                                       row["wall_over_critical"]),
                         "met": row["ready_over_critical"] <= critical["goal"]["ratio"]})
    for name, value in results.items():
        if isinstance(value, dict) and "error" in value:
            rows.append({"benchmark": name, "goal": "the benchmark ran", "measured": value["error"][:300],
                         "met": False})
    return rows


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def render(document):
    machine = document["machine"]
    plan = document["plan"]
    results = document["results"]
    out = ["# Benchmarks of hsmops.cloudhsm\n"]
    out.append(
        "Produced by `%s` (the Makefile runs `bench/run.py --out bench` from the collection's build-tree copy, "
        "against the local simulator). Every figure below comes from that one run, started %s and finished in "
        "%.0f s (%.1f min). Machine-readable figures: `bench/results.json`.\n"
        % (document["command"], machine["started"], document["total_seconds"], document["total_seconds"] / 60.0))
    out.append("## Machine\n")
    out.append(_table(["cores", "CPU", "memory", "Python", "ansible-core", "boto3", "moto", "load avg start / end"], [[
        machine["cores"], machine["cpu"], "%s MB" % machine["memory_mb"], machine["python"], machine["ansible_core"],
        machine["boto3"], machine["moto"],
        "%s / %s" % (", ".join("%.1f" % x for x in machine["load_average_at_start"]),
                     ", ".join("%.1f" % x for x in machine.get("load_average_at_end", [])))]]))
    out.append(
        "\nThe machine is shared with other test runs (see the load averages), so absolute times move between runs; "
        "each goal is a ratio of runs made in the same lane of the same run. To fit 30 minutes on 2 cores the run "
        "has four lanes side by side: the waits (benchmark 3, idle while polling), economy and rerun (2 and 5), "
        "fan-out (4) and key sync (1); the critical-path lane (6) runs after them, alone. Lane times: %s.\n"
        % ", ".join("%s %.0f s" % item for item in sorted(results.get("lane_seconds", {}).items())))
    out.append("Repetitions: %d of every case; medians are shown. Exceptions are said where they apply.\n"
               % plan["repetitions"])
    out.append("\n## Goals\n")
    out.append(_table(["benchmark", "goal", "measured", "met"],
                      [[g["benchmark"], g["goal"], g["measured"], "-" if g["met"] is None else g["met"]]
                       for g in document["goals"]]))
    out.extend(_key_sync(results.get("key_sync") or {}, plan))
    out.extend(_economy(results.get("economy")))
    out.extend(_waits(results.get("waits") or {}))
    out.extend(_fanout(results.get("fanout") or {}))
    out.extend(_rerun(_get(results, "economy", "rerun_time")))
    out.extend(_critical_path(results.get("critical_path")))
    out.extend(_profiles(_get(results, "key_sync", "profiles") or {}))
    if os.path.exists(ANALYSIS):
        with open(ANALYSIS) as handle:
            out.append("\n" + handle.read())
    return "\n".join(out)


def _key_sync(data, plan):
    out = ["\n## 1. Key sync at scale (`cloudhsm_key_sync`)\n"]
    if "error" in data:
        return out + ["Failed: `%s`\n" % data["error"]]
    out.append(
        "Per SDK and N, a source cluster holds N keys of one crypto user; each run copies them to a fresh clone "
        "(created from a backup taken before the keys existed). *module*: `ansible-playbook "
        "bench/playbooks/key_sync.yml` wall time; *process*: life of the module's own process (from /proc); "
        "*peak RSS*: the module process's VmHWM. *tool alone* (baseline a): the same replications typed into one "
        "client session. *loop* (baseline b): `bench/playbooks/key_loop.yml`, one `ansible.builtin.command` per key; "
        "measured at %s keys and with an empty loop (%d runs each), larger N extrapolated linearly "
        "(fixed cost + N x per-key cost), marked *extrap.*. Module and tool runs alternate.\n"
        % (", ".join(str(n) for n in plan["loop_sizes"]), plan["repetitions"]))
    for sdk in ("sdk5", "sdk3"):
        if sdk not in data:
            continue
        loop = data[sdk]["loop"]
        rows = []
        for count, row in sorted(data[sdk]["sizes"].items(), key=lambda item: int(item[0])):
            rows.append([int(count), row["module_wall_s"], row["module_process_s"], row["module_keys_per_s"],
                         row["module_peak_rss_mb"], row["tool_wall_s"], row["tool_keys_per_s"],
                         "%.2fx" % row["module_over_tool"],
                         "%s%s" % (_fmt(row.get("loop_wall_s"), 1), "" if row.get("loop_measured") else " extrap."),
                         "%sx" % _fmt(row.get("loop_over_module"), 1)])
        out.append("\n### SDK %s\n" % sdk[-1])
        out.append(_table(["N", "module s", "process s", "keys/s", "peak RSS MB", "tool alone s", "tool keys/s",
                           "module / tool", "loop s", "loop / module"], rows))
        mixed = data[sdk].get("mixed") or {}
        if mixed:
            out.append("\nMixed set (N key objects: 60% the objects of key pairs, two EC P-256 pairs and one RSA "
                       "2048 pair in every ten objects; 20% AES keys shared with a second crypto user; 20% plain AES "
                       "keys). The module reports a pair as one entry (*entries*); the tool alone and the loop copy "
                       "each object.\n")
            out.append(_table(["N objects", "entries", "module s", "process s", "tool alone s", "module / tool",
                               "loop s", "loop / module"],
                              [[int(count), row["entries"], row["module_wall_s"], row["module_process_s"],
                                row["tool_wall_s"], "%.2fx" % row["module_over_tool"],
                                "%s extrap." % _fmt(row.get("loop_wall_s"), 1),
                                "%sx" % _fmt(row.get("loop_over_module"), 1)]
                               for count, row in sorted(mixed.items(), key=lambda item: int(item[0]))]))
        if loop.get("per_key_s") is not None:
            out.append("\nLoop model: %.2f s fixed + %.3f s per key (measured: %s).\n" % (
                loop["fixed_s"], loop["per_key_s"],
                ", ".join("%s keys %.1f s" % (n, m["wall_s"]) for n, m in sorted(loop["measured"].items(),
                                                                                 key=lambda i: int(i[0])))))
    return out


def _economy(data):
    out = ["\n## 2. API economy (`playbooks/clone_cluster.yml`, `playbooks/sync.yml`)\n"]
    if not data or "error" in data:
        return out + ["Failed: `%s`\n" % (data or {}).get("error")]
    summary = data["summary"]
    out.append(
        "Calls from the simulator's request log (`GET /_sim/requests`), every service (cloudhsmv2 and EC2), cut "
        "into tasks by the moment each task header appeared on the playbook's output. One source region and one DR "
        "region, SDK 5, as `make demo` (the demo's vars with the clone renamed). Transitions take 0 s.\n")
    rows = []
    for phase, label in (("first", "first clone_cluster"), ("rerun", "clone_cluster rerun"),
                         ("sync", "sync, nothing to do")):
        row = summary[phase]
        rows.append([label, row["seconds"], row["calls"], row["mutating_calls"], row["changed"],
                     len(row["tasks_over_two_reads"])])
    out.append(_table(["run", "wall s", "calls", "mutating", "changed tasks", "tasks reading one kind > 2x"], rows))
    for phase in ("first", "rerun", "sync"):
        out.append("\nCalls by operation, %s (last repetition): %s\n" % (phase, ", ".join(
            "%s %d" % item for item in summary[phase]["by_operation"].items()) or "none"))
    over = [(phase, task) for phase in ("first", "rerun", "sync") for task in summary[phase]["tasks_over_two_reads"]]
    if over:
        out.append("\nTasks that read one kind of resource in one region more than twice (the log carries no "
                   "resource ids; every loop of these playbooks has at most one item per region, so per "
                   "operation and region is per resource):\n")
        out.append(_table(["run", "task", "reads", "of"], [[p, t["task"], t["max_reads_of_one_kind"],
                                                            t["max_reads_kind"]] for p, t in over]))
    return out


def _waits(data):
    out = ["\n## 3. Waits (`cloudhsm_cluster` create with a slow CREATE_IN_PROGRESS)\n"]
    if not data or "error" in data:
        return out + ["Failed: `%s`\n" % (data or {}).get("error")]
    policy = data["policy"]
    out.append(
        "`cluster_create` set to %s through `POST /_sim/transitions` (one simulator per length). "
        "The waiter (`StateWaiter` in `plugins/module_utils/cloudhsm.py`) polls after %.0f s, then each delay x%.1f, "
        "capped at %.0f s. The repetitions of one length run at the same time in separate regions (told apart in the "
        "request log), so each length is waited for once. *detect*: last DescribeClusters minus the state change "
        "(CreateCluster time + transition); *return*: module exit (`ansible localhost -m`) minus the state change. "
        "*expected*: polls of the waiter's own schedule; *bound*: back-off steps to the cap "
        "+ wait/cap + 2 (lookup by name, one spare).\n" % (
            ", ".join("%s s" % length["transition_s"] for length in data["lengths"]), policy["first_delay_s"],
            policy["factor"], policy["cap_s"]))
    rows = []
    for length in data["lengths"]:
        if "error" in length:
            rows.append([length["transition_s"], "error", "", "", "", "", ""])
            continue
        rows.append([length["transition_s"], length["repetitions"], length["lag_to_detect_s"],
                     length["lag_to_return_s"], length["describe_calls"], length["waiter_polls_expected"],
                     length["call_bound"]])
    out.append(_table(["transition s", "runs", "lag detect s", "lag return s", "DescribeClusters",
                       "expected polls", "bound"], rows))
    return out


def _fanout(data):
    out = ["\n## 4. Fan-out: clone_cluster to 1 and to 3 DR regions\n"]
    if not data or "error" in data:
        return out + ["Failed: `%s`\n" % (data or {}).get("error")]
    out.append(
        "`cloudhsm_dr_clones` with 1 region (us-west-2) and with 3 (us-west-2, eu-west-1, ap-southeast-2); every "
        "transition set to %s s; first runs on fresh simulators, alternating the order.\n" % data["transition_s"])
    out.append(_table(["DR regions", "wall s (median)", "runs"],
                      [[1, data["one_region_s"], ", ".join(str(x) for x in data["runs"]["1"])],
                       [3, data["three_regions_s"], ", ".join(str(x) for x in data["runs"]["3"])]]))
    out.append("\nRatio 3 / 1: **%.2fx** (goal <= 1.3x).\n" % data["ratio"])
    return out


def _rerun(data):
    out = ["\n## 5. Idempotent rerun against no-op tasks\n"]
    if not data:
        return out + ["Not measured (the economy benchmark failed).\n"]
    out.append(
        "The clone_cluster rerun (every task finds its work done) against a playbook of as many "
        "`ansible.builtin.ping` tasks as the rerun ran (%d, skipped ones included), same lane.\n" % data["noop_tasks"])
    out.append(_table(["rerun s", "no-op playbook s", "rerun / no-op"],
                      [[data["rerun_s"], data["noop_s"], "%.2fx" % data["rerun_over_noop"]]]))
    return out


def _profiles(profiles):
    if not profiles:
        return []
    out = ["\n## Profiles\n"]
    for sdk, profile in sorted(profiles.items()):
        out.append("\ncProfile of one `cloudhsm_key_sync` run, %s, N=%d (run directly with the module's arguments, "
                   "%.1f s under the profiler), functions by self time:\n" % (sdk.upper(), profile["keys"],
                                                                              profile["wall_s"]))
        out.append(_table(["function", "calls", "self s", "cumulative s"],
                          [[r["function"], r["calls"], r["self_s"], r["cumulative_s"]]
                           for r in profile["top_self"][:8]]))
    return out


def _critical_path(data):
    if data is None:
        return []
    out = ["\n## 6. Critical path: clone_cluster from nothing to a DR-ready clone\n"]
    if "error" in data:
        return out + ["Failed: `%s`\n" % data["error"]]
    units = data["units"]
    out.append(
        "The first `playbooks/clone_cluster.yml` run on a fresh simulator (the demo's settings, SDK 5, every clone in "
        "two availability zones), the service's transitions in units: cluster create %d, HSM create %d, initialize "
        "%d, backup %d, copy %d. Critical path: source cluster create + first HSM + initialize + activation backup + "
        "copy + clone create + clone HSM = %d units. Scales: %s s per unit. *wall*: the whole ansible-playbook run "
        "(client install, activation, users and keys, reconcile included); *to DR-ready*: from the source's "
        "CreateCluster to the poll that saw the last clone HSM ACTIVE (request log). *slope*: (larger - smaller) / "
        "(critical at the larger - at the smaller), the structural ratio without the fixed cost.\n" % (
            units["cluster_create"], units["hsm_create"], units["cluster_initialize"], units["backup_create"],
            units["backup_copy"], data["critical_units"], " and ".join("%g" % x for x in data["scales_s"])))
    rows = []
    for run in sorted(data["runs"].values(), key=lambda item: (item["regions"], item["unit_s"])):
        rows.append([run["regions"], run["unit_s"], run["critical_s"], run["wall_s"], run["to_dr_ready_s"],
                     "%.2fx" % (run["wall_s"] / run["critical_s"]),
                     "%.2fx" % (run["to_dr_ready_s"] / run["critical_s"]) if run["to_dr_ready_s"] else "n/a",
                     run["clone_hsms_created_together"]])
    out.append(_table(["DR regions", "s per unit", "critical s", "wall s", "to DR-ready s", "wall / critical",
                       "DR-ready / critical", "clone HSMs created together"], rows))
    out.append("\n")
    out.append(_table(["DR regions", "slope (wall)", "slope (to DR-ready)", "DR-ready / critical at the larger scale",
                       "wall / critical at the larger scale", "fixed cost in wall s", "goals met"],
                      [[regions, row["slope_wall"], row["slope_ready"], row["ready_over_critical"],
                        row["wall_over_critical"], row["fixed_wall_s"], row["met"]]
                       for regions, row in sorted(data["summary"].items())]))
    for run in sorted(data["runs"].values(), key=lambda item: (item["regions"], -item["unit_s"])):
        if run["unit_s"] != max(data["scales_s"]):
            continue
        out.append("\nTimeline of mutating calls, %d DR region(s), %g s per unit (seconds from the playbook's start; "
                   "DR-ready seen at %s s):\n" % (run["regions"], run["unit_s"], _fmt(run["dr_ready_at_s"])))
        out.append(_table(["t s", "call", "region"], [[e["t"], e["call"], e["region"]] for e in run["timeline"]]))
        out.append("\nTime beyond each link's transition (playbook, client tools, polling lag):\n")
        out.append(_table(["link", "s"], [[k, v] for k, v in run["beyond_transition_s"].items()]))
        if run.get("polling_lag_s"):
            out.append("\nPolling lag per wait of the chain (first read after the state change minus the change; "
                       "n/a: nothing polled while it ran, the playbook came to it after the change):\n")
            out.append(_table(["wait", "lag s"], [[k, v] for k, v in run["polling_lag_s"].items()]))
    return out
