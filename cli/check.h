#pragma once

// `stswatch check`: what a sending MTA would see for one domain or ten thousand.
//
//   stswatch check [--json] [--resolver IP[:PORT]] [--ca-file PEM] [--allow-private]
//                  [--allow-net CIDR]... [--timeout SECONDS] [--concurrency N]
//                  (DOMAIN... | --file FILE)
//
// Exit status: 0 every domain ok or none, 1 the worst is warning, 2 any failing or broken,
// 3 usage or internal error.

#include "cli/command.h"

namespace stswatch::cli {

int RunCheck(Args args, CommandIo& io);

}  // namespace stswatch::cli
