// Reading .npy data in bulk: from memory (parse_npy), from a file (NpyFile, load_npy), or
// mapped for printing (map_npy).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "io/host_buffer.h"
#include "io/npy.h"
#include "io/npy_decode.h"
#include "io/npy_file.h"
#include "tensor/storage.h"
#include "tensor/strided_loop.h"

namespace smx::io {

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& what) { throw DataError(source + ": " + what); }

// Narrow integers are converted through a staging buffer of this many bytes.
constexpr std::size_t kStagingBytes = 1 << 20;

// The shape the data has in the file when read as C order: the shape itself, or reversed for
// Fortran order.
std::vector<std::int64_t> file_order_shape(const NpyInfo& info) {
  std::vector<std::int64_t> s = info.shape;
  if (info.fortran_order) std::reverse(s.begin(), s.end());
  return s;
}

// A tensor holding the data in file order, viewed with the array's logical shape: Fortran order
// is the reversed C-order array with its dims reversed again, a strided view (no reordering).
Tensor logical_view(const Tensor& file_order, const NpyInfo& info) {
  if (!info.fortran_order || info.shape.size() < 2) return file_order;
  std::vector<std::int64_t> dims(info.shape.size());
  std::iota(dims.rbegin(), dims.rend(), 0);
  return file_order.permute(dims);
}

}  // namespace

Tensor parse_npy(std::string_view bytes, const std::string& source) {
  const NpyInfo info = parse_npy_info(bytes, bytes.size(), source);
  Tensor t = empty(Size(file_order_shape(info)), info.dtype);
  decode_npy_elements(info.element, bytes.data() + info.data_offset, t.data_ptr(), static_cast<std::size_t>(info.count),
                      source);
  return logical_view(t, info);
}

NpyFile::NpyFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail(path_, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    fail(path_, std::string("cannot stat: ") + std::strerror(err));
  }
  try {
    const auto size = static_cast<std::uint64_t>(st.st_size);
    std::string head(static_cast<std::size_t>(std::min<std::uint64_t>(size, kNpyFixedPrefix)), '\0');
    pread_all(head.data(), head.size(), 0);
    const std::uint64_t preamble = npy_preamble_size(head, size, path_);  // <= size: checked
    head.resize(static_cast<std::size_t>(preamble));
    pread_all(head.data(), head.size(), 0);
    info_ = parse_npy_info(head, size, path_);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

NpyFile::~NpyFile() { ::close(fd_); }

void NpyFile::pread_all(void* dst, std::uint64_t bytes, std::uint64_t offset) const {
  auto* p = static_cast<char*>(dst);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd_, p, static_cast<std::size_t>(bytes), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path_, std::string("read error: ") + std::strerror(errno));
    if (n == 0) fail(path_, "truncated data: the file shrank while being read");
    p += n;
    bytes -= static_cast<std::uint64_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

void NpyFile::read(std::uint64_t first, std::uint64_t count, void* dst) const {
  const NpyElement& f = info_.element;
  const std::uint64_t at = info_.data_offset + first * f.size;
  if (npy_same_width(f)) {  // straight into place, then swapped or checked there
    pread_all(dst, count * f.size, at);
    decode_npy_elements(f, dst, dst, static_cast<std::size_t>(count), path_);
    return;
  }
  const std::uint64_t per = kStagingBytes / f.size;
  std::unique_ptr<char[]> staging(new char[kStagingBytes]);
  auto* out = static_cast<std::int64_t*>(dst);
  for (std::uint64_t done = 0; done < count; done += per) {
    const std::uint64_t n = std::min(per, count - done);
    pread_all(staging.get(), n * f.size, at + done * f.size);
    decode_npy_elements(f, staging.get(), out + done, static_cast<std::size_t>(n), path_);
  }
}

void NpyFile::advise(std::uint64_t first, std::uint64_t count, int advice) const {
  const std::uint64_t size = info_.element.size;
  ::posix_fadvise(fd_, static_cast<off_t>(info_.data_offset + first * size), static_cast<off_t>(count * size), advice);
}

Tensor load_npy(const std::string& path) {
  const NpyFile file(path);
  const NpyInfo& info = file.info();
  file.advise(0, info.count, POSIX_FADV_SEQUENTIAL);
  const std::vector<std::int64_t> shape = file_order_shape(info);
  Tensor t(uninitialised_storage(static_cast<std::size_t>(info.count) * element_size(info.dtype)), Size(shape),
           Size(shape).contiguous_strides(), 0, info.dtype);
  file.read(0, info.count, t.data_ptr());
  return logical_view(t, info);
}

Tensor map_npy(const std::string& path) {
  const NpyFile file(path);
  const NpyInfo& info = file.info();
  const NpyElement& f = info.element;
  const bool as_is = !f.big_endian && (f.kind == 'f' || (f.kind == 'i' && f.size == 8)) &&
                     info.data_offset % f.size == 0 && info.count > 0;
  if (!as_is) return load_npy(path);
  const auto bytes = static_cast<std::size_t>(info.data_offset + info.count * f.size);
  void* p = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, file.fd(), 0);
  if (p == MAP_FAILED) return load_npy(path);
  auto storage = std::make_shared<detail::Storage>();
  storage->data = std::shared_ptr<void>(p, [bytes](void* q) { ::munmap(q, bytes); });
  storage->nbytes = bytes;
  const std::vector<std::int64_t> shape = file_order_shape(info);
  const Tensor t(storage, Size(shape), Size(shape).contiguous_strides(),
                 static_cast<std::int64_t>(info.data_offset / f.size), info.dtype);
  return logical_view(t, info);
}

}  // namespace smx::io
