"""Run make targets one after another and print how long each took, also when one fails.

    python run_steps.py lint sanity units ...

Stops at the first failing step (its exit code becomes this script's). The table at the end shows where the time of
`make test` goes; it is also written to build/test-steps.txt.
"""

import os
import subprocess
import sys
import time


def main(steps):
    make = os.environ.get("MAKE", "make")
    timings = []
    status = 0
    started = time.monotonic()
    for step in steps:
        print("=== make %s" % step, flush=True)
        began = time.monotonic()
        status = subprocess.call([make, "--no-print-directory", step])
        timings.append((step, time.monotonic() - began, "ok" if status == 0 else "FAILED (exit %d)" % status))
        if status != 0:
            break
    lines = ["%-12s %7.0f s  %s" % timing for timing in timings]
    lines.append("%-12s %7.0f s" % ("total", time.monotonic() - started))
    report = "\n".join(lines)
    print("=== time per step\n" + report, flush=True)
    os.makedirs("build", exist_ok=True)
    with open(os.path.join("build", "test-steps.txt"), "w", encoding="utf-8") as out:
        out.write(report + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
