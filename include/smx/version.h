#pragma once

namespace smx {
// The library's version, "major.minor.patch".
const char* version();
}  // namespace smx
