//===- DiskCache.h - compiled graphs kept on disk across processes -*- C++ -*-===//
//
// The persistent half of the compile cache: machine code of compiled graphs,
// one file per graph under EMBER_CACHE_DIR (default ~/.cache/ember), so a
// second run of a script compiles nothing. An entry is trusted only when its
// identity (the graph's structural key, the compiler build and the CPU)
// matches byte for byte and its checksum holds; anything else is ignored
// and rewritten by the next compile. Writes are atomic (temp file + rename),
// so processes may share a folder; the folder is kept under
// EMBER_CACHE_SIZE_MB by removing the least recently used entries. No LLVM
// here: the caller compiles and loads the bytes.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_LIB_DISKCACHE_H
#define EMBER_FRONTEND_LIB_DISKCACHE_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ember {

/// What an entry holds, which is also its file name's suffix: a graph
/// (`.graph`: its glue code and kernel list) or one kernel (`.kernel`).
enum class DiskEntryKind { Graph, Kernel };

/// The cache folder ("" when the disk cache is off: EMBER_CACHE_DIR set to
/// the empty string, or no home folder). Read once per process.
const std::string &diskCacheDir();

/// The bytes stored for `identity`, or nothing when there is no entry or the
/// entry does not hold (then it is removed so that a compile rewrites it).
/// A hit marks the entry as recently used.
std::optional<std::string> diskCacheRead(const std::string &identity, DiskEntryKind kind);

/// Stores `payload` for `identity` atomically, then trims the folder to its
/// size limit. Failures (a read-only or full disk) are ignored: the cache is
/// an optimization, never a reason for a program to fail.
void diskCacheWrite(const std::string &identity, const std::string &payload,
                    DiskEntryKind kind);

/// The identity of a graph: the structural key, the target, and what the
/// generated code depends on besides the graph (`codeFingerprint`: LLVM
/// version, CPU and features) and the build of Ember itself.
std::string diskCacheIdentity(const std::vector<int64_t> &key, const std::string &target,
                              const std::string &codeFingerprint);

} // namespace ember

#endif // EMBER_FRONTEND_LIB_DISKCACHE_H
