// examples/flags.h — the command line of minidp's programs (the examples,
// bench_step, minidp-metrics): flags with their ranges, parsed in one place.
//
//   examples::Flags flags{"Fit a curve"};
//   flags.add("--steps", steps, "gradient steps").range(1, 1000000);
//   flags.add("--lr", lr, "learning rate").range(1e-9, 100.0);   // "nan" and "inf" are refused
//   flags.add("--model", model, "mlp | cnn").one_of({"mlp", "cnn"}).show_default();
//   if (int rc = flags.parse(argc, argv); rc >= 0) return rc;   // --help, or a bad flag (said on stderr)
//
// It is CLI11 underneath, compiled once in flags.cpp: CLI11 is a header-only
// library whose header alone costs a translation unit about ten seconds of
// compilation, so no program includes it (docs/build.md).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace minidp::examples {

class Flags {
 public:
  // One flag, for the chained settings below.
  class Option {
   public:
    // Numbers in [lo, hi]. A floating-point flag also refuses "nan" and
    // "inf" (CLI11's own range check lets NaN through: every comparison with
    // it is false, and a NaN learning rate trains to NaN).
    Option& range(double lo, double hi);
    Option& one_of(std::initializer_list<const char*> choices);  // one of these words
    Option& show_default();                                      // the default value in --help
    Option& required();

   private:
    friend class Flags;
    enum class Kind { Integer, Unsigned, Real, Text, Flag };
    Option(CLI::Option* o, Kind k) : o_(o), kind_(k) {}
    CLI::Option* o_;
    Kind kind_;
  };

  explicit Flags(const std::string& description);
  ~Flags();
  Flags(const Flags&) = delete;
  Flags& operator=(const Flags&) = delete;

  Option add(const std::string& name, int& value, const std::string& help);
  Option add(const std::string& name, std::int64_t& value, const std::string& help);
  Option add(const std::string& name, std::uint64_t& value, const std::string& help);
  Option add(const std::string& name, double& value, const std::string& help);
  Option add(const std::string& name, std::string& value, const std::string& help);
  Option add(const std::string& name, std::optional<std::int64_t>& value, const std::string& help);
  Option flag(const std::string& name, bool& value, const std::string& help);  // present: true

  // Parses the command line: -1 when the program goes on; otherwise the exit
  // status to return at once (0 after --help, non-zero after a bad flag,
  // which is said on stderr with the flag's name and what it expects).
  int parse(int argc, char** argv);

 private:
  std::unique_ptr<CLI::App> app_;
};

}  // namespace minidp::examples
