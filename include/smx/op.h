// The ops of the softmax family as one value type: what the command, the Python module and the
// MPI layer pass around instead of names. A name becomes an Op in one place, parse_op.
//
//   smx::Op op = smx::parse_op("log_softmax");
//   smx::Tensor y = smx::forward(op, x, /*dim=*/-1);       // = smx::log_softmax(x, -1)
//   smx::Tensor dx = smx::backward(smx::backward_of(op), grad, y, -1);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace smx {

enum class Op : std::uint8_t {
  kSoftmax,             // exp(x) / sum(exp(x))
  kLogSoftmax,          // x - log(sum(exp(x)))
  kSoftmin,             // softmax(-x)
  kSoftmaxBackward,     // given y = softmax(x) and g = dL/dy: y * (g - sum(g * y))
  kLogSoftmaxBackward,  // given y = log_softmax(x) and g: g - exp(y) * sum(g)
};

// PyTorch's name of the op: "softmax", "log_softmax", "softmin", "softmax_backward",
// "log_softmax_backward".
const char* op_name(Op op);
// The op of that name; smx::ValueError naming the valid names for anything else.
Op parse_op(std::string_view name);

constexpr bool is_backward(Op op) { return op == Op::kSoftmaxBackward || op == Op::kLogSoftmaxBackward; }
// The backward op of a forward one: softmax -> softmax_backward, log_softmax ->
// log_softmax_backward; smx::ValueError for softmin (its gradient is softmax_backward's, negated)
// and for backward ops.
Op backward_of(Op forward_op);

}  // namespace smx
