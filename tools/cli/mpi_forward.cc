// The command under mpirun (see mpi_forward.h). Every step that can fail on one rank alone
// (opening or reading the file, creating or writing the output) ends in an agreement - an
// MPI_Allreduce of a success flag - so a failure anywhere is a failure everywhere and no rank is
// left waiting in a collective; smx::dist's own errors are already collective. Anything that
// escapes those (a failure between agreements) aborts the whole job (MPI_Abort) rather than
// leaving the others stuck. The output appears under its name only after every rank's rows
// were written and fsynced.
#include <fcntl.h>
#include <mpi.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <vector>

#include "io/atomic_file.h"
#include "io/npy.h"
#include "io/npy_file.h"
#include "mpi_dim0.h"
#include "mpi_forward.h"
#include "smx/smx.h"

namespace smx::cli {

namespace {

// MPI_Init on first use, MPI_Finalize at exit (after main returns, errors included).
struct MpiSession {
  MpiSession() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);  // smx's pool makes no MPI calls
    }
  }
  ~MpiSession() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
};

// Another rank failed; its own message says why (this one's would only repeat it).
class PeerFailed : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
};

// Runs fn on every rank, then agrees: rethrows this rank's error, or throws PeerFailed if only
// another rank failed.
template <typename Fn>
void agreed(MPI_Comm comm, const char* step, Fn&& fn) {
  std::exception_ptr error;
  try {
    fn();
  } catch (...) {
    error = std::current_exception();
  }
  int ok = error ? 0 : 1, all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
  if (error) std::rethrow_exception(error);
  if (!all) throw PeerFailed(std::string("another rank failed while ") + step + " (its message says why)");
}



