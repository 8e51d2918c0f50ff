#include "stream_forward.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "io/npy_file.h"
#include "io/stream_softmax.h"
#include "smx/softmax.h"

namespace smx::cli {

bool stream_forward(Op op, std::optional<std::int64_t> dim, std::optional<Dtype> dtype,
                    const std::string& input, const std::string& out) {
  if (out.empty() || input == "-") return false;
  if (const char* env = std::getenv("SMX_STREAM"); env != nullptr && std::string(env) == "0") return false;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(input, ec)) return false;
  const io::NpyFile file(input);
  const io::NpyInfo& info = file.info();
  // Empty arrays skip the dtype check in PyTorch, 0-d ones are a single element, and Fortran
  // order would scatter every block: all cheap or rare, so they take the in-memory path.
  if (info.count == 0 || info.shape.empty() || info.fortran_order) return false;

  // The op on a one-element array of the same rank and dtype raises exactly the errors (and
  // prints the implicit-dim warning) the whole array would, before any output exists.
  const auto ndim = static_cast<std::int64_t>(info.shape.size());
  const Tensor probe = ones(Size(std::vector<std::int64_t>(info.shape.size(), 1)), info.dtype);
  const Tensor probed = forward(op, probe, dim, dtype);
  std::int64_t d = dim ? *dim : implicit_softmax_dim(ndim);
  if (d < 0) d += ndim;
  io::stream_softmax_file(op, file, d, probed.dtype(), out, io::stream_block_bytes());
  return true;
}

}  // namespace smx::cli
