"""The simulator as users install it: the built wheel in a fresh virtualenv, then the README's "rehearse your own
playbooks" walk-through run exactly as written (its shell block is read from simulator/README.md).

Offline: the wheel is built without build isolation, installed with --no-index --no-deps, and the fresh virtualenv
borrows its dependencies (moto, boto3, cryptography) from the project's virtualenv through a .pth file.
"""

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SIMULATOR = os.path.join(ROOT, "simulator")
MARKER = "<!-- rehearsal walk-through -->"


def walkthrough():
    """The shell block that follows the walk-through marker in simulator/README.md."""
    with open(os.path.join(SIMULATOR, "README.md")) as stream:
        text = stream.read()
    assert MARKER in text, "simulator/README.md lost its walk-through marker"
    match = re.match(r"\s*```sh\n(.*?)\n```", text.split(MARKER, 1)[1], re.S)
    assert match, "the walk-through marker must be followed by a ```sh block"
    return match.group(1)


def version():
    with open(os.path.join(SIMULATOR, "cloudhsm_sim", "__init__.py")) as stream:
        return re.search(r'__version__ = "([^"]+)"', stream.read()).group(1)


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, **kwargs)
    assert result.returncode == 0, "{0} failed:\n{1}\n{2}".format(args, result.stdout[-3000:], result.stderr[-3000:])
    return result.stdout


def json_blocks(output):
    """The JSON documents `cloudhsm-sim admin` printed (each starts with a line '{' and ends with a line '}')."""
    return [json.loads(block) for block in re.findall(r"^\{\n.*?^\}$", output, re.S | re.M)]


def test_wheel_installs_and_the_walkthrough_runs_as_written(tmp_path):
    # Build the wheel from a clean copy (no build artefacts in the work tree), as `python -m build --wheel` does.
    source = tmp_path / "simulator"
    shutil.copytree(SIMULATOR, source,
                    ignore=shutil.ignore_patterns("*.egg-info", "build", "dist", "__pycache__", "*.pyc"))
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(source)])
    wheels = os.listdir(tmp_path / "dist")
    assert wheels == ["cloudhsm_sim-{0}-py3-none-any.whl".format(version())]

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(tmp_path / "dist" / wheels[0])])
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
    with open(os.path.join(site, "project-dependencies.pth"), "w") as stream:
        stream.write(sysconfig.get_paths()["purelib"] + "\n")
    installed = run([python, "-c", "import cloudhsm_sim; print(cloudhsm_sim.__file__)"]).strip()
    assert installed.startswith(site), installed  # the wheel's copy, not the work tree's
    readme = run([python, "-c", "from importlib.metadata import metadata; print(metadata('cloudhsm-sim')['Description'])"])
    assert "Rehearse your own playbooks" in readme

    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), os.path.dirname(sys.executable), env.get("PATH", "")])
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, "build", "collections"))
    env["ANSIBLE_LOCAL_TEMP"] = str(tmp_path / "ansible-tmp")
    env["ANSIBLE_PYTHON_INTERPRETER"] = sys.executable
    for name in ("CLOUDHSM_SIM_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(name, None)
    process = subprocess.Popen(["bash", "-euo", "pipefail", "-c", walkthrough()], cwd=str(work), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output = process.communicate(timeout=180)[0]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, output[-5000:]

    assert "cloudhsm-sim {0}\n".format(version()) in output
    assert not (work / "sim.endpoint").exists()  # serve removes its endpoint file when it stops
    endpoint = (work / "sim.log").read_text().splitlines()[0]  # serve prints its URL first
    assert re.match(r"^http://127\.0\.0\.1:\d+$", endpoint), endpoint
    # The package the tools were built into names the simulator's endpoint.
    deb = work / "packages" / "cloudhsm-cli_5.16.0-1_all.deb"
    tar_bytes = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
        shipped = archive.extractfile("./opt/cloudhsm/etc/simulator-endpoint").read().decode().strip()
    assert shipped == endpoint
    # First run: VPC, subnet, cluster and HSM created; the rerun changes nothing.
    assert re.findall(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", output) == ["4", "0"]
    first, cleared, rerun = json_blocks(output)
    operations = [entry["operation"] for entry in first["requests"]]
    assert operations == ["CreateCluster", "CreateHsm"], operations
    assert all(entry["region"] == "us-east-1" for entry in first["requests"])
    assert cleared["cleared"] > 0
    assert rerun == {"requests": []}
    assert "Traceback" not in output
