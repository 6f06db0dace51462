//===- ElfImage.h - checking a native artifact before it is loaded -*- C++ -*-===//
//
// dlopen runs code from the object before it returns: initialisers
// (DT_INIT, DT_INIT_ARRAY, DT_PREINIT_ARRAY), IFUNC resolvers (IRELATIVE
// relocations), and the loader itself writes wherever relocations point and
// loads whatever DT_NEEDED names. So a CPU artifact is inspected in memory
// first and refused unless it is the plain kind of object ember-compile
// links: an x86-64 ELF shared object with no interpreter, no initialisers
// or finalisers, no TLS, no executable stack, no search paths or audit
// libraries, only libc and libm as dependencies, relocations that stay
// inside its own writable segments, and no IFUNC symbols.
//
// The inspection also returns the dynamic symbols and the artifact's ABI
// record (the `__ember_abi` data symbol, JSON written by ember-compile), so
// the loader can check the code against the manifest before dlopen.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_ELFIMAGE_H
#define EMBER_RUNTIME_ELFIMAGE_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ember {

struct ElfSymbol {
  /// Defined in the object (not imported from a dependency).
  bool defined = false;
  /// STT_FUNC or STT_OBJECT (other types are reported as 0).
  bool function = false;
  uint64_t value = 0;
  uint64_t size = 0;
};

struct ElfInspection {
  /// The dynamic symbol table by name.
  std::map<std::string, ElfSymbol> symbols;
  /// The contents of the `__ember_abi` symbol (empty when there is none).
  std::string abiRecord;
};

/// Inspects the shared object in `data`; throws ModelError with the reason
/// (without a file label) when it is malformed or not plain enough to load.
ElfInspection inspectSharedObject(const uint8_t *data, size_t size);

} // namespace ember

#endif // EMBER_RUNTIME_ELFIMAGE_H
