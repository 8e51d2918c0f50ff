#include "file_jobs.h"

#include <filesystem>
#include <set>

#include "smx/errors.h"

namespace smx::cli {

std::vector<FileJob> file_jobs(const std::vector<std::string>& inputs, const std::string& out) {
  if (inputs.size() == 1) return {{inputs[0], out}};
  namespace fs = std::filesystem;
  std::error_code ec;
  if (out.empty() || !fs::is_directory(out, ec)) {
    throw RuntimeError("with several INPUTs, -o must name an existing directory (each result is written there "
                       "under its input's file name)" + (out.empty() ? std::string() : ", got '" + out + "'"));
  }
  std::vector<FileJob> jobs;
  std::set<std::string> names;
  for (const std::string& input : inputs) {
    if (!fs::is_regular_file(input, ec)) {
      throw RuntimeError("with several INPUTs, each must be a .npy file; '" + input + "' is not a file");
    }
    const std::string name = fs::path(input).filename().string();
    if (!names.insert(name).second) {
      throw RuntimeError("two INPUTs are named '" + name + "': their results would both be " +
                         (fs::path(out) / name).string());
    }
    jobs.push_back({input, (fs::path(out) / name).string()});
  }
  return jobs;
}

}  // namespace smx::cli
