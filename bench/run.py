# -*- coding: utf-8 -*-
# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``make bench``: every benchmark of the collection against the local simulator; writes RESULTS.md and results.json.

    cd <collection root in an ansible_collections tree> && python bench/run.py --out DIR [--quick]

Runs from the collection's build-tree copy (ANSIBLE_COLLECTIONS_PATH must find hsmops.cloudhsm and amazon.aws).
Four lanes run side by side so the whole run fits in 30 minutes on 2 cores: the waits (idle most of the time),
the economy and rerun benchmarks, the fan-out benchmark and the key sync benchmark. RESULTS.md says so next to the
figures; every ratio compares runs of the same lane. The critical-path lane runs after them, alone (its figures are
times against the transitions' own).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import clone_flow  # noqa: E402  pylint: disable=wrong-import-position
import common  # noqa: E402  pylint: disable=wrong-import-position
import critical_path  # noqa: E402  pylint: disable=wrong-import-position
import key_sync  # noqa: E402  pylint: disable=wrong-import-position
import report  # noqa: E402  pylint: disable=wrong-import-position
import waits  # noqa: E402  pylint: disable=wrong-import-position

FULL = {"sizes": [100, 1000, 10000], "mixed_sizes": [1000], "loop_sizes": [50], "repetitions": 3,
        "wait_lengths": [30, 120, 600], "fanout_transition_s": 3, "sdks": ["5", "3"], "critical_scales": [0.5, 4.0]}
QUICK = {"sizes": [20, 200], "mixed_sizes": [50], "loop_sizes": [10], "repetitions": 3, "wait_lengths": [5, 20],
         "fanout_transition_s": 1, "sdks": ["5", "3"], "critical_scales": [0.05, 0.15]}


LANES = ("waits", "economy", "fanout", "key_sync", "critical_path")


def lane(name, results, function, *args):
    started = time.monotonic()
    try:
        results[name] = function(*args)
    except Exception as error:  # pylint: disable=broad-except
        common.log("%s failed: %s" % (name, error))
        results[name] = {"error": str(error), "traceback": traceback.format_exc()}
    results.setdefault("lane_seconds", {})[name] = round(time.monotonic() - started, 1)
    common.log("%s done in %.0f s" % (name, time.monotonic() - started))


def key_sync_lane(work_dir, plan):
    with common.Simulator(os.path.join(work_dir, "sim-keysync.log")) as sim:
        ca = common.CertificateAuthority()
        results = key_sync.run(sim, work_dir, ca, plan["sdks"], plan["sizes"], plan["loop_sizes"],
                               plan["repetitions"], plan["mixed_sizes"])
        top = max(plan["sizes"])
        profiles = {}
        for sdk in plan["sdks"]:
            row = results["sdk%s" % sdk]["sizes"][str(top)]
            if row["module_over_tool"] > 1.2:
                bench = key_sync.KeySyncBench(sim, work_dir + "/profile", sdk, ca, "10.%d" % (70 + int(sdk)))
                bench.make_source(top)
                profiles["sdk%s" % sdk] = bench.profile_module(top)
                common.log("SDK %s profiled at N=%d" % (sdk, top))
        results["profiles"] = profiles
        return results


def economy_lane(work_dir, plan):
    return clone_flow.economy(work_dir, plan["repetitions"])


def fanout_lane(work_dir, plan):
    return clone_flow.fanout(work_dir, plan["repetitions"], plan["fanout_transition_s"])


def critical_path_lane(work_dir, plan):
    return critical_path.run(work_dir, plan["critical_scales"])


def write_outputs(document, out_dir):
    """results.json first (so a rendering error loses nothing), then the goals and RESULTS.md."""
    json_path = os.path.join(out_dir, "results.json")
    with open(json_path, "w") as handle:
        json.dump(document, handle, indent=1, sort_keys=True, default=str)
        handle.write("\n")
    document["goals"] = report.goals(document)
    with open(json_path, "w") as handle:
        json.dump(document, handle, indent=1, sort_keys=True, default=str)
        handle.write("\n")
    with open(os.path.join(out_dir, "RESULTS.md"), "w") as handle:
        handle.write(report.render(document))
    common.log("wrote %s/RESULTS.md and results.json" % out_dir)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--out", required=True, help="directory for RESULTS.md and results.json")
    parser.add_argument("--quick", action="store_true", help="small sizes and short waits (a smoke run)")
    parser.add_argument("--work-dir", default=None, help="logs and run directories (default: a new temp dir)")
    parser.add_argument("--render", metavar="RESULTS_JSON", help="only write RESULTS.md again from a results.json")
    parser.add_argument("--lanes", default=",".join(LANES),
                        help="comma-separated lanes to run (default: all of %s); a partial run for one figure" % (
                            ", ".join(LANES)))
    parser.add_argument("--sdks", default=None, help="comma-separated client SDKs for the key sync lane (default 5,3)")
    parser.add_argument("--scales", default=None,
                        help="two comma-separated seconds per unit for the critical-path lane (default %s)" % (
                            ",".join("%g" % x for x in FULL["critical_scales"])))
    parser.add_argument("--sizes", default=None,
                        help="comma-separated N of the key sync lane (default 100,1000,10000); a partial run")
    parser.add_argument("--mixed-sizes", default=None,
                        help="comma-separated N of the key sync lane's mixed set (default 1000; 'none' for none)")
    args = parser.parse_args(argv)
    lanes_wanted = [name.strip() for name in args.lanes.split(",") if name.strip()]
    unknown = sorted(set(lanes_wanted) - set(LANES))
    if unknown:
        parser.error("unknown lane(s) %s; the lanes are %s" % (", ".join(unknown), ", ".join(LANES)))
    if args.render:
        with open(args.render) as handle:
            write_outputs(json.load(handle), args.out)
        return 0
    plan = dict(QUICK if args.quick else FULL)
    if args.sdks:
        plan["sdks"] = [sdk.strip() for sdk in args.sdks.split(",") if sdk.strip()]
    if args.scales:
        plan["critical_scales"] = sorted(float(x) for x in args.scales.split(",") if x.strip())
        if len(plan["critical_scales"]) != 2:
            parser.error("--scales takes two values (seconds per unit), e.g. 0.1,0.3")
    for name, value in (("sizes", args.sizes), ("mixed_sizes", args.mixed_sizes)):
        if value:
            plan[name] = [int(n) for n in value.split(",") if n.strip() and n.strip() != "none"]
    plan["lanes"] = lanes_wanted
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="hsmops-bench-")
    os.makedirs(work_dir, exist_ok=True)
    os.makedirs(os.path.join(work_dir, "profile"), exist_ok=True)
    machine = common.machine_info()
    common.log("benchmarks%s, logs in %s" % (" (quick)" if args.quick else "", work_dir))
    started = time.monotonic()
    results = {}
    background = {
        "waits": (waits.run, plan["wait_lengths"], plan["repetitions"], work_dir),
        "economy": (economy_lane, work_dir, plan),
        "fanout": (fanout_lane, work_dir, plan),
    }
    threads = [threading.Thread(target=lane, args=(name, results) + background[name])
               for name in LANES if name in background and name in lanes_wanted]
    for thread in threads:
        thread.start()
    if "key_sync" in lanes_wanted:
        lane("key_sync", results, key_sync_lane, work_dir, plan)
    for thread in threads:
        thread.join()
    # Last and alone: its figures are times, which the other lanes' load would stretch.
    if "critical_path" in lanes_wanted:
        lane("critical_path", results, critical_path_lane, work_dir, plan)
    machine["load_average_at_end"] = list(os.getloadavg())
    options = (["--quick"] if args.quick else []) + (["--sdks", args.sdks] if args.sdks else []) + (
        ["--scales", args.scales] if args.scales else []) + (
        ["--lanes", ",".join(lanes_wanted)] if lanes_wanted != list(LANES) else []) + (
        ["--sizes", args.sizes] if args.sizes else []) + (["--mixed-sizes", args.mixed_sizes] if args.mixed_sizes else [])
    document = {
        "command": "make bench" + ("  (bench/run.py %s)" % " ".join(options) if options else ""),
        "plan": plan,
        "machine": machine,
        "total_seconds": round(time.monotonic() - started, 1),
        "work_dir": work_dir,
        "results": results,
    }
    os.makedirs(args.out, exist_ok=True)
    write_outputs(document, args.out)
    errors = [name for name, value in results.items() if isinstance(value, dict) and "error" in value]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
