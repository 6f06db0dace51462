//===- ContentName.h - a kernel's name from its code ------------*- C++ -*-===//
//
// Kernels are named by their content, so that equal kernels share one name
// (and one cached object) and profiler spans tell different ones apart: a
// prefix and the first 16 bytes of the SHA-256 of the code's text, in hex.
// The CPU's kernels (KernelJit.cpp) and the GPU's (GpuArtifact.cpp) are named
// so. Only LLVM Support: cheap to include.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_CONTENTNAME_H
#define EMBER_COMPILER_CONTENTNAME_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SHA256.h"

#include <array>
#include <cstdint>
#include <string>

namespace ember {

/// `prefix` followed by 32 hex digits of the SHA-256 of `text`.
inline std::string contentName(llvm::StringRef prefix, llvm::StringRef text) {
  llvm::SHA256 hash;
  hash.update(text);
  std::array<uint8_t, 32> digest = hash.final();
  static const char hex[] = "0123456789abcdef";
  std::string name = prefix.str();
  for (int i = 0; i < 16; ++i) {
    name += hex[digest[i] >> 4];
    name += hex[digest[i] & 15];
  }
  return name;
}

} // namespace ember

#endif // EMBER_COMPILER_CONTENTNAME_H
