#pragma once

#include "cli/command.h"

namespace stswatch::cli {

// `stswatch ctl`: the public gRPC API from the shell (a client of api.proto).
int RunCtl(Args args, CommandIo& io);

}  // namespace stswatch::cli
