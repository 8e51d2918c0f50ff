// The .npy reader and writer on hand-built files: versions, byte orders, Fortran order, and
// every class of bad input (each must raise DataError naming the source).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <bit>
#include <numeric>

#include "io/atomic_file.h"
#include "io/npy.h"
#include "io/npy_file.h"
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

// A scratch directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("smx_npy_test_" + std::to_string(::getpid()) + "_" +
                                                             std::to_string(counter_++))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name, const std::string& bytes = "") const {
    const std::string p = (path_ / name).string();
    if (!bytes.empty()) std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  std::size_t entries() const {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path_)) ++n;
    return n;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

// `values` stored as the .npy element type `kind`/`size`, in the given byte order.
std::string element_bytes(const std::vector<double>& values, char kind, std::size_t size, bool big) {
  std::string out;
  for (double v : values) {
    std::uint64_t bits = 0;
    if (kind == 'f') {
      if (size == 2) bits = float_to_half_bits(static_cast<float>(v));
      else if (size == 4) bits = std::bit_cast<std::uint32_t>(static_cast<float>(v));
      else bits = std::bit_cast<std::uint64_t>(v);
    } else {
      bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(v));  // two's complement, truncated below
    }
    for (std::size_t k = 0; k < size; ++k) {
      const std::size_t byte = big ? size - 1 - k : k;
      out += static_cast<char>((bits >> (8 * byte)) & 0xff);
    }
  }
  return out;
}

std::string shape_str(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (auto d : shape) s += std::to_string(d) + ", ";
  return s + ")";
}

// Every dtype, both byte orders, C and Fortran order, read three ways (bytes, file, mapping):
// all give the same values, and Fortran order comes back as a strided view of the file order.
TEST(NpyFastPaths, EveryDtypeByteOrderAndLayout) {
  const TempDir dir;
  const std::vector<std::int64_t> shape{2, 3, 4};
  std::vector<double> logical(24);
  std::iota(logical.begin(), logical.end(), 0.0);
  struct Kind { char kind; std::size_t size; };
  for (const Kind k : {Kind{'f', 2}, Kind{'f', 4}, Kind{'f', 8}, Kind{'i', 1}, Kind{'i', 2}, Kind{'i', 4},
                       Kind{'i', 8}, Kind{'u', 1}, Kind{'u', 2}, Kind{'u', 4}, Kind{'u', 8}, Kind{'b', 1}}) {
    for (bool big : {false, true}) {
      if (k.size == 1 && big) continue;
      for (bool fortran : {false, true}) {
        std::vector<double> expect = logical;
        if (k.kind == 'b') for (auto& v : expect) v = static_cast<double>(static_cast<int>(v) % 2);
        if (k.kind == 'i') for (auto& v : expect) v -= 10;  // negatives too
        // File order: C order is the logical order; Fortran order runs the first index fastest.
        std::vector<double> stored(24);
        for (std::int64_t i = 0; i < 2; ++i)
          for (std::int64_t j = 0; j < 3; ++j)
            for (std::int64_t l = 0; l < 4; ++l) {
              const std::int64_t c = (i * 3 + j) * 4 + l, f = i + 2 * (j + 3 * l);
              stored[static_cast<std::size_t>(fortran ? f : c)] = expect[static_cast<std::size_t>(c)];
            }
        const std::string descr = std::string(k.size == 1 ? "|" : big ? ">" : "<") + k.kind + std::to_string(k.size);
        const std::string bytes = npy("{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                                          ", 'shape': " + shape_str(shape) + "}",
                                      element_bytes(stored, k.kind, k.size, big));
        const std::string path = dir.file("a.npy", bytes);
        const Tensor from_bytes = parse_npy(bytes, "x");
        const Tensor from_file = load_npy(path);
        const Tensor mapped = map_npy(path);
        SCOPED_TRACE(descr + (fortran ? " fortran" : " C"));
        for (const Tensor* t : {&from_bytes, &from_file, &mapped}) {
          EXPECT_EQ(t->sizes(), (Size{2, 3, 4}));
          EXPECT_EQ(test::values(*t), expect);
          EXPECT_EQ(t->is_contiguous(), !fortran);
        }
        EXPECT_EQ(from_file.dtype(), k.kind == 'f' ? (k.size == 2 ? kFloat16 : k.size == 4 ? kFloat32 : kFloat64)
                                     : k.kind == 'b' ? kBool : kInt64);
      }
    }
  }
}

