#include "ops/implicit_dim.h"

#include <iostream>
#include <mutex>
#include <set>

#include "smx/softmax.h"

namespace smx {

std::int64_t implicit_softmax_dim(std::int64_t ndim) {
  return (ndim == 0 || ndim == 1 || ndim == 3) ? 0 : 1;
}

namespace detail {

std::string implicit_dim_warning(const std::string& name) {
  return "Implicit dimension choice for " + name +
         " has been deprecated. Change the call to include dim=X as an argument.";
}

std::int64_t implicit_dim_with_warning(const std::string& name, std::int64_t ndim) {
  // Python's default warning filter shows a warning once per call site; a C++ library has no
  // call sites to key on, so each op warns once per process.
  static std::mutex mutex;
  static std::set<std::string> warned;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (warned.insert(name).second) {
      std::cerr << "UserWarning: " << implicit_dim_warning(name) << std::endl;
    }
  }
  return implicit_softmax_dim(ndim);
}

}  // namespace detail
}  // namespace smx
