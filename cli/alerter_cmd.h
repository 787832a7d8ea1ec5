#pragma once

#include "cli/command.h"

namespace stswatch::cli {

// `stswatch alerter`: the alerter as a process of its own (serve runs one unless --no-alerter).
int RunAlerter(Args args, CommandIo& io);

}  // namespace stswatch::cli
