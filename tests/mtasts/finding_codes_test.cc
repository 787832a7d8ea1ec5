#include "mtasts/finding_codes.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace stswatch::mtasts {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

TEST(FindingCodesTest, CodesAreUniqueAndWellFormed) {
  // "group.name" or "group.sub.name": lower case, digits and underscores, non-empty parts.
  const auto well_formed = [](std::string_view id) {
    if (id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.") != std::string_view::npos ||
        id.empty() || id.front() == '.' || id.back() == '.' ||
        id.find("..") != std::string_view::npos) {
      return false;
    }
    const auto dots = std::count(id.begin(), id.end(), '.');
    return dots == 1 || dots == 2;
  };
  std::set<std::string_view> seen;
  ASSERT_GT(AllFindingCodes().size(), 40u);
  for (const FindingCode* code : AllFindingCodes()) {
    EXPECT_TRUE(seen.insert(code->id).second) << "duplicate code " << code->id;
    EXPECT_TRUE(well_formed(code->id)) << code->id;
    EXPECT_TRUE(code->rfc.starts_with("RFC ")) << code->id;
    EXPECT_FALSE(code->summary.empty()) << code->id;
  }
}

// Users look codes up in FINDINGS.md: every code must be documented with its severity.
TEST(FindingCodesTest, EveryCodeIsDocumented) {
  const std::string doc = ReadFile("mtasts/FINDINGS.md");
  ASSERT_FALSE(doc.empty()) << "mtasts/FINDINGS.md not found";
  for (const FindingCode* code : AllFindingCodes()) {
    const std::string row =
        "| `" + std::string(code->id) + "` | " + std::string(SeverityName(code->severity)) + " |";
    EXPECT_NE(doc.find(row), std::string::npos) << "FINDINGS.md lacks the row for " << code->id;
  }
}

}  // namespace
}  // namespace stswatch::mtasts
