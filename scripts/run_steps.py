"""Run make targets in lanes and print how long each took, also when one fails.

    python run_steps.py lint,sanity,units e2e,chaos-fast      two lanes side by side
    python run_steps.py lint sanity                            one step after another
    python run_steps.py e2e, integration,                      two lanes of one step each

Each argument with a comma is a lane: its steps run one after another; the lanes run side by side. The build tree
is synced once before the lanes start, and the steps do not sync it again (a sync in one lane would change files
under a run of the other). Steps that use the machine's CloudHSM client wait for each other through its lock
(scripts/with_simulator.py), so lanes only overlap where that is safe.

Every line a step prints is shown as it comes, prefixed with the step's name, and kept in build/steps/STEP.log with the
seconds since the step began in front of it.
The first failing step stops the other lanes; its exit code becomes this script's. The table at the end shows where
the time went (start and duration of each step); it is also written to build/test-steps.txt.
"""

import os
import signal
import subprocess
import sys
import threading
import time


class Lanes:
    def __init__(self, lanes, make):
        self.lanes = lanes
        self.make = make
        self.width = max(len(step) for lane in lanes for step in lane)
        self.print_guard = threading.Lock()
        self.failed = threading.Event()
        self.running = {}
        self.timings = []
        self.status = 0
        self.started = time.monotonic()

    def say(self, text):
        with self.print_guard:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def run_step(self, step):
        log_path = os.path.join("build", "steps", step + ".log")
        began = time.monotonic()
        # -o build-tree: the tree was synced once for all lanes.
        proc = subprocess.Popen(
            [self.make, "--no-print-directory", "-o", "build-tree", step],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),  # lines as they come, not when a pipe buffer fills
        )
        self.running[step] = proc
        prefix = "[%-*s] " % (self.width, step) if len(self.lanes) > 1 else ""
        with open(log_path, "wb") as log:
            for raw in proc.stdout:
                # Seconds since the step began, in the kept log only: where a slow step spends its time.
                log.write(b"%7.1f " % (time.monotonic() - began) + raw)
                self.say(prefix + raw.decode("utf-8", "replace").rstrip("\n"))
        status = proc.wait()
        del self.running[step]
        return status, began

    def run_lane(self, lane):
        for step in lane:
            if self.failed.is_set():
                return
            self.say("=== make %s" % step)
            status, began = self.run_step(step)
            stopped = self.failed.is_set() and status != 0
            outcome = "ok" if status == 0 else ("stopped" if stopped else "FAILED (exit %d)" % status)
            self.timings.append((step, began - self.started, time.monotonic() - began, outcome))
            if status != 0 and not stopped:
                self.status = self.status or status
                self.failed.set()
                self.stop_others()
                return

    def stop_others(self):
        for proc in list(self.running.values()):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def run(self):
        os.makedirs(os.path.join("build", "steps"), exist_ok=True)
        threads = [threading.Thread(target=self.run_lane, args=(lane,)) for lane in self.lanes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self.report()

    def report(self):
        rows = sorted(self.timings, key=lambda row: row[1])
        lines = ["%-12s start %6.0f s  took %6.0f s  %s" % row for row in rows]
        lines.append("%-12s %28.0f s" % ("total", time.monotonic() - self.started))
        text = "\n".join(lines)
        self.say("=== time per step\n" + text)
        with open(os.path.join("build", "test-steps.txt"), "w", encoding="utf-8") as out:
            out.write(text + "\n")
        return self.status


def main(args):
    make = os.environ.get("MAKE", "make")
    if any("," in arg for arg in args):
        lanes = [[step for step in arg.split(",") if step] for arg in args]
    else:
        lanes = [list(args)]  # plain step names: one after another
    status = subprocess.call([make, "--no-print-directory", "build-tree"])
    if status != 0:
        return status
    return Lanes(lanes, make).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