TEST(NpyFastPaths, TruncatedAndOversizedFiles) {
  const TempDir dir;
  const std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}";
  const std::string good = npy(header, floats({1, 2, 3}));
  auto error_of_file = [&](const std::string& bytes) {
    const std::string path = dir.file("t.npy", bytes);
    try {
      load_npy(path);
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(test::values(load_npy(dir.file("g.npy", good))), (std::vector<double>{1, 2, 3}));
  EXPECT_NE(error_of_file(good.substr(0, good.size() - 1)).find("truncated data: the shape needs 12 bytes, the file has 11"),
            std::string::npos);
  EXPECT_NE(error_of_file(good + "xyz").find("3 unexpected bytes after the data"), std::string::npos);
  EXPECT_NE(error_of_file(good.substr(0, 20)).find("truncated header"), std::string::npos);
  EXPECT_NE(error_of_file(good.substr(0, 7)).find("truncated header (no version)"), std::string::npos);
  EXPECT_NE(error_of_file("\x93NUMPY").find("truncated header"), std::string::npos);
  EXPECT_NE(error_of_file(std::string("\x93NUMPY\x01\x00\xff\xff", 10)).find("truncated header"), std::string::npos);
  // An empty file is told apart from a short one.
  std::ofstream(dir.file("empty.npy"), std::ios::binary).flush();
  EXPECT_THROW(load_npy(dir.file("empty.npy")), DataError);
}

TEST(NpyFastPaths, BadValuesInBulkDataAreNamed) {
  const TempDir dir;
  std::string bools(5000, '\1');
  bools[4321] = 7;
  const std::string b = npy("{'descr': '|b1', 'fortran_order': False, 'shape': (5000,)}", bools);
  try {
    load_npy(dir.file("b.npy", b));
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bool element holds the byte 7"), std::string::npos) << e.what();
  }
  std::string u8 = element_bytes({1, 2}, 'u', 8, false);
  u8[15] = static_cast<char>(0x80);  // 2^63 + 2
  EXPECT_NE(error_of(npy("{'descr': '<u8', 'fortran_order': False, 'shape': (2,)}", u8)).find("does not fit in int64"),
            std::string::npos);
}

// Narrow integers are widened through a staging buffer: runs that cross its boundary, and reads
// of any range, must give the same values.
TEST(NpyFastPaths, RangesAcrossTheStagingBuffer) {
  const TempDir dir;
  const std::int64_t n = 700000;  // > 1 MiB of int16
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = static_cast<double>(i % 60000 - 30000);
  const std::string path =
      dir.file("i2.npy", npy("{'descr': '>i2', 'fortran_order': False, 'shape': (700000,)}", element_bytes(v, 'i', 2, true)));
  EXPECT_EQ(test::values(load_npy(path)), v);
  const NpyFile f(path);
  std::vector<std::int64_t> part(600000);
  f.read(12345, part.size(), part.data());
  for (std::size_t i = 0; i < part.size(); i += 997) EXPECT_EQ(static_cast<double>(part[i]), v[12345 + i]);
}

TEST(NpyFastPaths, SavedFilesRoundTripForEveryDtype) {
  const TempDir dir;
  for (Dtype dtype : {kFloat32, kFloat64, kFloat16, kBFloat16, kInt64, kBool}) {
    const Tensor x = randn({4, 5, 3}, 3).to(dtype);
    for (const Tensor& t : {x, x.transpose(0, 2)}) {
      const std::string path = dir.file("r.npy");
      save_npy_atomic(path, t);
      const Tensor back = load_npy(path);
      EXPECT_EQ(back.dtype(), npy_stored_dtype(dtype));
      EXPECT_EQ(back.sizes(), t.sizes());
      EXPECT_EQ(test::values(back), test::values(t));
    }
  }
  EXPECT_EQ(dir.entries(), 1u);
}

TEST(NpyFastPaths, PreambleIsAlignedAndParsesBack) {
  for (const std::vector<std::int64_t>& shape : {std::vector<std::int64_t>{}, {7}, {3, 0, 2}, {1, 2, 3, 4, 5, 6}}) {
    const std::string p = npy_preamble(shape, kFloat64);
    EXPECT_EQ(p.size() % 64, 0u);
    EXPECT_EQ(p.back(), '\n');
    std::int64_t count = 1;
    for (auto d : shape) count *= d;
    const NpyInfo info = parse_npy_info(p, p.size() + static_cast<std::uint64_t>(count) * 8, "x");
    EXPECT_EQ(info.shape, shape);
    EXPECT_EQ(info.data_offset, p.size());
  }
}

TEST(AtomicFile, NothingAppearsUnlessCommitted) {
  const TempDir dir;
  const std::string path = dir.file("o.npy", "precious");
  {
    AtomicFile f(path);
    f.write_at("new", 3, 0);
    EXPECT_EQ(dir.entries(), 2u);  // the temporary, next to the target
  }  // destroyed uncommitted: the temporary goes, the target stays
  EXPECT_EQ(dir.entries(), 1u);
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "precious");
  {
    AtomicFile f(path);
    f.write_at("fresh", 5, 0);
    f.write_at("!", 1, 5);
    f.start_writeback(0, 6);
    f.commit();
  }
  std::ifstream in2(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in2), {}), "fresh!");
  EXPECT_EQ(dir.entries(), 1u);
  EXPECT_THROW(AtomicFile(dir.file("missing/o.npy")), DataError);
}

}  // namespace
}  // namespace smx::io
