// The seed's worked example (shared/seed), line for line in C++:
//
//   a = torch.tensor([1,2,4,3,5,5], dtype=torch.float32)
//   a = a.view(3,2)
//   print(a); print(a.shape)
//   softmax = nn.Softmax(dim=0)
//   softmax_a = softmax(a)
//   print(softmax_a); print(softmax_a.sum(dim=0)); print(softmax)
//
// Shared by examples/seed_example.cc (what `make run` runs) and `smx demo`.
#pragma once

#include <ostream>

#include <smx/smx.h>

inline void seed_demo(std::ostream& out) {
  smx::Tensor a = smx::tensor({1, 2, 4, 3, 5, 5}, smx::kFloat32);
  a = a.view({3, 2});
  out << a << "\n";
  out << a.sizes() << "\n";
  smx::nn::Softmax softmax(/*dim=*/0);
  smx::Tensor softmax_a = softmax(a);
  out << softmax_a << "\n";
  out << softmax_a.sum(/*dim=*/0) << "\n";
  out << softmax << "\n";
}
