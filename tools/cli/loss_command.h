// `smx cross_entropy`: the loss of logits against targets (smx/cross_entropy.h), printed as
// PyTorch prints it, or written to a .npy file.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace smx::cli {

class LossCommand {
 public:
  // Adds the subcommand to `app`; `chosen` is set to its name when parsed.
  void add(CLI::App& app, std::string& chosen);
  bool owns(const std::string& chosen) const;
  // Runs it; throws smx::Error for bad data (the caller prints it and exits 1).
  int run() const;

 private:
  std::string input = "-", target, weight, reduction = "mean", out;
  std::int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  int threads = 0;
};

}  // namespace smx::cli
