// Runs a fuzz target's entry point once over every file named on the command line (or found in a
// named directory): the seed corpus as a regression test in builds without libFuzzer.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path(argv[i]);
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
        if (entry.is_regular_file()) {
          runs += RunFile(entry.path());
        }
      }
    } else if (std::filesystem::is_regular_file(path)) {
      runs += RunFile(path);
    }
  }
  std::printf("ran %d inputs\n", runs);
  // A seed run that found no seeds tests nothing: fail loudly.
  return runs > 0 ? 0 : 1;
}
