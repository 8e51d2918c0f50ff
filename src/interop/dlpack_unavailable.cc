// DLPack in and out when smx was built without DLPack's header (libdlpack-dev).
#include "smx/dlpack.h"
#include "smx/errors.h"

namespace smx {

Tensor from_dlpack(DLManagedTensor*) {
  throw RuntimeError("smx was built without DLPack (install libdlpack-dev and rebuild)");
}

DLManagedTensor* to_dlpack(const Tensor&) {
  throw RuntimeError("smx was built without DLPack (install libdlpack-dev and rebuild)");
}

}  // namespace smx
