"""Stand-in for the get-pip bootstrap script that ansible-test downloads from a host these machines cannot reach.

ansible-test runs it as ``python get_pip_X_Y.py [pip options] PACKAGES [--no-setuptools] [--no-wheel]`` inside a fresh
virtual environment. It installs pip with the interpreter's own ensurepip, in a subprocess so that the machine's pip
configuration (index, CA bundle) stays in force, then installs the requested packages with that pip.
"""

import subprocess
import sys


def main():
    args = sys.argv[1:]
    with_setuptools = "--no-setuptools" not in args
    with_wheel = "--no-wheel" not in args
    packages = [arg for arg in args if arg not in ("--no-setuptools", "--no-wheel")]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
    extra = (["setuptools"] if with_setuptools else []) + (["wheel"] if with_wheel else [])
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + packages + extra)


if __name__ == "__main__":
    main()
