"""The secret scanner itself (secret_scanner.py): what it finds, and that its findings never show the secret."""

import subprocess
import sys

from secret_scanner import ProcessSampler, SecretScanner


def test_scanner_finds_a_planted_password(tmp_path):
    """A password in a file (as is or base64) and in a process argv is found and not printed."""
    scanner = SecretScanner({"planted": "Pl4nted-Secret-xyz"})
    (tmp_path / "a.log").write_text("line one\nlogin with Pl4nted-Secret-xyz\n")
    (tmp_path / "b.json").write_text('{"pin": "UGw0bnRlZC1TZWNyZXQteHl6"}')
    found = scanner.scan_tree(str(tmp_path))
    assert sorted(f.where.rsplit("/", 1)[-1] for f in found) == ["a.log:2", "b.json:1"]
    argv_found = scanner.scan_argv(42, [b"tool", b"--password", b"Pl4nted-Secret-xyz"])
    assert len(argv_found) == 1 and "Pl4nted" not in repr(argv_found[0])
    with ProcessSampler(scanner) as sampler:
        subprocess.run([sys.executable, "-c", "import time; time.sleep(0.3)", "Pl4nted-Secret-xyz"], check=True)
    assert [f.label for f in sampler.findings] == ["planted"]
