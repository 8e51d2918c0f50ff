// The forward ops from a .npy file to a .npy file without holding either in memory (see
// io/stream_softmax.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "smx/dtype.h"
#include "smx/op.h"

namespace smx::cli {

// Runs the forward `op` from `input` to `out` in bounded blocks when
// that applies: INPUT a regular file holding a non-empty C-order array of at least one dim, and
// SMX_STREAM not "0" (the in-memory path, for comparisons). Returns false, having done nothing,
// otherwise. Arguments are checked exactly as the op checks them (same errors, same implicit-dim
// warning) before the output file is created.
bool stream_forward(Op op, std::optional<std::int64_t> dim, std::optional<Dtype> dtype,
                    const std::string& input, const std::string& out);

}  // namespace smx::cli
