// ONNX's own Softmax/LogSoftmax backend test vectors (../shared/conformance/onnx beside the
// checkout, or SMX_ONNX_DIR), run through the library (tests/cli/test_onnx_conformance.py runs
// them through the command). The folder lives outside the repository: a run without it skips
// with the reason printed, except under CI (the CI environment variable set), which has the
// vectors, so there a missing folder fails.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "io/npy.h"
#include "smx/smx.h"
#include "test_support.h"

namespace smx {
namespace {

struct OnnxCase {
  std::string name, op;
  std::int64_t dim;
};

std::filesystem::path onnx_dir() {
  if (const char* env = std::getenv("SMX_ONNX_DIR")) return env;
  return std::filesystem::path(SMX_SHARED_DIR) / "conformance" / "onnx";
}

// manifest.json is a flat list of objects with string/int/array fields: a regex per field is
// enough, and keeps a JSON library out of the dependencies.
std::vector<OnnxCase> load_manifest(const std::filesystem::path& dir) {
  std::ifstream in(dir / "manifest.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<OnnxCase> cases;
  const std::regex object(R"(\{[^{}]*\})");
  const std::regex name(R"re("name"\s*:\s*"([^"]+)")re");
  const std::regex op(R"re("op"\s*:\s*"([^"]+)")re");
  const std::regex dim(R"re("dim"\s*:\s*(-?\d+))re");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), object); it != std::sregex_iterator(); ++it) {
    const std::string obj = it->str();
    std::smatch m1, m2, m3;
    if (std::regex_search(obj, m1, name) && std::regex_search(obj, m2, op) && std::regex_search(obj, m3, dim)) {
      cases.push_back({m1[1], m2[1], std::stoll(m3[1])});
    }
  }
  return cases;
}

TEST(OnnxConformance, EveryVectorMatches) {
  const auto dir = onnx_dir();
  if (!std::filesystem::exists(dir / "manifest.json")) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && *ci != '\0' && std::string(ci) != "0" && std::string(ci) != "false") {
      FAIL() << "CI is set but the ONNX vectors are missing at " << dir << " (CI must make ../shared visible)";
    }
    GTEST_SKIP() << "no ONNX vectors at " << dir << " (outside CI they are optional)";
  }
  const auto cases = load_manifest(dir);
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) {
    const Tensor x = io::load_npy((dir / (c.name + ".input.npy")).string());
    const Tensor expected = io::load_npy((dir / (c.name + ".expected.npy")).string());
    ASSERT_TRUE(c.op == "softmax" || c.op == "log_softmax") << c.op;
    const Tensor y = c.op == "softmax" ? softmax(x, c.dim) : log_softmax(x, c.dim);
    ASSERT_EQ(y.sizes(), expected.sizes()) << c.name;
    // ONNX's expected values are NumPy float32 (within 3e-7 of float64, says its README).
    const auto got = test::values(y);
    const auto want = test::values(expected);
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_NEAR(got[i], want[i], 1e-6 * (1 + std::fabs(want[i]))) << c.name << " element " << i;
    }
  }
}

}  // namespace
}  // namespace smx
