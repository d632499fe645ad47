// examples/flags.cpp — the one translation unit that includes CLI11 (flags.h).
#include "flags.h"

#include <CLI/CLI.hpp>

#include <cmath>
#include <vector>

namespace minidp::examples {

namespace {

// A finite number in [lo, hi], for floating-point flags.
CLI::Validator finite_range(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(s, v) || !std::isfinite(v) || v < lo || v > hi)
          return "expected a finite number in [" + CLI::detail::to_string(lo) + ", " + CLI::detail::to_string(hi) +
                 "], got " + s;
        return "";
      },
      "FINITE in [" + CLI::detail::to_string(lo) + " - " + CLI::detail::to_string(hi) + "]");
}

}  // namespace

Flags::Option& Flags::Option::range(double lo, double hi) {
  switch (kind_) {
    case Kind::Real: o_->check(finite_range(lo, hi)); break;
    case Kind::Integer: o_->check(CLI::Range(static_cast<std::int64_t>(lo), static_cast<std::int64_t>(hi))); break;
    case Kind::Unsigned: o_->check(CLI::Range(static_cast<std::uint64_t>(lo), static_cast<std::uint64_t>(hi))); break;
    case Kind::Text:
    case Kind::Flag: throw CLI::ConstructionError(o_->get_name() + ": a range needs a numeric flag", 0);
  }
  return *this;
}

Flags::Option& Flags::Option::one_of(std::initializer_list<const char*> choices) {
  o_->check(CLI::IsMember(std::vector<std::string>(choices.begin(), choices.end())));
  return *this;
}

Flags::Option& Flags::Option::show_default() {
  o_->capture_default_str();
  return *this;
}

Flags::Option& Flags::Option::required() {
  o_->required();
  return *this;
}

Flags::Flags(const std::string& description) : app_(std::make_unique<CLI::App>(description)) {}
Flags::~Flags() = default;

Flags::Option Flags::add(const std::string& name, int& value, const std::string& help) {
  return {app_->add_option(name, value, help), Option::Kind::Integer};
}
Flags::Option Flags::add(const std::string& name, std::int64_t& value, const std::string& help) {
  return {app_->add_option(name, value, help), Option::Kind::Integer};
}
Flags::Option Flags::add(const std::string& name, std::uint64_t& value, const std::string& help) {
  return {app_->add_option(name, value, help), Option::Kind::Unsigned};
}
Flags::Option Flags::add(const std::string& name, double& value, const std::string& help) {
  return {app_->add_option(name, value, help), Option::Kind::Real};
}
Flags::Option Flags::add(const std::string& name, std::string& value, const std::string& help) {
  return {app_->add_option(name, value, help), Option::Kind::Text};
}
Flags::Option Flags::add(const std::string& name, std::optional<std::int64_t>& value, const std::string& help) {
  return {app_->add_option(name, value, help), Option::Kind::Integer};
}
Flags::Option Flags::flag(const std::string& name, bool& value, const std::string& help) {
  return {app_->add_flag(name, value, help), Option::Kind::Flag};
}

int Flags::parse(int argc, char** argv) {
  try {
    app_->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_->exit(e);  // prints --help, or the error on stderr; its exit status
  }
  return -1;
}

}  // namespace minidp::examples
