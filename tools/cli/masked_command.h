// `smx masked_softmax` and `smx masked_log_softmax`: the masked / scaled / causal forms
// (smx/masked_softmax.h) on .npy files and literals.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace smx::cli {

class MaskedCommands {
 public:
  // Adds both subcommands to `app`; `chosen` is set to the name of the one parsed.
  void add(CLI::App& app, std::string& chosen);
  // True if `chosen` is one of ours.
  bool owns(const std::string& chosen) const;
  // Runs it; throws smx::Error for bad data (the caller prints it and exits 1).
  int run(const std::string& chosen) const;

 private:
  struct Args {
    std::int64_t dim = -1;
    std::string mask, fully_masked = "zero", dtype, input = "-", out;
    std::optional<double> scale;
    bool causal = false;
    int threads = 0;
  };
  Args args_[2];
};

}  // namespace smx::cli
