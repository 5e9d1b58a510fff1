"""Stand-in for the get-pip.py script ansible-test downloads to seed its venvs.

That download host is unreachable from this network, while PyPI is not: seed pip from the
wheel bundled with CPython (ensurepip), then let that pip install what ansible-test asked
for (its pinned pip version included) from the package index.
"""
import ensurepip
import os
import ssl
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# get-pip.py understands these two flags; pip itself does not.
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
# ansible-test runs this with a trimmed environment, and a fresh pip trusts only its own
# bundled CA list; use the system trust store, which is what this machine's network needs.
system_cafile = ssl.get_default_verify_paths().openssl_cafile
if os.path.exists(system_cafile):
    args = ["--cert", system_cafile] + args
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
