#pragma once

// Renders one domain's check for people (a report, verdict first) and for programs (one JSON
// object, schema in cli/README.md).

#include <ostream>

#include <boost/json/object.hpp>

#include "mtasts/observation.h"
#include "mtasts/verdict.h"

namespace stswatch::cli {

boost::json::object CheckToJson(const mtasts::DomainObservation& observation,
                                const mtasts::Verdict& verdict);

void PrintCheck(std::ostream& out, const mtasts::DomainObservation& observation,
                const mtasts::Verdict& verdict, bool color);

}  // namespace stswatch::cli
