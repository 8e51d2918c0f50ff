#include "io/npy_decode.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace smx::io {

namespace {

template <typename U>
U bswap(U v) {
  if constexpr (sizeof(U) == 2) return __builtin_bswap16(v);
  else if constexpr (sizeof(U) == 4) return __builtin_bswap32(v);
  else return __builtin_bswap64(v);
}

// In place; memcpy in and out keeps it free of alignment and aliasing assumptions, and GCC and
// clang turn the loop into vector shuffles.
template <typename U>
void swap_in_place(void* data, std::size_t count) {
  auto* p = static_cast<unsigned char*>(data);
  for (std::size_t i = 0; i < count; ++i) {
    U v;
    std::memcpy(&v, p + i * sizeof(U), sizeof(U));
    v = bswap(v);
    std::memcpy(p + i * sizeof(U), &v, sizeof(U));
  }
}

// Narrow integers to int64 (sign- or zero-extended), optionally byte-swapped.
template <typename U, typename S>
void widen(const void* src, std::int64_t* dst, std::size_t count, bool big_endian) {
  const auto* p = static_cast<const unsigned char*>(src);
  for (std::size_t i = 0; i < count; ++i) {
    U v;
    std::memcpy(&v, p + i * sizeof(U), sizeof(U));
    if constexpr (sizeof(U) > 1) {
      if (big_endian) v = bswap(v);
    }
    dst[i] = static_cast<std::int64_t>(static_cast<S>(v));
  }
}

[[noreturn]] void fail(const std::string& source, const std::string& what) { throw DataError(source + ": " + what); }

// Bool bytes must be 0 or 1: one vectorised OR over the block, then a search only on failure.
void check_bools(const unsigned char* p, std::size_t count, const std::string& source) {
  unsigned char any = 0;
  for (std::size_t i = 0; i < count; ++i) any |= p[i];
  if (any <= 1) return;
  for (std::size_t i = 0; i < count; ++i) {
    if (p[i] > 1) fail(source, "bool element holds the byte " + std::to_string(p[i]) + ", not 0 or 1");
  }
}

void check_uint64(const std::uint64_t* p, std::size_t count, const std::string& source) {
  std::uint64_t any = 0;
  for (std::size_t i = 0; i < count; ++i) any |= p[i];
  if (any >> 63 == 0) return;
  for (std::size_t i = 0; i < count; ++i) {
    if (p[i] > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail(source, "uint64 element " + std::to_string(p[i]) + " does not fit in int64");
    }
  }
}

}  // namespace

bool npy_same_width(const NpyElement& f) { return f.kind == 'f' || f.kind == 'b' || f.size == 8; }

void decode_npy_elements(const NpyElement& f, const void* src, void* dst, std::size_t count,
                         const std::string& source) {
  if (count == 0) return;
  if (npy_same_width(f)) {
    if (dst != src) std::memcpy(dst, src, count * f.size);
    if (f.big_endian) {
      if (f.size == 2) swap_in_place<std::uint16_t>(dst, count);
      else if (f.size == 4) swap_in_place<std::uint32_t>(dst, count);
      else swap_in_place<std::uint64_t>(dst, count);
    }
    if (f.kind == 'b') check_bools(static_cast<const unsigned char*>(dst), count, source);
    if (f.kind == 'u') check_uint64(static_cast<const std::uint64_t*>(dst), count, source);
    return;
  }
  auto* out = static_cast<std::int64_t*>(dst);
  const bool signed_kind = f.kind == 'i';
  switch (f.size) {
    case 1:
      signed_kind ? widen<std::uint8_t, std::int8_t>(src, out, count, false)
                  : widen<std::uint8_t, std::uint8_t>(src, out, count, false);
      return;
    case 2:
      signed_kind ? widen<std::uint16_t, std::int16_t>(src, out, count, f.big_endian)
                  : widen<std::uint16_t, std::uint16_t>(src, out, count, f.big_endian);
      return;
    default:
      signed_kind ? widen<std::uint32_t, std::int32_t>(src, out, count, f.big_endian)
                  : widen<std::uint32_t, std::uint32_t>(src, out, count, f.big_endian);
  }
}

}  // namespace smx::io
