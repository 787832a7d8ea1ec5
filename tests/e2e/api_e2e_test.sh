#!/usr/bin/env bash
# Runs api_e2e_test.py with the paths of the built binary, the testbed and the protos.
set -euo pipefail
root="${TEST_SRCDIR:-$PWD/..}/stswatch"
exec /usr/bin/python3 "$root/tests/e2e/api_e2e_test.py" "$root/cli/stswatch" \
  "$root/testbed/testbed" "$root/proto" "$root/testbed/scenarios"
