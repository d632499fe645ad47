// tests/fuzz/replay_main.cpp — a harness without libFuzzer: runs every file
// named on the command line, or every file in the directories named, through
// LLVMFuzzerTestOneInput once. Built with the normal compiler and flags, it is
// how the seed and regression corpora are replayed by ctest in every build;
// an input that crashed once stays a test forever.
//
//   fuzz_replay_csv tests/fuzz/regressions/csv build/fuzz_seeds/csv
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path p = argv[i];
    if (fs::is_directory(p)) {
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file()) inputs.push_back(e.path());
    } else if (fs::exists(p)) {
      inputs.push_back(p);
    } else {
      std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
      return 1;
    }
  }
  std::sort(inputs.begin(), inputs.end());  // a fixed order, so a failure is reproducible
  for (const fs::path& p : inputs) {
    std::ifstream in(p, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", p.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("replayed %zu inputs, none failed\n", inputs.size());
  // Replaying nothing proves nothing: a missing corpus is a failure, not a pass.
  return inputs.empty() ? 1 : 0;
}
