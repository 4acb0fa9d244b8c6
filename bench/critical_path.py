# -*- coding: utf-8 -*-
# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark 6: the time from nothing to a DR-ready clone against the chain of waits nothing can overlap.

The first ``playbooks/clone_cluster.yml`` run on a fresh simulator (clone_flow.Flow: the demo's settings, SDK 5,
every clone in two availability zones), with the service's transitions in relative units: cluster create 20, HSM
create 40, initialize 10, backup 10, copy 15. The critical path is the chain no playbook can overlap: source cluster
create + first HSM + initialize + activation backup + copy + clone create + clone HSM = 155 units.

Each case runs at two scales (seconds per unit) for 1 and 3 DR regions (the two region counts of a scale side by
side, each with its own simulator). Figures per run:
- *wall*: the whole ansible-playbook run; *to DR-ready*: from the source's CreateCluster to the poll that saw the
  last clone HSM ACTIVE (the simulator's request log);
- ratios of both to the critical path at the larger scale;
- the slope between the scales, (wall at the larger - wall at the smaller) / (critical at the larger - at the
  smaller): the structural ratio, free of the fixed cost of Ansible and the client tools;
- the timeline of mutating calls, and per link of the chain the time beyond its transition (what the playbook and
  the waiters' polling add).
"""

from __future__ import annotations

import json
import os
import threading
import time

import clone_flow
from common import BenchError, log

UNITS = {"cluster_create": 20, "hsm_create": 40, "cluster_initialize": 10, "backup_create": 10, "backup_copy": 15}
CRITICAL_UNITS = (UNITS["cluster_create"] + UNITS["hsm_create"] + UNITS["cluster_initialize"] + UNITS["backup_create"]
                  + UNITS["backup_copy"] + UNITS["cluster_create"] + UNITS["hsm_create"])
GOAL_SLOPE = 1.1
GOAL_RATIO = 1.2


def _mutating(requests):
    return [e for e in requests if e.get("mutating") and e.get("status", 200) < 400]


def _first(entries, operation, region=None, after=0.0):
    for entry in entries:
        if entry["operation"] == operation and entry["time"] >= after and (region is None or entry["region"] == region):
            return entry
    return None


def chain_of(playbook_run, source_region, clone_regions, unit):
    """The critical chain's calls for each clone region, when its last HSM turned ACTIVE and when that was seen."""
    requests = sorted(playbook_run.requests, key=lambda e: e["time"])
    mutating = _mutating(requests)
    create = _first(mutating, "CreateCluster", source_region)
    first_hsm = _first(mutating, "CreateHsm", source_region)
    initialize = _first(mutating, "InitializeCluster", source_region)
    links = {}
    for region in clone_regions:
        clone = _first(mutating, "CreateCluster", region)
        clone_hsms = [e for e in mutating if e["operation"] == "CreateHsm" and e["region"] == region]
        if not (create and first_hsm and initialize and clone and clone_hsms):
            raise BenchError("the request log lacks a step of the chain to %s" % region)
        active = clone_hsms[-1]["time"] + UNITS["hsm_create"] * unit
        seen = _first([e for e in requests if e["operation"] == "DescribeClusters" and e["region"] == region],
                      "DescribeClusters", region, after=active)
        links[region] = {"clone_create": clone, "clone_hsms": clone_hsms, "active": active,
                         "seen": seen["time"] if seen else None}
    return {"create": create, "first_hsm": first_hsm, "initialize": initialize,
            "copies": [e for e in mutating if e["operation"] == "CopyBackupToRegion"], "regions": links,
            "mutating": mutating}


def polling_lags(requests, chain, source_region, backup_created, unit):
    """Per wait of the chain that was polled while its transition ran: the first read after the state change minus
    the change (what the waiter's schedule adds; a wait that began after the change adds none of it)."""
    reads = [e for e in requests if not e.get("mutating")]

    def lag(start, units, operation, region):
        changed = start + units * unit
        during = [e for e in reads if e["operation"] == operation and e["region"] == region
                  and start < e["time"] < changed]
        after = _first(reads, operation, region, after=changed)
        if not during or after is None:
            return None
        return round(after["time"] - changed, 2)

    lags = {
        "source cluster create": lag(chain["create"]["time"], UNITS["cluster_create"], "DescribeClusters",
                                     source_region),
        "source first HSM": lag(chain["first_hsm"]["time"], UNITS["hsm_create"], "DescribeClusters", source_region),
        "initialize": lag(chain["initialize"]["time"], UNITS["cluster_initialize"], "DescribeClusters", source_region),
        "activation backup": lag(backup_created, UNITS["backup_create"], "DescribeBackups", source_region)
        if backup_created else None,
    }
    first_copy = chain["copies"][0]["time"] if chain["copies"] else None
    for region, link in chain["regions"].items():
        lags["copy to %s" % region] = lag(first_copy, UNITS["backup_copy"], "DescribeBackups", region) \
            if first_copy else None
        lags["clone create in %s" % region] = lag(link["clone_create"]["time"], UNITS["cluster_create"],
                                                  "DescribeClusters", region)
        lags["clone HSMs in %s" % region] = lag(link["clone_hsms"][-1]["time"], UNITS["hsm_create"],
                                                "DescribeClusters", region)
    return lags


def one_run(work_dir, regions, unit):
    name = "critical-%d-%s" % (regions, ("%g" % unit).replace(".", "_"))
    with clone_flow.Flow(os.path.join(work_dir, name), regions=regions, zones=2) as flow:
        flow.sim.set_transitions(**{transition: units * unit for transition, units in UNITS.items()})
        started = time.time()
        first = flow.playbook("clone_cluster.yml", "clone_cluster-first")
        source_region = flow.demo.dr_settings()["cloudhsm_dr_source"]["region"]
        # The backup the copies were made from (activation's): when it was created.
        copied = flow.sim.client("cloudhsmv2", clone_flow.DR_REGIONS[0]["region"]).describe_backups()["Backups"]
        source_ids = [b.get("SourceBackup") for b in copied if b.get("SourceBackup")]
        backups = flow.sim.client("cloudhsmv2", source_region).describe_backups()["Backups"]
        created = [b["CreateTimestamp"].timestamp() for b in backups if b["BackupId"] in source_ids]
        with open(os.path.join(flow.demo.run_dir, "requests.json"), "w") as handle:
            json.dump(first.requests, handle)
    clone_regions = [member["region"] for member in clone_flow.DR_REGIONS[:regions]]
    chain = chain_of(first, source_region, clone_regions, unit)
    try:
        lags = polling_lags(sorted(first.requests, key=lambda e: e["time"]), chain, source_region,
                            created[0] if created else None, unit)
    except Exception as error:  # pylint: disable=broad-except
        lags = {"error": str(error)}
    start_call = chain["create"]["time"]
    seen = [link["seen"] for link in chain["regions"].values()]
    to_ready = (max(seen) - start_call) if all(seen) else None
    critical = CRITICAL_UNITS * unit

    def at(entry_time):
        return round(entry_time - started, 2)

    # What each link of the chain took beyond its transition (Ansible, the client tools, polling lag).
    first_copy = chain["copies"][0]["time"] if chain["copies"] else None
    clone_creates = [link["clone_create"]["time"] for link in chain["regions"].values()]
    clone_hsms = [link["clone_hsms"][0]["time"] for link in chain["regions"].values()]
    over = {
        "source CreateCluster -> first CreateHsm": chain["first_hsm"]["time"] - start_call - UNITS["cluster_create"] * unit,
        "first CreateHsm -> InitializeCluster": chain["initialize"]["time"] - chain["first_hsm"]["time"]
        - UNITS["hsm_create"] * unit,
        "InitializeCluster -> CopyBackupToRegion (initialize, activate, backup)": (
            first_copy - chain["initialize"]["time"] - (UNITS["cluster_initialize"] + UNITS["backup_create"]) * unit
            if first_copy else None),
        "CopyBackupToRegion -> clone CreateCluster (latest region)": (
            max(clone_creates) - first_copy - UNITS["backup_copy"] * unit if first_copy else None),
        "clone CreateCluster -> clone CreateHsm (latest region)": max(
            h - c for h, c in zip(clone_hsms, clone_creates)) - UNITS["cluster_create"] * unit,
        "clone HSMs ACTIVE -> seen (latest region)": max(
            link["seen"] - link["active"] for link in chain["regions"].values()) if all(seen) else None,
    }
    result = {
        "regions": regions,
        "unit_s": unit,
        "critical_s": round(critical, 2),
        "wall_s": round(first.seconds, 2),
        "to_dr_ready_s": round(to_ready, 2) if to_ready is not None else None,
        "changed": first.changed,
        "timeline": [{"t": at(e["time"]), "call": "%s.%s" % (e["service"], e["operation"]), "region": e["region"]}
                     for e in chain["mutating"]],
        "clone_hsms_created_together": all(
            len(link["clone_hsms"]) == 2 and link["clone_hsms"][-1]["time"] - link["clone_hsms"][0]["time"] < 2.0
            for link in chain["regions"].values()),
        "beyond_transition_s": {k: round(v, 2) if v is not None else None for k, v in over.items()},
        "dr_ready_at_s": at(max(seen)) if all(seen) else None,
        "polling_lag_s": lags,
        "polling_lag_total_s": round(sum(v for v in lags.values() if isinstance(v, (int, float))), 2),
    }
    log("critical path: %d region(s), unit %g s: wall %.1f s, to DR-ready %s s, critical %.1f s"
        % (regions, unit, first.seconds, result["to_dr_ready_s"], critical))
    return result


def run(work_dir, scales, region_counts=(1, 3)):
    """Each scale in turn; the region counts of one scale side by side (separate simulators), so the lane takes
    about the two scales' runs, not four."""
    small, large = sorted(scales)
    runs = {}

    def worker(regions, unit, errors):
        try:
            runs["%d@%g" % (regions, unit)] = one_run(work_dir, regions, unit)
        except Exception as error:  # pylint: disable=broad-except
            errors[regions] = error

    for unit in (small, large):
        errors = {}
        threads = [threading.Thread(target=worker, args=(regions, unit, errors)) for regions in region_counts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise BenchError("critical path at %g s per unit: %s" % (unit, "; ".join(
                "%d region(s): %s" % item for item in sorted(errors.items()))))
    summary = {}
    for regions in region_counts:
        low, high = runs["%d@%g" % (regions, small)], runs["%d@%g" % (regions, large)]
        span = high["critical_s"] - low["critical_s"]
        row = {
            "wall_over_critical": round(high["wall_s"] / high["critical_s"], 2),
            "ready_over_critical": round(high["to_dr_ready_s"] / high["critical_s"], 2),
            "slope_wall": round((high["wall_s"] - low["wall_s"]) / span, 2),
            "slope_ready": round((high["to_dr_ready_s"] - low["to_dr_ready_s"]) / span, 2),
            "fixed_wall_s": round(high["wall_s"] - high["critical_s"], 1),
        }
        row["met"] = row["slope_wall"] <= GOAL_SLOPE and row["ready_over_critical"] <= GOAL_RATIO
        summary[str(regions)] = row
    return {"units": UNITS, "critical_units": CRITICAL_UNITS, "scales_s": [small, large], "summary": summary,
            "runs": runs, "goal": {"slope": GOAL_SLOPE, "ratio": GOAL_RATIO}}
