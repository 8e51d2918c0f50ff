// Which output each INPUT of a forward command goes to: one INPUT and -o OUT (or no -o: print),
// or several .npy INPUTs and -o naming an existing directory, each result written there under
// its input's file name (`smx softmax --dim -1 a.npy b.npy -o probs/`). Under mpirun the ranks
// go through the list together in one launch.
#pragma once

#include <string>
#include <vector>

namespace smx::cli {

struct FileJob {
  std::string input;   // a .npy path, a literal, or - (stdin)
  std::string output;  // a .npy path, or empty: print the result
};

// Throws smx::RuntimeError (a usage problem the command reports with exit status 1) when several
// INPUTs come without -o DIR, when DIR is not a directory, when an INPUT is not a file, or when
// two INPUTs share a file name (the second would replace the first's result).
std::vector<FileJob> file_jobs(const std::vector<std::string>& inputs, const std::string& out);  // inputs: >= 1

}  // namespace smx::cli
