// `smx explain [--dim D|D1,D2] INPUT`: the seed's question "which elements sum to 1?" answered
// for the user's own tensor - the README's picture of what `dim` means, drawn with the user's
// shape, dim (or dims) and softmax values.
#pragma once

#include <CLI/CLI.hpp>

#include <ostream>
#include <string>

namespace smx::cli {

struct ExplainArgs {
  std::string dim;  // "" (PyTorch's implicit rule, with its warning), "1" or "1,2"
  std::string dtype;
  std::string input = "-";
};

// Tensors of at most this many elements are drawn; larger ones get the group count and size.
inline constexpr std::int64_t kExplainMaxElements = 64;

void add_explain_command(CLI::App& app, ExplainArgs& args, std::string& chosen);
// Throws smx::Error (bad dims: PyTorch's words) or io::DataError (bad input).
void run_explain(const ExplainArgs& args, std::ostream& out);

}  // namespace smx::cli
