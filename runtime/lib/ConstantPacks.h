//===- ConstantPacks.h - operands packed once from constant memory -*- C++ -*-===//
//
// Memory nothing writes while it is registered (a loaded model file's
// image: gemm::registerConstantMemory, EmberGemm.h) holds weights that the
// GEMM and the convolution would otherwise re-pack on every call. The one
// registry of those ranges and of what was packed from them: each kernel
// asks for its packing of an operand under a key (the operand's address
// and everything its layout depends on: sizes, strides, tile, blocking, a
// tag naming the packing) and gets the cached copy, packed on first use;
// releasing a range drops every packing of an operand inside it. Internal
// to the runtime (CpuGemm.cpp, CpuConv.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CONSTANTPACKS_H
#define EMBER_RUNTIME_CONSTANTPACKS_H

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace ember {
namespace constant {

/// Which packing a key names (its first element), so that two kernels'
/// packings of the same weights never collide.
enum class Packing : int64_t {
  GemmB = 1,
  ConvWeights,
  ConvPointwiseB,
  ConvStemWeights,
  ConvDirect,
  ConvWinograd
};

/// An operand's address and what its packed layout depends on.
struct Key {
  const void *data;
  std::vector<int64_t> layout;
  bool operator<(const Key &other) const {
    return data != other.data ? data < other.data : layout < other.layout;
  }
};

/// The packing cached under `key` when [begin, end) lies in one registered
/// range; `constant` says whether it does (else nothing is cached).
std::shared_ptr<const void> find(const void *begin, const void *end,
                                 const Key &key, bool &constant);
/// Caches `packed` under `key` unless [begin, end) stopped being constant
/// meanwhile (released while it was packed) or a twin got there first.
void insert(const void *begin, const void *end, const Key &key,
            std::shared_ptr<const void> packed);

/// The operand spanning [begin, end) packed by `pack()` (a
/// std::shared_ptr<const T>, or one convertible to it): the cached copy
/// when it lies in constant memory, packed on first use outside the lock
/// (a racing twin packs the same); null when it is not constant memory
/// (`pack` is not called: the caller packs for itself).
template <typename T, typename Pack>
std::shared_ptr<const T> packOnce(const void *begin, const void *end,
                                  const Key &key, const Pack &pack) {
  bool constant = false;
  std::shared_ptr<const void> found = find(begin, end, key, constant);
  if (!constant)
    return nullptr;
  if (found)
    return std::static_pointer_cast<const T>(found);
  std::shared_ptr<const T> packed = pack();
  if (packed)
    insert(begin, end, key, packed);
  return packed;
}

} // namespace constant
} // namespace ember

#endif // EMBER_RUNTIME_CONSTANTPACKS_H
