#pragma once

#include "cli/command.h"

namespace stswatch::cli {

// `stswatch serve`: continuous monitoring in one process (scheduler, prober, store).
int RunServe(Args args, CommandIo& io);

}  // namespace stswatch::cli
