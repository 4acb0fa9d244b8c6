# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Faults the simulator's cloudhsm_mgmt_util does not produce, put between a driver and that tool.

``install(bin_dir, fault)`` moves the tool aside and puts a proxy in its place: the proxy passes every line and all
output through, except where ``fault`` says otherwise:

- ``refuse_get_attribute``: getAttribute is refused (AWS lists it as a crypto-user command; a cluster may refuse it to
  an admin).
- ``sync_key_asks``, ``sync_key_asks_after_first``: syncKey asks to confirm, on every call or on every call but the
  first (the reference leaves open whether it asks at all).

An injected answer waits until the tool has taken every line passed on before it, and is followed by a blank line
to the tool, so that the tool prints its prompt again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

# Where the tool waits for a line: its prompt, a question, a password prompt.
WAITS = re.compile(rb"aws-cloudhsm> |server (\d+)> |\(y/n\)\?|[Pp]assword: ?|\((R/I/A|R/B/I)\):")


def install(bin_dir, fault):
    tool = os.path.join(str(bin_dir), "cloudhsm_mgmt_util")
    os.rename(tool, tool + ".real")
    with open(tool, "w") as handle:
        handle.write("#!%s\nimport runpy\nrunpy.run_path(%r, init_globals={'REAL': %r, 'FAULT': %r}, "
                     "run_name='__main__')\n" % (sys.executable, os.path.abspath(__file__), tool + ".real", fault))
    os.chmod(tool, 0o755)


class Proxy(object):
    def __init__(self, real):
        self.child = subprocess.Popen([real] + sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pending = 1  # waits for a line still to come: the first prompt, then one a line passed on
        self.server = None
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self.copy)
        self.thread.start()

    def copy(self):
        tail = b""
        while True:
            data = os.read(self.child.stdout.fileno(), 4096)
            if not data:
                break
            os.write(1, data)
            tail += data
            with self.changed:
                end = 0
                for match in WAITS.finditer(tail):
                    self.pending -= 1
                    self.server = match.group(1).decode() if match.group(1) else self.server
                    end = match.end()
                self.changed.notify_all()
            tail = tail[end:][-32:]
        with self.changed:
            self.pending = 0
            self.changed.notify_all()

    def answered(self):
        with self.changed:
            self.changed.wait_for(lambda: self.pending <= 0)

    def forward(self, line):
        with self.changed:
            self.pending += 1
        self.child.stdin.write(line)
        self.child.stdin.flush()

    def say(self, text):
        os.write(1, text.encode())

    def run(self, fault):
        syncs = 0
        for line in iter(sys.stdin.buffer.readline, b""):
            word = line.split()[:1]
            if word == [b"getAttribute"] and fault == "refuse_get_attribute":
                self.answered()
                self.say("getAttribute failed: HSM Error: Permission denied for this operation\n"
                         "getAttribute failed on server %s\n" % self.server)
                line = b"\n"
            elif word == [b"syncKey"] and fault.startswith("sync_key_asks"):
                syncs += 1
                if fault == "sync_key_asks" or syncs > 1:
                    self.answered()
                    self.say("Do you want to continue(y/n)?")
                    if sys.stdin.buffer.readline().strip() != b"y":
                        self.say("syncKey aborted\n")
                        line = b"\n"
            self.forward(line)
        self.child.stdin.close()
        self.thread.join()
        return self.child.wait()


if __name__ == "__main__":
    sys.exit(Proxy(globals()["REAL"]).run(globals()["FAULT"]))
