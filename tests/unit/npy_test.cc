// The .npy reader and writer on hand-built files: versions, byte orders, Fortran order, and
// every class of bad input (each must raise DataError naming the source).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/npy.h"
#include "test_support.h"

namespace smx::io {
namespace {

std::string npy(const std::string& header, const std::string& data, int major = 1) {
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  const std::size_t len = header.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (major > 1) out += std::string(2, '\0');
  return out + header + data;
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

std::string error_of(std::string_view bytes) {
  try {
    parse_npy(bytes, "in.npy");
  } catch (const DataError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Npy, ReadsVersionsAndOrders) {
  const std::string data = floats({1, 2, 3, 4, 5, 6});
  for (int major : {1, 2, 3}) {
    const Tensor t = parse_npy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, major), "x");
    EXPECT_EQ(t.sizes(), (Size{2, 3}));
    EXPECT_EQ(test::values(t), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  }
  const Tensor f = parse_npy(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}", data), "x");
  EXPECT_EQ(test::values(f), (std::vector<double>{1, 3, 5, 2, 4, 6}));
  std::string be = data;
  for (std::size_t i = 0; i < be.size(); i += 4) std::swap(be[i], be[i + 3]), std::swap(be[i + 1], be[i + 2]);
  const Tensor b = parse_npy(npy("{\"descr\": \">f4\", \"fortran_order\": False, \"shape\": (6,)}", be), "x");
  EXPECT_EQ(test::values(b), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  const Tensor scalar = parse_npy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", floats({7})), "x");
  EXPECT_EQ(scalar.dim(), 0);
  const Tensor empty3 = parse_npy(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (5, 0, 0)}", ""), "x");
  EXPECT_EQ(empty3.sizes(), (Size{5, 0, 0}));
  EXPECT_EQ(empty3.dtype(), kFloat64);
}

TEST(Npy, IntegersAndBools) {
  const std::string i2("\xff\xff\x02\x00", 4);  // int16 -1, 2
  EXPECT_EQ(test::values(parse_npy(npy("{'descr': '<i2', 'fortran_order': False, 'shape': (2,)}", i2), "x")),
            (std::vector<double>{-1, 2}));
  EXPECT_EQ(test::values(parse_npy(npy("{'descr': '<u2', 'fortran_order': False, 'shape': (2,)}", i2), "x")),
            (std::vector<double>{65535, 2}));
  const Tensor b = parse_npy(npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,)}", std::string("\x01\x00", 2)), "x");
  EXPECT_EQ(b.dtype(), kBool);
  EXPECT_EQ(test::values(b), (std::vector<double>{1, 0}));
}

TEST(Npy, RoundTripsThroughTheWriter) {
  for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kInt64, kBool}) {
    const Tensor x = randn({3, 1, 4}, 5).to(dtype);
    const Tensor back = parse_npy(encode_npy(x.transpose(0, 2)), "x");
    EXPECT_EQ(back.dtype(), dtype);
    EXPECT_EQ(back.sizes(), (Size{4, 1, 3}));
    EXPECT_EQ(test::values(back), test::values(x.transpose(0, 2)));
  }
  const Tensor bf = randn({5}, 1, kBFloat16);
  EXPECT_EQ(parse_npy(encode_npy(bf), "x").dtype(), kFloat32);
  EXPECT_EQ(encode_npy(bf).find("\n") % 64, 63u);  // data aligned to 64 bytes
}

TEST(Npy, RejectsBadInputWithClearMessages) {
  const std::string ok_header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}";
  EXPECT_EQ(error_of(""), "in.npy: empty file (not a .npy file)");
  EXPECT_EQ(error_of("hello world, not npy"), "in.npy: not a .npy file (wrong magic string)");
  EXPECT_NE(error_of(npy(ok_header, floats({1, 2})).substr(0, 20)).find("truncated header"), std::string::npos);
  EXPECT_NE(error_of(npy("[1, 2]", "")).find("malformed header"), std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '<f4', 'fortran_order': False", "")).find("malformed header"), std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", std::string(8, '\0'))).find("complex"),
            std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", "")).find("unsupported dtype"),
            std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '<U3', 'fortran_order': False, 'shape': (1,)}", "")).find("strings"),
            std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", "")).find("structured"),
            std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", "")).find("negative dimension"),
            std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16)}", ""))
                .find("overflows"),
            std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296)}", ""))
                .find("overflows"),
            std::string::npos);
  // A claim of 10^18 elements is refused from the file size alone.
  EXPECT_NE(error_of(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000000,)}", ""))
                .find("truncated data"),
            std::string::npos);
  EXPECT_NE(error_of(npy(ok_header, floats({1}))).find("truncated data"), std::string::npos);
  EXPECT_NE(error_of(npy(ok_header, floats({1, 2, 3}))).find("unexpected bytes"), std::string::npos);
  EXPECT_NE(error_of(npy("{'descr': '|b1', 'fortran_order': False, 'shape': (1,)}", "\x07")).find("bool"),
            std::string::npos);
  std::string bad_version = npy(ok_header, floats({1, 2}));
  bad_version[6] = 9;
  EXPECT_NE(error_of(bad_version).find("version"), std::string::npos);
}

TEST(Npy, AtomicSaveNeverLeavesPartialFiles) {
  const auto dir = std::filesystem::temp_directory_path() / ("smx_npy_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "out.npy").string();
  save_npy_atomic(path, tensor({1, 2, 3}));
  EXPECT_EQ(test::values(load_npy(path)), (std::vector<double>{1, 2, 3}));
  EXPECT_THROW(save_npy_atomic((dir / "missing" / "out.npy").string(), tensor({1})), DataError);
  EXPECT_THROW(load_npy((dir / "nope.npy").string()), DataError);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u);  // no temporaries left behind
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace smx::io
