// The seed's worked example (shared/seed), line for line in C++:
//
//   a = torch.tensor([1,2,4,3,5,5], dtype=torch.float32)
//   a = a.view(3,2)
//   print(a); print(a.shape)
//   softmax = nn.Softmax(dim=0)
//   softmax_a = softmax(a)
//   print(softmax_a); print(softmax_a.sum(dim=0)); print(softmax)
#include <iostream>

#include <smx/smx.h>

int main() {
  smx::Tensor a = smx::tensor({1, 2, 4, 3, 5, 5}, smx::kFloat32);
  a = a.view({3, 2});
  std::cout << a << "\n";
  std::cout << a.sizes() << "\n";
  smx::nn::Softmax softmax(/*dim=*/0);
  smx::Tensor softmax_a = softmax(a);
  std::cout << softmax_a << "\n";
  std::cout << softmax_a.sum(/*dim=*/0) << "\n";
  std::cout << softmax << "\n";
}
