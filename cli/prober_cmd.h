#pragma once

#include "cli/command.h"

namespace stswatch::cli {

// `stswatch prober`: a prober worker of the distributed mode.
int RunProber(Args args, CommandIo& io);

}  // namespace stswatch::cli
