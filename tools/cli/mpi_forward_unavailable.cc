// The command built without MPI (SMX_MPI off or Open MPI absent).
#include <string>

#include "mpi_forward.h"
#include "smx/errors.h"

namespace smx::cli {

bool mpi_forward(Op, std::optional<std::int64_t>, std::optional<Dtype>, const std::string&,
                 const std::vector<FileJob>&, const std::function<void(const FileJob&)>&) {
  const int size = launched_world_size();
  if (size > 1) {
    throw RuntimeError("smx was not built with MPI, so it cannot split the work between the " + std::to_string(size) +
                       " processes mpirun started (rebuild with -DSMX_MPI=ON and libopenmpi-dev, or run one process)");
  }
  return false;
}

}  // namespace smx::cli
