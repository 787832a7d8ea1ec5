#pragma once

#include "cli/command.h"

namespace stswatch::cli {

// `stswatch scheduler`: the distributed scheduler (active/standby through a Redis lease).
int RunScheduler(Args args, CommandIo& io);

}  // namespace stswatch::cli
