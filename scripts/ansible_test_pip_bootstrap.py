"""Give ansible-test a pip bootstrap script where it cannot download its own.

ansible-test bootstraps pip in each virtual environment it makes with a get-pip script fetched from its own file
host and cached under ~/.ansible/test/cache. Where that host answers, the real script is cached; where it does not,
the stand-in from scripts/get_pip_standin.py is laid at the cache path instead. The URL template is read from the
installed ansible-test, so this follows ansible-test upgrades.
"""

import os
import re
import shutil
import sys
import urllib.request

import ansible_test

HERE = os.path.dirname(os.path.abspath(__file__))


def pip_version():
    source = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
    return re.search(r"pip='([0-9.]+)'", source).group(1)


def url_template():
    source = open(os.path.join(os.path.dirname(ansible_test.__file__), "_util", "target", "setup", "requirements.py")).read()
    return re.search(r"url = '([^']+get-pip-%s\.py)'", source).group(1)


def main():
    version = pip_version()
    cache = os.path.expanduser("~/.ansible/test/cache/get_pip_%s.py" % version.replace(".", "_"))
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    try:
        with urllib.request.urlopen(url_template() % version, timeout=5) as response:
            body = response.read()
        with open(cache, "wb") as handle:
            handle.write(body)
        print("pip bootstrap: real get-pip %s cached" % version)
    except Exception as exc:  # any failure to reach the host means the stand-in is needed
        shutil.copyfile(os.path.join(HERE, "get_pip_standin.py"), cache)
        print("pip bootstrap: download unavailable (%s), stand-in laid at %s" % (exc.__class__.__name__, cache))


if __name__ == "__main__":
    sys.exit(main())
