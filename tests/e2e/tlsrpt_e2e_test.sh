#!/usr/bin/env bash
# Runs tlsrpt_e2e_test.py with the paths of the built binary, the testbed, the protos and the
# TLS report test data (the shared corpus's reports and e-mails).
set -euo pipefail
root="${TEST_SRCDIR:-$PWD/..}/stswatch"
exec /usr/bin/python3 "$root/tests/e2e/tlsrpt_e2e_test.py" "$root/cli/stswatch" \
  "$root/testbed/testbed" "$root/proto" "$root/testbed/scenarios" "$root/tests/tlsrpt/testdata"
