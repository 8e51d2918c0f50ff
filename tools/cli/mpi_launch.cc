// Detecting mpirun from the environment it sets, without MPI (both builds of the command).
#include <cstdlib>
#include <string>

#include "mpi_forward.h"

namespace smx::cli {

int launched_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') {
      try {
        return std::stoi(v);
      } catch (const std::exception&) {
        return 0;
      }
    }
  }
  return 0;
}

}  // namespace smx::cli