void write_all(int fd, const char* p, std::size_t bytes, std::uint64_t offset, const std::string& path) {
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd, p, bytes, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw io::DataError(path + ": write failed: " + std::strerror(n < 0 ? errno : EIO));
    p += n;
    bytes -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

// One file, split between the ranks.
void run_job(Op op, std::optional<std::int64_t> dim, std::optional<Dtype> dtype, const FileJob& job,
             const std::function<void(const FileJob&)>& one_process) {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const std::string& input = job.input;
  const std::string& out = job.output;

  std::unique_ptr<io::NpyFile> file;
  std::int64_t d = 0;
  Dtype result_dtype = kFloat32;
  bool whole_on_rank0 = false;
  agreed(comm, "opening the input", [&] {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(input, ec)) throw io::DataError(input + ": not a regular file");
    file = std::make_unique<io::NpyFile>(input);
    const io::NpyInfo& info = file->info();
    // Empty, 0-d and Fortran-order arrays have no rows to split: rank 0 runs them as one process.
    whole_on_rank0 = info.count == 0 || info.shape.empty() || info.fortran_order;
    if (whole_on_rank0) return;
    // The op on a one-element array of the same rank and dtype raises the errors (and prints the
    // implicit-dim warning, on rank 0 only) that the whole array would, before anything is written.
    const auto ndim = static_cast<std::int64_t>(info.shape.size());
    const Tensor probe = ones(Size(std::vector<std::int64_t>(info.shape.size(), 1)), info.dtype);
    std::optional<std::int64_t> probe_dim = dim ? dim : std::optional<std::int64_t>(implicit_softmax_dim(ndim));
    if (rank == 0) probe_dim = dim;  // the warning, once
    const Tensor probed = forward(op, probe, probe_dim, dtype);
    result_dtype = probed.dtype();
    d = dim ? *dim : implicit_softmax_dim(ndim);
    if (d < 0) d += ndim;
  });
  if (whole_on_rank0) {  // rank 0 runs it as one process; the others wait for its verdict
    agreed(comm, "computing", [&] {
      if (rank == 0) one_process(job);
    });
    return;
  }

  // This rank's rows of dim 0, read from its own byte range only.
  const io::NpyInfo& info = file->info();
  const std::int64_t rows = info.shape[0];
  const std::int64_t row_elems = static_cast<std::int64_t>(info.count) / rows;
  const std::vector<std::int64_t> bounds = split_dim0(rows, row_elems, size);
  const std::int64_t begin = bounds[static_cast<std::size_t>(rank)], end = bounds[static_cast<std::size_t>(rank) + 1];
  Tensor x;
  agreed(comm, "reading the input", [&] {
    std::vector<std::int64_t> shape = info.shape;
    shape[0] = end - begin;
    x = empty(Size(shape), info.dtype);
    if (x.numel() > 0) {
      file->read(static_cast<std::uint64_t>(begin * row_elems), static_cast<std::uint64_t>(x.numel()), x.data_ptr());
    }
    if (dtype) x = x.to(*dtype);
  });

  // dim 0 is the sharded one: the statistics are combined across ranks in one process's order
  // (mpi_dim0.h: the same bytes as one process, whichever kernels SMX_ISA picks); any other dim
  // lies whole within each rank's rows.
  Tensor y;
  if (d == 0) {
    y = softmax_dim0_exact(op, x, bounds, comm);
  } else {
    agreed(comm, "computing", [&] { y = forward(op, x, d); });
  }

  // Rank 0 creates the temporary output and writes the preamble; everyone learns its path.
  const Dtype stored = io::npy_stored_dtype(result_dtype);
  const std::string preamble = io::npy_preamble(info.shape, stored);
  std::unique_ptr<io::AtomicFile> target;
  std::string tmp;
  agreed(comm, "creating the output", [&] {
    if (rank != 0) return;
    target = std::make_unique<io::AtomicFile>(out);
    target->write_at(preamble.data(), preamble.size(), 0);
    tmp = target->temp_path();
  });
  int len = static_cast<int>(tmp.size());
  MPI_Bcast(&len, 1, MPI_INT, 0, comm);
  tmp.resize(static_cast<std::size_t>(len));
  MPI_Bcast(tmp.data(), len, MPI_CHAR, 0, comm);

  // Every rank writes and fsyncs its own rows.
  agreed(comm, "writing the output", [&] {
    const Tensor c = y.to(stored).contiguous();
    const auto bytes = static_cast<std::size_t>(c.numel()) * element_size(stored);
    if (bytes == 0) return;
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw io::DataError(out + ": cannot open the temporary file " + tmp + ": " + std::strerror(errno));
    try {
      write_all(fd, static_cast<const char*>(c.data_ptr()), bytes,
                preamble.size() + static_cast<std::uint64_t>(begin * row_elems) * element_size(stored), out);
      if (::fsync(fd) != 0) throw io::DataError(out + ": write failed: " + std::strerror(errno));
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (::close(fd) != 0) throw io::DataError(out + ": write failed: " + std::strerror(errno));
  });

  // Only now, with every rank's rows on disk: rename into place (rank 0), and agree on it.
  agreed(comm, "renaming the output into place", [&] {
    if (rank == 0) target->commit();
  });
}

void run(Op op, std::optional<std::int64_t> dim, std::optional<Dtype> dtype, const std::string& device,
         const std::vector<FileJob>& jobs, const std::function<void(const FileJob&)>& one_process) {
  static MpiSession session;
  // Usage: the same arguments on every rank, so the same verdict.
  if (!Device(device).is_cpu()) throw RuntimeError("under mpirun, smx computes on the CPU only (--device cpu)");
  for (const FileJob& job : jobs) {
    if (job.input == "-" || job.output.empty()) {
      throw RuntimeError("under mpirun, smx needs INPUT to be a .npy file and -o OUT.npy (the ranks split the "
                         "file's dim 0 and write one output file together)");
    }
  }
  for (const FileJob& job : jobs) run_job(op, dim, dtype, job, one_process);
}

}  // namespace

bool mpi_forward(Op op, std::optional<std::int64_t> dim, std::optional<Dtype> dtype,
                 const std::string& device, const std::vector<FileJob>& jobs,
                 const std::function<void(const FileJob&)>& one_process) {
  if (launched_world_size() <= 0) return false;
  try {
    run(op, dim, dtype, device, jobs, one_process);
    return true;
  } catch (const PeerFailed&) {
    throw;
  } catch (const Error&) {
    throw;  // agreed errors: every rank throws and exits 1 (main prints the message)
  } catch (const std::exception& e) {
    // Not agreed (out of memory inside a collective step): stop every rank now.
    std::cerr << "smx: error: " << e.what() << " (aborting the MPI job)\n";
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return true;
}

}  // namespace smx::cli
