// An open .npy file: its validated preamble, and bulk reads of any run of its elements (pread,
// so readers need no shared file position) decoded straight into caller memory.
#pragma once

#include <cstdint>
#include <string>

#include "io/npy.h"

namespace smx::io {

class NpyFile {
 public:
  // Opens and validates; throws DataError naming `path`.
  explicit NpyFile(std::string path);
  NpyFile(const NpyFile&) = delete;
  NpyFile& operator=(const NpyFile&) = delete;
  ~NpyFile();

  const NpyInfo& info() const { return info_; }
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

  // Elements [first, first + count) in file order, decoded to info().dtype at `dst`.
  void read(std::uint64_t first, std::uint64_t count, void* dst) const;
  // posix_fadvise for the elements [first, first + count) (advice only).
  void advise(std::uint64_t first, std::uint64_t count, int advice) const;

 private:
  void pread_all(void* dst, std::uint64_t bytes, std::uint64_t offset) const;
  std::string path_;
  int fd_ = -1;
  NpyInfo info_;
};

}  // namespace smx::io
