// A file that appears under its final name only when complete: written as a temporary file in
// the same directory, fsynced, renamed over the final name, and the directory fsynced, so
// neither a failure nor a crash (power loss included) leaves a truncated file under that name.
// Destroyed before commit(), it removes the temporary file and leaves everything as it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace smx::io {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // throws DataError naming `path`
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // Writes all of [data, data + bytes) at `offset` (pwrite, retried on short writes).
  void write_at(const void* data, std::size_t bytes, std::uint64_t offset);
  // Asks the kernel to start writing [offset, offset + bytes) back to disk now, so the fsync
  // in commit() does not wait for the whole file (and dirty pages do not pile up in memory).
  void start_writeback(std::uint64_t offset, std::uint64_t bytes);
  // fsync, rename into place, fsync the directory.
  void commit();
  // The temporary file's path (other processes write their parts through it: `mpirun smx`).
  const std::string& temp_path() const { return tmp_; }

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  std::string path_, dir_, tmp_;
  int fd_ = -1;
};

}  // namespace smx::io
