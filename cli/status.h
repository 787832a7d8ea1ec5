#pragma once

#include "cli/command.h"

namespace stswatch::cli {

// `stswatch status`: what serve has stored in Redis — domains by status, last checks, events.
int RunStatus(Args args, CommandIo& io);

}  // namespace stswatch::cli
