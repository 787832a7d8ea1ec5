#!/usr/bin/env bash
# Runs alert_e2e_test.py with the paths of the built binary, the testbed, the protos and the
# test's mail relay and webhook receiver.
set -euo pipefail
root="${TEST_SRCDIR:-$PWD/..}/stswatch"
exec /usr/bin/python3 "$root/tests/e2e/alert_e2e_test.py" "$root/cli/stswatch" \
  "$root/testbed/testbed" "$root/proto" "$root/testbed/scenarios" "$root/tests/e2e/alert_sinks"
