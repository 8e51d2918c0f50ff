// Modules mirroring torch.nn.Softmax, LogSoftmax, Softmin and Softmax2d.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include "smx/tensor.h"

namespace smx::nn {

// Shared shape of the three dim-taking modules: a dim (or none) and a repr like "Softmax(dim=0)".
class DimModule {
 public:
  explicit DimModule(std::optional<std::int64_t> dim) : dim_(dim) {}
  std::optional<std::int64_t> dim() const { return dim_; }
  Tensor operator()(const Tensor& x) const { return forward(x); }
  virtual Tensor forward(const Tensor& x) const = 0;
  // "Softmax(dim=0)" or "Softmax(dim=None)", as PyTorch prints the module.
  std::string repr() const;
  virtual ~DimModule() = default;

 protected:
  virtual const char* name() const = 0;

 private:
  std::optional<std::int64_t> dim_;
};

class Softmax : public DimModule {
 public:
  explicit Softmax(std::optional<std::int64_t> dim = std::nullopt) : DimModule(dim) {}
  Tensor forward(const Tensor& x) const override;

 protected:
  const char* name() const override { return "Softmax"; }
};

class LogSoftmax : public DimModule {
 public:
  explicit LogSoftmax(std::optional<std::int64_t> dim = std::nullopt) : DimModule(dim) {}
  Tensor forward(const Tensor& x) const override;

 protected:
  const char* name() const override { return "LogSoftmax"; }
};

class Softmin : public DimModule {
 public:
  explicit Softmin(std::optional<std::int64_t> dim = std::nullopt) : DimModule(dim) {}
  Tensor forward(const Tensor& x) const override;

 protected:
  const char* name() const override { return "Softmin"; }
};

// Softmax over the channel dim (-3) of (C, H, W) or (N, C, H, W) input.
// PyTorch 1.13 asserts here; smx raises ValueError with the message of later PyTorch releases:
// "Softmax2d: expected input to be 3D or 4D, got 2D instead".
class Softmax2d {
 public:
  Tensor operator()(const Tensor& x) const { return forward(x); }
  Tensor forward(const Tensor& x) const;
  std::string repr() const { return "Softmax2d()"; }
};

std::ostream& operator<<(std::ostream& os, const DimModule& m);
std::ostream& operator<<(std::ostream& os, const Softmax2d& m);

}  // namespace smx::nn
