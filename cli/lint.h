#pragma once

// `stswatch lint`: offline validation of a policy file, a `_mta-sts` record set or a `_smtp._tls`
// record set, with a readable report or one JSON object.
//
//   stswatch lint policy [--mx HOST]... [--json] [FILE|-]
//   stswatch lint sts-record [--json] RECORD...
//   stswatch lint tlsrpt-record [--json] RECORD...
//
// Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage or I/O error (message on stderr).

#include "cli/command.h"

namespace stswatch::cli {

// `args` are the arguments after "lint".
int RunLint(Args args, CommandIo& io);

}  // namespace stswatch::cli
