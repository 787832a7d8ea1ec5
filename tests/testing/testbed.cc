#include "tests/testing/testbed.h"

#include <unistd.h>

#include <cstdlib>

#include <boost/json/parse.hpp>

#include "tests/testing/subprocess.h"

namespace stswatch::testing {

std::string Testbed::Runfile(const std::string& path) {
  if (path.starts_with("/")) {
    return path;  // Already absolute (a scenario the test generated).
  }
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return std::string(srcdir != nullptr ? srcdir : ".") + "/stswatch/" + path;
}

std::unique_ptr<Testbed> Testbed::Start(const std::string& scenario, const std::string& net,
                                        std::string& error) {
  std::unique_ptr<Testbed> tb(new Testbed());
  // Not under TEST_TMPDIR: the testbed's unprivileged nginx and postfix must reach the files,
  // and Bazel's directories live under /root.
  std::string pattern = "/tmp/stswatch-test-" + net + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    error = "cannot create a directory under /tmp";
    return nullptr;
  }
  tb->dir_ = pattern;
  const ProcessResult r = RunProcess({Runfile("testbed/testbed"), "start", Runfile(scenario),
                                      "--net", net, "--dir", tb->dir_, "--json", "--replace"},
                                     "", std::chrono::seconds(120));
  if (r.exit_code != 0) {
    error = "testbed start failed (" + std::to_string(r.exit_code) + "): " + r.err;
    return nullptr;
  }
  boost::system::error_code ec;
  const boost::json::value env = boost::json::parse(r.out, ec);
  if (ec || !env.is_object()) {
    error = "testbed start printed no JSON: " + r.out;
    return nullptr;
  }
  tb->resolver_ = std::string(env.at("resolver").as_string());
  tb->ca_file_ = std::string(env.at("ca_file").as_string());
  tb->canary_ = std::string(env.at("canary").as_string());
  return tb;
}

bool Testbed::Apply(const std::string& scenario, std::string& error) {
  const ProcessResult r =
      RunProcess({Runfile("testbed/testbed"), "apply", Runfile(scenario), "--dir", dir_}, "",
                 std::chrono::seconds(120));
  if (r.exit_code != 0) {
    error = r.err;
    return false;
  }
  return true;
}

Testbed::~Testbed() {
  RunProcess({Runfile("testbed/testbed"), "stop", "--dir", dir_}, "", std::chrono::seconds(120));
  RunProcess({"/bin/rm", "-rf", dir_});
}

}  // namespace stswatch::testing
