"""Look for secrets where they must never be: files (logs, results, leftovers) and the argv of running processes.

    scanner = SecretScanner(["the-admin-password", ...])
    with ProcessSampler(scanner) as sampler:          # samples /proc/*/cmdline while the block runs
        run_the_playbooks()
    findings = sampler.findings + scanner.scan_tree(log_dir) + scanner.scan_tree(os.path.expanduser("~/.ansible/tmp"))

A finding names where the secret was seen (file and line, or process id and argv) and which secret (by its label,
never its value), so a failing test can print it without leaking the secret itself.
"""

import base64
import os
import threading


class Finding:
    def __init__(self, where, label, context):
        self.where = where
        self.label = label
        self.context = context

    def __repr__(self):
        return "%s: %s (%s)" % (self.where, self.label, self.context)


class SecretScanner:
    """Knows the secrets (label -> value) and the forms they may take in text: as is, and base64 encoded."""

    def __init__(self, secrets):
        if isinstance(secrets, dict):
            items = secrets.items()
        else:
            items = (("secret #%d" % number, value) for number, value in enumerate(secrets, 1))
        self.secrets = {label: value for label, value in items if value}
        if not self.secrets:
            raise ValueError("no secrets to look for")
        self.needles = []
        for label, value in self.secrets.items():
            raw = value.encode()
            self.needles.append((label, raw))
            self.needles.append((label + " (base64)", base64.b64encode(raw).rstrip(b"=")))

    def scan_bytes(self, data, where):
        findings = []
        for label, needle in self.needles:
            start = data.find(needle)
            if start >= 0:
                line = data.count(b"\n", 0, start) + 1
                findings.append(Finding("%s:%d" % (where, line), label, "%d bytes file" % len(data)))
        return findings

    def scan_file(self, path):
        try:
            with open(path, "rb") as handle:
                return self.scan_bytes(handle.read(), path)
        except (IsADirectoryError, FileNotFoundError, PermissionError):
            return []

    def scan_tree(self, root, skip=()):
        """Every regular file under root (or root itself when it is a file), but those whose name is in skip."""
        if os.path.isfile(root):
            return self.scan_file(root)
        findings = []
        for directory, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(directory, name)
                if name in skip or os.path.islink(path):
                    continue
                findings.extend(self.scan_file(path))
        return findings

    def scan_argv(self, pid, argv):
        findings = []
        joined = b" ".join(argv)
        for label, needle in self.needles:
            if needle in joined:
                shown = b" ".join(arg if needle not in arg else b"<" + label.encode() + b">" for arg in argv)
                findings.append(Finding("pid %s" % pid, label, shown.decode(errors="replace")[:300]))
        return findings


def process_table():
    """{pid: [argv bytes]} of every process visible in /proc (kernel threads have an empty argv)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                raw = handle.read()
        except OSError:
            continue
        if raw:
            table[int(entry)] = raw.rstrip(b"\0").split(b"\0")
    return table


class ProcessSampler:
    """Reads the argv of every process every ``interval`` seconds in a thread, checking each new argv once."""

    def __init__(self, scanner, interval=0.02):
        self.scanner = scanner
        self.interval = interval
        self.findings = []
        self.samples = 0
        self.seen = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="argv-sampler", daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for pid, argv in process_table().items():
                key = (pid, tuple(argv))
                if key in self.seen:
                    continue
                self.seen.add(key)
                self.findings.extend(self.scanner.scan_argv(pid, argv))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)
        return False

    def commands_seen(self, needle):
        """The distinct argv (as text) seen that contain ``needle`` (proves the sampler saw the tools run)."""
        needle = needle.encode()
        return sorted({b" ".join(argv).decode(errors="replace") for _pid, argv in self.seen
                       if any(needle in arg for arg in argv)})
