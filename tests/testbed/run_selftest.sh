#!/usr/bin/env bash
# Runs testbed/selftest.py with the given arguments (a Bazel test). The self-test starts real
# servers as root on its own loopback network and stops them before it exits.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
exec "${TEST_SRCDIR}/stswatch/testbed/selftest.py" "$@"
