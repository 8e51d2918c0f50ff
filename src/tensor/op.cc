// The op as a value (smx/op.h), a word of the library's vocabulary like the dtype: its names,
// parsed here and nowhere else.
#include "smx/op.h"

#include <string>

#include "smx/errors.h"

namespace smx {

namespace {
constexpr Op kAll[] = {Op::kSoftmax, Op::kLogSoftmax, Op::kSoftmin, Op::kSoftmaxBackward, Op::kLogSoftmaxBackward};
}  // namespace

const char* op_name(Op op) {
  switch (op) {
    case Op::kSoftmax: return "softmax";
    case Op::kLogSoftmax: return "log_softmax";
    case Op::kSoftmin: return "softmin";
    case Op::kSoftmaxBackward: return "softmax_backward";
    case Op::kLogSoftmaxBackward: return "log_softmax_backward";
  }
  return "?";
}

Op parse_op(std::string_view name) {
  for (Op op : kAll) {
    if (name == op_name(op)) return op;
  }
  std::string valid;
  for (Op op : kAll) valid += (valid.empty() ? "" : ", ") + std::string(op_name(op));
  throw ValueError("unknown op '" + std::string(name) + "' (expected one of " + valid + ")");
}

Op backward_of(Op forward_op) {
  switch (forward_op) {
    case Op::kSoftmax: return Op::kSoftmaxBackward;
    case Op::kLogSoftmax: return Op::kLogSoftmaxBackward;
    default:
      throw ValueError(std::string("backward_of: ") + op_name(forward_op) +
                       " has no backward op of its own (softmax and log_softmax do)");
  }
}

}  // namespace smx
