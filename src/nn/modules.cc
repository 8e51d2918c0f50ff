#include <ostream>

#include "smx/errors.h"
#include "smx/nn.h"
#include "smx/softmax.h"

namespace smx::nn {

std::string DimModule::repr() const {
  return std::string(name()) + "(dim=" + (dim_ ? std::to_string(*dim_) : "None") + ")";
}

Tensor Softmax::forward(const Tensor& x) const { return softmax(x, dim()); }
Tensor LogSoftmax::forward(const Tensor& x) const { return log_softmax(x, dim()); }
Tensor Softmin::forward(const Tensor& x) const { return softmin(x, dim()); }

Tensor Softmax2d::forward(const Tensor& x) const {
  if (x.dim() != 3 && x.dim() != 4) {
    throw ValueError("Softmax2d: expected input to be 3D or 4D, got " + std::to_string(x.dim()) +
                     "D instead");
  }
  return softmax(x, -3);
}

std::ostream& operator<<(std::ostream& os, const DimModule& m) { return os << m.repr(); }
std::ostream& operator<<(std::ostream& os, const Softmax2d& m) { return os << m.repr(); }

}  // namespace smx::nn
