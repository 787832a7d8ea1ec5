#pragma once

#include "cli/command.h"

namespace stswatch::cli {

// `stswatch policy init`: the policy file, records and web server snippet to start MTA-STS in
// testing mode with TLS reporting.
int RunPolicy(Args args, CommandIo& io);

}  // namespace stswatch::cli
