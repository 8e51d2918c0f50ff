// `mpirun -n N smx softmax|log_softmax|softmin --dim D IN.npy -o OUT.npy` (or several inputs and
// -o DIR, one file after the other in the same launch): the N processes split each file's dim 0 (rank r reads only rows [r*N0/N, (r+1)*N0/N)); when D is 0 the statistics are
// combined across ranks (smx::dist), otherwise each rank's rows are independent. Rank 0 creates
// the output as a temporary file, every rank writes its rows into it and fsyncs them, and rank 0
// renames it into place only after every rank succeeded (an allreduce of a success flag).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "file_jobs.h"

#include "smx/dtype.h"
#include "smx/op.h"

namespace smx::cli {

// The world size mpirun announced in the environment (Open MPI's OMPI_COMM_WORLD_SIZE, or
// PMI_SIZE from MPICH/Hydra/Slurm); 0 when not started by mpirun.
int launched_world_size();

// Runs the op as above on every job, in order, when started by mpirun (MPI is initialised only
// then), returning true; returns false, having done nothing, when not under mpirun, so one
// process behaves as before. A file with no rows to split (empty, 0-d, Fortran order) is run by
// rank 0 alone through `one_process`. A failure stops every rank at that job; the outputs of the
// jobs before it are complete, and the failed one leaves no file. Built without MPI, a job of
// more than one process is an error (each process would otherwise compute and write every file).
bool mpi_forward(Op op, std::optional<std::int64_t> dim, std::optional<Dtype> dtype,
                 const std::string& device, const std::vector<FileJob>& jobs,
                 const std::function<void(const FileJob&)>& one_process);

}  // namespace smx::cli
