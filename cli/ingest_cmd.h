#pragma once

#include "cli/command.h"

namespace stswatch::cli {

// `stswatch ingest-report`: one TLS report e-mail on standard input (an MTA's pipe transport)
// into the report store.
int RunIngestReport(Args args, CommandIo& io);

}  // namespace stswatch::cli
