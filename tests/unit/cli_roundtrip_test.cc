// file -> smx command -> file, checked against the library called directly.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "io/npy.h"
#include "smx/smx.h"
#include "test_support.h"

namespace smx {
namespace {

TEST(CliRoundTrip, EveryOpAndDtypeMatchesTheLibrary) {
  const auto dir = std::filesystem::temp_directory_path() / ("smx_cli_rt_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string in = (dir / "in.npy").string();
  const std::string out = (dir / "out.npy").string();
  for (Dtype dtype : {kFloat32, kFloat64, kFloat16}) {
    const Tensor x = randn({4, 5, 6}, 12, dtype);
    io::save_npy_atomic(in, x);
    for (const char* op : {"softmax", "log_softmax", "softmin"}) {
      for (int dim : {0, 1, -1}) {
        const std::string cmd = std::string(SMX_CLI_PATH) + " " + op + " --dim " + std::to_string(dim) +
                                " " + in + " -o " + out;
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
        const Tensor got = io::load_npy(out);
        const Tensor want = std::string(op) == "softmax"       ? softmax(x, dim)
                            : std::string(op) == "log_softmax" ? log_softmax(x, dim)
                                                               : softmin(x, dim);
        EXPECT_EQ(got.dtype(), dtype);
        EXPECT_EQ(test::values(got), test::values(want)) << cmd;
      }
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace smx
