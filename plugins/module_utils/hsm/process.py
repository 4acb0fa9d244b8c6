# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Running an interactive client tool: one process, commands on stdin, output read until a marker.

Secrets only ever travel on stdin or in the environment; every text that leaves this module (errors, transcripts)
goes through ``scrub`` first.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import tempfile
import time

MASK = "********"


class ToolError(Exception):
    """A client tool failed; the message is already scrubbed of secrets."""


class ToolTimeout(ToolError):
    pass


def scrub(text, secrets):
    """Replace every secret in ``text`` with a mask."""
    if not text:
        return text
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


class ToolSession(object):
    """One running tool. ``send`` writes lines; ``read_until`` returns output up to what ``matcher`` finds.

    ``matcher(buffer)`` returns None when it needs more output, else ``(end, value)``: the buffer up to ``end`` is
    consumed and ``(text, value)`` returned. Output is read with ``select`` so a silent tool ends in a timeout, and
    stderr goes to a file so a chatty tool can never block on a full pipe.
    """

    # start_new_session: the tool gets no controlling terminal, so a password prompt reads stdin, never a TTY.
    def __init__(self, argv, env=None, timeout=60.0, secrets=(), name=None):
        self.name = name or os.path.basename(argv[0])
        self.timeout = timeout
        self.secrets = [secret for secret in secrets if secret]
        self.transcript_tail = ""
        self._buffer = ""
        self._eof = False
        self._stderr = tempfile.TemporaryFile()
        full_env = dict(os.environ)
        full_env.update(env or {})
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                         env=full_env, close_fds=True, start_new_session=True)
        except OSError as exc:
            raise ToolError("cannot run %s (%s): %s" % (self.name, argv[0], exc.strerror or exc))
        self._fd = self.proc.stdout.fileno()

    def add_secret(self, secret):
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    def send(self, text):
        if not text.endswith("\n"):
            text += "\n"
        try:
            self.proc.stdin.write(text.encode("utf-8"))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise ToolError("%s stopped accepting input; last output: %s" % (self.name, self.last_output()))

    def _fill(self, deadline):
        remaining = deadline - time.time()
        if remaining <= 0:
            raise ToolTimeout("%s gave no complete answer within %ss; last output: %s" % (
                self.name, self.timeout, self.last_output()))
        ready = select.select([self._fd], [], [], remaining)[0]
        if not ready:
            return
        chunk = os.read(self._fd, 65536)
        if not chunk:
            self._eof = True
            return
        self._buffer += chunk.decode("utf-8", "replace")

    def read_until(self, matcher, timeout=None):
        deadline = time.time() + (timeout or self.timeout)
        while True:
            found = matcher(self._buffer)
            if found is not None:
                end, value = found
                text, self._buffer = self._buffer[:end], self._buffer[end:]
                self.transcript_tail = (self.transcript_tail + text)[-4000:]
                return text, value
            if self._eof:
                self.transcript_tail = (self.transcript_tail + self._buffer)[-4000:]
                raise ToolError("%s exited (status %s) before answering; last output: %s" % (
                    self.name, self.proc.poll(), self.last_output()))
            self._fill(deadline)

    def last_output(self):
        text = (self.transcript_tail + self._buffer)[-600:].strip()
        err = self.stderr_text()[-600:].strip()
        if err:
            text = (text + " | stderr: " + err).strip(" |")
        return scrub(text, self.secrets) or "(none)"

    def stderr_text(self):
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def close(self, quit_command=None, grace=5.0):
        """End the tool politely, then firmly. Returns the exit status."""
        if self.proc.poll() is None and quit_command:
            try:
                self.send(quit_command)
            except ToolError:
                pass
        try:
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            # The tool leads its own process group (start_new_session): end it with whatever it started.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
            self.proc.wait()
        try:
            self.proc.stdout.close()
        except (OSError, ValueError):
            pass
        self._stderr.close()
        return self.proc.returncode
