#pragma once

// A running testbed (testbed/testbed) for tests that need real DNS, HTTPS and SMTP servers.
// Such tests run outside Bazel's sandbox, as root, each on its own 127.N network
// (tests/README.md lists the networks taken).

#include <memory>
#include <string>

namespace stswatch::testing {

class Testbed {
 public:
  // Starts `scenario` (a path under the workspace, e.g. "testbed/scenarios/catalogue.yaml", or an
  // absolute path) on
  // network `net` ("127.41"). Returns nullptr, with the reason in `error`, when it fails.
  static std::unique_ptr<Testbed> Start(const std::string& scenario, const std::string& net,
                                        std::string& error);
  ~Testbed();  // Stops every server.

  Testbed(const Testbed&) = delete;
  Testbed& operator=(const Testbed&) = delete;

  // Applies a changed scenario live. Returns false, with the reason in `error`, on failure.
  bool Apply(const std::string& scenario, std::string& error);

  const std::string& resolver() const { return resolver_; }  // "IP:PORT"
  const std::string& ca_file() const { return ca_file_; }
  const std::string& dir() const { return dir_; }
  const std::string& canary() const { return canary_; }

  // The path of a workspace file in the test's runfiles.
  static std::string Runfile(const std::string& path);

 private:
  Testbed() = default;
  std::string resolver_;
  std::string ca_file_;
  std::string dir_;
  std::string canary_;
};

}  // namespace stswatch::testing
