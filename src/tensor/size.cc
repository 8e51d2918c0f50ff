#include "smx/size.h"

#include <ostream>

namespace smx {

std::int64_t Size::numel() const {
  std::int64_t n = 1;
  for (auto d : dims_) n *= d;
  return n;
}

std::vector<std::int64_t> Size::contiguous_strides() const {
  std::vector<std::int64_t> strides(dims_.size());
  std::int64_t s = 1;
  for (std::size_t i = dims_.size(); i-- > 0;) {
    strides[i] = s;
    s *= dims_[i] > 1 ? dims_[i] : 1;
  }
  return strides;
}

std::string Size::list_str() const {
  std::string s = "[";
  for (std::size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

std::string Size::str() const { return "torch.Size(" + list_str() + ")"; }

std::ostream& operator<<(std::ostream& os, const Size& size) { return os << size.str(); }

}  // namespace smx
