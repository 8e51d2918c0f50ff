// The command's --dim value: one dim ("1", "-1") or a comma-separated list ("1,2"), which
// selects the ops over a group of dims (smx/softmax_dims.h).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace smx::cli {

// "" -> {} (no --dim); "1" -> {1}; "1, -1" -> {1, -1}. Throws std::invalid_argument naming the
// bad piece.
std::vector<std::int64_t> parse_dim_list(const std::string& text);

// Rejects a malformed --dim at parse time (a usage error, exit status 2).
CLI::Validator dim_list_validator();

}  // namespace smx::cli
