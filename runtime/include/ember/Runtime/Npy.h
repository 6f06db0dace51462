//===- Npy.h - NumPy .npy files as host tensors -----------------*- C++ -*-===//
//
// Reads and writes NumPy's .npy format (versions 1.0, 2.0 and 3.0):
// little-endian bool, int32, int64, float16, float32 and float64 arrays in C
// order. bfloat16 has no .npy dtype and is rejected on write; Fortran-order
// and big-endian files are rejected on read with a message. Malformed files
// throw ModelError naming the file, never crash.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_NPY_H
#define EMBER_RUNTIME_NPY_H

#include "ember/Runtime/HostTensor.h"

#include <cstddef>
#include <string>

namespace ember {

HostTensor readNpy(const std::string &path);
HostTensor readNpyBytes(const void *data, size_t size, const std::string &label);
/// Writes atomically (see writeFileAtomically).
void writeNpy(const std::string &path, const HostTensor &tensor);

} // namespace ember

#endif // EMBER_RUNTIME_NPY_H
