# -*- coding: utf-8 -*-

# Copyright: Contributors to the hsmops.cloudhsm collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test harness only: prints one JSON object at the end of a run, the last result of each task by name and host,
and the per-host stats (the json callback is not part of ansible-core)."""

from __future__ import annotations

import json

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: harness_results
type: stdout
short_description: Task results and stats as one JSON object (test harness)
description:
  - Prints the last result of each task, by task name and host, and the stats of each host as one JSON object.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "harness_results"

    def __init__(self):
        super().__init__()
        self.tasks = {}

    def _record(self, result, **extra):
        self.tasks.setdefault(result.task_name, {})[result._host.get_name()] = dict(  # pylint: disable=protected-access
            result._result, **extra)  # pylint: disable=protected-access

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_playbook_on_stats(self, stats):
        hosts = dict((host, stats.summarize(host)) for host in sorted(stats.processed))
        self._display.display(json.dumps({"tasks": self.tasks, "stats": hosts}, default=str))
