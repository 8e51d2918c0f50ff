// smx::Size: a tensor's shape, printed as PyTorch prints torch.Size.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

namespace smx {

class Size {
 public:
  Size() = default;
  Size(std::initializer_list<std::int64_t> dims) : dims_(dims) {}
  explicit Size(std::vector<std::int64_t> dims) : dims_(std::move(dims)) {}

  std::size_t size() const { return dims_.size(); }
  bool empty() const { return dims_.empty(); }
  std::int64_t operator[](std::size_t i) const { return dims_[i]; }
  std::int64_t& operator[](std::size_t i) { return dims_[i]; }
  auto begin() const { return dims_.begin(); }
  auto end() const { return dims_.end(); }
  const std::vector<std::int64_t>& vec() const { return dims_; }

  // Product of the dims (1 for a 0-d shape).
  std::int64_t numel() const;
  // The strides (in elements) of a contiguous, row-major tensor of this shape.
  std::vector<std::int64_t> contiguous_strides() const;
  // "torch.Size([3, 2])"
  std::string str() const;
  // "[3, 2]", as PyTorch's error messages write a shape
  std::string list_str() const;

  friend bool operator==(const Size& a, const Size& b) = default;

 private:
  std::vector<std::int64_t> dims_;
};

std::ostream& operator<<(std::ostream& os, const Size& size);

}  // namespace smx
