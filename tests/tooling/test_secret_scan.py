"""No password anywhere it must not be: clone_cluster, a day-2 change and sync run at -vvvv against the simulator.

The playbooks run the way the demo runs them (scripts/demo.py), with ANSIBLE_LOG_PATH set, ANSIBLE_KEEP_REMOTE_FILES=1
and Ansible's temporary directories inside the run directory, while a thread samples the argv of every process.
Then the scanner (secret_scanner.py) looks for every test password, as is and base64 encoded, in:
- the Ansible log and the playbooks' -vvvv output (which carries every task result),
- the files Ansible and the modules left behind (kept remote files, local temp, ~/.ansible/tmp),
- the client host's CloudHSM directory (/opt/cloudhsm: configs, logs),
- the argv of every process seen during the runs.
Ansible's own AnsiballZ wrapper files are the one exception: with ANSIBLE_KEEP_REMOTE_FILES=1 Ansible itself keeps
each task's arguments, passwords included, in them (docs/security.md says so); everything else in those directories
is scanned.
"""

import os
import re
import stat
import sys
import time

import pytest

from secret_scanner import ProcessSampler, SecretScanner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import demo  # noqa: E402  (the flow make demo and tests/e2e use)

pytestmark = pytest.mark.client_host

CLIENT_ROOT = "/opt/cloudhsm"
ANSIBALLZ_PREFIX = "AnsiballZ_"


class VerboseRun(demo.DemoRun):
    """The demo's run, at -vvvv, logging to ANSIBLE_LOG_PATH and keeping every temporary file in the run dir."""

    def start_simulator(self):
        endpoint = super().start_simulator()
        self.ansible_log = os.path.join(self.run_dir, "ansible.log")
        self.remote_tmp = os.path.join(self.run_dir, "remote-tmp")
        self.local_tmp = os.path.join(self.run_dir, "local-tmp")
        # Without pipelining, so that every task's module and arguments go through the temporary files scanned here.
        self.env.update(ANSIBLE_LOG_PATH=self.ansible_log, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_PIPELINING="0",
                        ANSIBLE_REMOTE_TMP=self.remote_tmp, ANSIBLE_LOCAL_TEMP=self.local_tmp)
        return endpoint

    def playbook_command(self, path, *args, **kwargs):
        return super().playbook_command(path, *args, **kwargs) + ["-vvvv"]


def files_under(root):
    for directory, _dirs, files in os.walk(root):
        for name in files:
            yield os.path.join(directory, name)


def scanned_run(base):
    """Runs the four playbooks with the sampler on; returns (run, scanner, sampler, runs, start time)."""
    run = VerboseRun("5", str(base / "run"), out=sys.stderr)
    run.prepare_run_dir()
    run.reset_client()
    run.start_simulator()
    started = time.time()
    try:
        run.build_package()
        run.write_secrets()
        scanner = SecretScanner({"password of %s" % name: value for name, value in run.passwords.items()})
        with ProcessSampler(scanner) as sampler:
            runs = [run.run_playbook(name, progress=False) for name in
                    ("prepare_network.yml", "clone_cluster.yml", "add_user_and_key.yml", "sync.yml")]
        assert run.report()["match"]
    finally:
        run.stop_simulator()
    return run, scanner, sampler, runs, started


def leftover_findings(run, scanner, started):
    """Findings in the files Ansible and the modules left (but Ansible's AnsiballZ wrappers) and the run dir."""
    findings, scanned_files = [], 0
    for root in (run.remote_tmp, run.local_tmp, os.path.expanduser("~/.ansible/tmp")):
        for path in files_under(root):
            if os.path.basename(path).startswith(ANSIBALLZ_PREFIX):
                continue
            try:
                if os.path.islink(path) or os.lstat(path).st_mtime < started - 1:
                    continue
            except FileNotFoundError:
                continue
            scanned_files += 1
            findings.extend(scanner.scan_file(path))
    # Every other file of the run directory but the secrets file the operator gave (the playbooks' input).
    for path in files_under(run.run_dir):
        if path == run.secrets_file or path.startswith((run.remote_tmp, run.local_tmp)):
            continue
        scanned_files += 1
        findings.extend(scanner.scan_file(path))
    return findings, scanned_files


def test_playbooks_at_vvvv_leak_no_password(tmp_path):
    # One test (not several on a module fixture) so that pytest-xdist never runs the playbooks twice.
    run, scanner, sampler, runs, started = scanned_run(tmp_path)
    assert all(r.ok for r in runs)

    # The runs were verbose, logged, and kept their files: the scan below had something to look at.
    with open(run.ansible_log) as handle:
        assert re.search(r"<[^>]+> EXEC ", handle.read())  # -vvvv connection detail in ANSIBLE_LOG_PATH
    kept = [p for p in files_under(run.remote_tmp) if os.path.basename(p).startswith(ANSIBALLZ_PREFIX)]
    assert len(kept) > 20, "ANSIBLE_KEEP_REMOTE_FILES left %d module files" % len(kept)

    # Logs and task results (-vvvv prints every result).
    logs = [run.ansible_log] + [os.path.join(run.run_dir, n) for n in os.listdir(run.run_dir) if n.endswith(".log")]
    assert len(logs) >= 5
    assert [f for path in logs for f in scanner.scan_file(path)] == []

    # Leftover files.
    findings, scanned_files = leftover_findings(run, scanner, started)
    assert scanned_files >= 5  # the run dir's logs, network file, CA, package, at least
    assert findings == []

    # The client host's CloudHSM directory.
    assert os.path.isfile(os.path.join(CLIENT_ROOT, "etc", "cloudhsm-cli.cfg"))
    assert scanner.scan_tree(CLIENT_ROOT) == []

    # The argv of every process, sampled during the runs; the sampler saw the playbooks and the client tools.
    assert sampler.samples > 100
    assert sampler.commands_seen("ansible-playbook") and sampler.commands_seen("cloudhsm-cli")
    assert sampler.findings == []

    # Files with secrets or trust material are private to their owner; the client's configuration is root's.
    uid = os.getuid()
    for path, mode in ((run.secrets_file, 0o600), (os.path.join(run.run_dir, "ca", "customerCA.key"), 0o600),
                       (os.path.join(run.run_dir, "ca"), 0o700)):
        info = os.stat(path)
        assert stat.S_IMODE(info.st_mode) == mode, "%s is %o, expected %o" % (path, stat.S_IMODE(info.st_mode), mode)
        assert info.st_uid == uid
    for path in files_under(os.path.join(CLIENT_ROOT, "etc")):
        assert not stat.S_IMODE(os.stat(path).st_mode) & 0o022, path
