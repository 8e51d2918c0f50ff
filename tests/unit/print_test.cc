// Printing: smx's repr() against the strings PyTorch printed for the same values
// (tests/data/print_cases.txt, written by tests/data/gen_print_cases.py with Debian's torch).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "smx/smx.h"
#include "tensor/element_access.h"

namespace smx {
namespace {

struct PrintCase {
  std::string name;
  Tensor tensor;
  std::string expected;
};

std::vector<PrintCase> load_cases() {
  std::ifstream in(SMX_TEST_DATA_DIR "/print_cases.txt");
  std::vector<PrintCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("case ", 0) != 0) continue;
    PrintCase c;
    c.name = line.substr(5);
    std::string word, dtype_name;
    std::getline(in, line);
    std::istringstream(line) >> word >> dtype_name;
    const Dtype dtype = parse_dtype(dtype_name);
    std::getline(in, line);
    std::istringstream shape_line(line);
    shape_line >> word;
    std::vector<std::int64_t> shape;
    for (std::int64_t d; shape_line >> d;) shape.push_back(d);
    std::getline(in, line);
    std::istringstream value_line(line);
    value_line >> word;
    Tensor t = empty(Size(shape), dtype);
    std::int64_t i = 0;
    for (std::string v; value_line >> v; ++i) {
      if (dtype == kInt64 || dtype == kBool) {
        detail::store_from_int64(t.data_ptr(), dtype, i, std::stoll(v));
      } else {
        detail::store_from_double(t.data_ptr(), dtype, i, std::strtod(v.c_str(), nullptr));
      }
    }
    EXPECT_EQ(i, t.numel()) << c.name;
    c.tensor = t;
    std::getline(in, line);
    const int lines = std::stoi(line.substr(9));
    for (int k = 0; k < lines; ++k) {
      std::getline(in, line);
      c.expected += (k ? "\n" : "") + line;
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

TEST(Print, MatchesPyTorchForEveryCase) {
  const auto cases = load_cases();
  ASSERT_GE(cases.size(), 50u) << "print_cases.txt missing or truncated";
  for (const auto& c : cases) {
    EXPECT_EQ(c.tensor.repr(), c.expected) << "case " << c.name;
  }
}

TEST(Print, StreamOperatorIsRepr) {
  std::ostringstream os;
  os << tensor({1, 2});
  EXPECT_EQ(os.str(), "tensor([1., 2.])");
}

TEST(Print, IssueExamples) {
  EXPECT_EQ(tensor({4, INFINITY, 1.5, -INFINITY, 0, NAN, 1}).repr(),
            "tensor([4.0000,    inf, 1.5000,   -inf, 0.0000,    nan, 1.0000])");
  EXPECT_EQ(zeros({10000}).repr(), "tensor([0., 0., 0.,  ..., 0., 0., 0.])");
  EXPECT_EQ(tensor({123456789}).repr(), "tensor([1.2346e+08])");
  EXPECT_EQ(tensor({1e-2, 11}).repr(), "tensor([1.0000e-02, 1.1000e+01])");
  EXPECT_EQ(tensor({1, 1000}).repr(), "tensor([   1., 1000.])");
  EXPECT_EQ(tensor({1, 1010}).repr(), "tensor([1.0000e+00, 1.0100e+03])");
  EXPECT_EQ(scalar_tensor(2e-5).repr(), "tensor(2.0000e-05)");
}

TEST(Print, ViewsPrintLikeTheirContiguousCopies) {
  const Tensor x = randn({6, 7, 5}, 3);
  for (const Tensor& v : {x.transpose(0, 2), x.narrow(1, 2, 3), x.select(2, 1), x.permute({1, 2, 0})}) {
    EXPECT_EQ(v.repr(), v.contiguous().repr());
  }
  // A negative-sign NaN prints as "nan", as Python does.
  EXPECT_EQ(tensor({-NAN, 1.5}).repr(), "tensor([   nan, 1.5000])");
}

TEST(Print, UndefinedTensorDoesNotThrow) { EXPECT_EQ(Tensor().repr(), "tensor(<undefined>)"); }

}  // namespace
}  // namespace smx
