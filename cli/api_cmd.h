#pragma once

#include "cli/command.h"

namespace stswatch::cli {

// `stswatch api`: the public gRPC API as a process of its own (serve runs it with --api-listen).
int RunApi(Args args, CommandIo& io);

}  // namespace stswatch::cli
