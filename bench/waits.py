# -*- coding: utf-8 -*-
# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark 3: how soon cloudhsm_cluster returns after a slow CreateCluster finishes, and how many describes it made.

One simulator per transition length (``cluster_create`` set through ``POST /_sim/transitions``). The repetitions of
one length run at the same time, each in its own region, so the request log tells them apart by region and the
10-minute case costs 10 minutes once rather than three times. The state change happens at the CreateCluster
request's time plus the transition length; the lag to detection is the last DescribeClusters of that region minus
that moment, the lag to return is the module's exit (``ansible localhost -m``) minus that moment.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import threading
import time

from common import ANSIBLE, Simulator, log, make_subnet, median

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
# The waiter's schedule (plugins/module_utils/cloudhsm.py StateWaiter defaults).
FIRST_DELAY, FACTOR, CAP = 1.0, 1.15, 15.0


def expected_polls(seconds):
    """Polls the waiter makes until the first one at or after ``seconds`` (its own schedule, no overheads)."""
    elapsed, delay, polls = 0.0, FIRST_DELAY, 0
    while True:
        elapsed += delay
        polls += 1
        if elapsed >= seconds:
            return polls
        delay = min(delay * FACTOR, CAP)


def call_bound(seconds):
    """The goal: calls growing no faster than log of the wait plus the wait over the cap. Concretely the number
    of back-off steps before the cap, plus wait/cap polls at the cap, plus the lookup by name and one spare."""
    backoff_steps = int(math.ceil(math.log(CAP / FIRST_DELAY) / math.log(FACTOR)))
    return backoff_steps + int(math.ceil(seconds / CAP)) + 2


def one_create(sim, region, subnet, outcome):
    args = {"name": "bench-wait-%s" % region, "region": region, "hsm_type": "hsm2m.medium", "mode": "FIPS",
            "subnet_ids": [subnet], "endpoint_url": sim.endpoint, "access_key": "testing",
            "secret_key": "testing", "wait": True, "wait_timeout": 1800}
    started = time.time()
    result = subprocess.run([ANSIBLE, "localhost", "-c", "local", "-i", "localhost,", "-m",
                             "hsmops.cloudhsm.cloudhsm_cluster", "-a", json.dumps(args)],
                            env=sim.env, capture_output=True, text=True, check=False)
    outcome[region] = {"start": started, "end": time.time(), "rc": result.returncode,
                       "output": result.stdout[-2000:] + result.stderr[-2000:]}


def run_length(seconds, repetitions, work_dir):
    regions = REGIONS[:repetitions]
    with Simulator(os.path.join(work_dir, "sim-wait-%d.log" % seconds)) as sim:
        subnets = {region: make_subnet(sim, region, "10.%d" % (80 + index)) for index, region in enumerate(regions)}
        sim.set_transitions(cluster_create=seconds)
        since = sim.last_seq()
        outcome = {}
        threads = [threading.Thread(target=one_create, args=(sim, region, subnets[region], outcome))
                   for region in regions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        entries = [e for e in sim.requests(since) if e["service"] == "cloudhsmv2"]
    runs = []
    for region in regions:
        mine = [e for e in entries if e["region"] == region]
        created = [e for e in mine if e["operation"] == "CreateCluster"]
        if outcome[region]["rc"] != 0 or not created:
            runs.append({"region": region, "error": outcome[region]["output"]})
            continue
        changed_at = created[0]["time"] + seconds
        describes = [e for e in mine if e["operation"] == "DescribeClusters"]
        after = [e for e in describes if e["time"] > created[0]["time"]]
        runs.append({
            "region": region,
            "describe_calls": len(describes),
            "describe_calls_while_waiting": len(after),
            "other_calls": sorted({e["operation"] for e in mine} - {"DescribeClusters"}),
            "lag_to_detect_s": round(after[-1]["time"] - changed_at, 2) if after else None,
            "lag_to_return_s": round(outcome[region]["end"] - changed_at, 2),
            "module_run_s": round(outcome[region]["end"] - outcome[region]["start"], 2),
        })
    good = [r for r in runs if "error" not in r]
    summary = {
        "transition_s": seconds,
        "repetitions": len(regions),
        "failed_runs": len(runs) - len(good),
        "lag_to_detect_s": median([r["lag_to_detect_s"] for r in good]),
        "lag_to_return_s": median([r["lag_to_return_s"] for r in good]),
        "describe_calls": median([r["describe_calls"] for r in good]),
        "waiter_polls_expected": expected_polls(seconds),
        "call_bound": call_bound(seconds),
        "poll_cap_s": CAP,
        "runs": runs,
    }
    summary["lag_below_cap"] = bool(good) and max(r["lag_to_detect_s"] for r in good) < CAP
    summary["calls_within_bound"] = bool(good) and max(r["describe_calls"] for r in good) <= summary["call_bound"]
    log("wait %d s: lag %.1f s to detect, %.1f s to return, %s describes (bound %d)"
        % (seconds, summary["lag_to_detect_s"] or -1, summary["lag_to_return_s"] or -1,
           summary["describe_calls"], summary["call_bound"]))
    return summary


def run(lengths, repetitions, work_dir):
    """Every length at once (separate simulators), each with its repetitions in parallel regions."""
    results = {}

    def worker(seconds):
        try:
            results[seconds] = run_length(seconds, repetitions, work_dir)
        except Exception as error:  # pylint: disable=broad-except
            results[seconds] = {"transition_s": seconds, "error": str(error)}

    threads = [threading.Thread(target=worker, args=(seconds,)) for seconds in lengths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"policy": {"first_delay_s": FIRST_DELAY, "factor": FACTOR, "cap_s": CAP},
            "lengths": [results[seconds] for seconds in lengths]}
