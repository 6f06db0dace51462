//===- ModelFile.h - the .ember model file: layout, reader, writer -*- C++ -*-===//
//
// A .ember file (specified in docs/model-format.md) is one little-endian
// image:
//
//   header        64 bytes: magic "EMBERMDL", format version, section count,
//                 section table offset, file size, header checksum
//   sections      each starting on a 4096-byte boundary (weights and native
//                 code can be used straight from an mmap)
//   section table one 64-byte entry per section: kind, name, offset, size,
//                 XXH64 checksum of the contents
//
// Sections: exactly one `manifest` (JSON, see Manifest.h), one `program`
// (MLIR bytecode in the ember dialect: the portable program), at most one
// `weights` (every weight 64-byte aligned; offsets in the manifest), and any
// number of `artifact` sections (per-target native code, described by the
// manifest's "artifacts" list), and from version 2 at most one `signature`
// (an Ed25519 signature over every other section, see Signature.h).
//
// Reading never trusts the file: every offset and size is bounds-checked,
// every checksum verified, and every failure is a ModelError whose message
// says what is wrong and what to do — never a crash.
//
// Writing is atomic: a temporary file in the target's folder, fsync, rename.
// No LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_MODELFILE_H
#define EMBER_RUNTIME_MODELFILE_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ember {

/// Every error from reading, validating or running a model.
class ModelError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

constexpr char kModelMagic[8] = {'E', 'M', 'B', 'E', 'R', 'M', 'D', 'L'};
/// The newest format version this build reads and writes. Version 2 added
/// the signature section; a file without one is still written as version 1
/// so that older readers keep reading unsigned files. Version 3 added
/// custom op libraries (the manifest's `custom_op_libraries`, whose
/// program calls `ember.custom_call`); only such files are version 3 (the
/// manifest's format_version says so), so older readers refuse them with
/// the version message instead of failing on an op they do not know.
constexpr uint32_t kModelFormatVersion = 3;
/// The oldest format version this build reads.
constexpr uint32_t kMinModelFormatVersion = 1;
constexpr size_t kModelHeaderSize = 64;
constexpr size_t kModelSectionEntrySize = 64;
constexpr size_t kModelSectionAlignment = 4096;
constexpr size_t kModelWeightAlignment = 64;

enum class SectionKind : uint32_t {
  Manifest = 1,
  Program = 2,
  Weights = 3,
  Artifact = 4,
  /// Version 2 and later.
  Signature = 5,
};

/// XXH64 of `size` bytes (seed 0): the checksum of sections and artifacts.
uint64_t xxhash64(const void *data, size_t size, uint64_t seed = 0);
/// `value` as 16 lowercase hex digits (how the manifest spells checksums).
std::string checksumHex(uint64_t value);

/// One section of a file being read: a view into the mapped image.
struct SectionView {
  SectionKind kind;
  /// At most 31 bytes (e.g. "artifact.cpu").
  std::string name;
  const uint8_t *data;
  uint64_t size;
  uint64_t checksum;
};

/// A validated model image: mmapped from a file, or copied from memory.
/// Construction checks the header, the version, the section table and every
/// section's checksum; it throws ModelError on any problem.
class ModelFile {
public:
  /// Maps `path` read-only. Errors name the path.
  static std::shared_ptr<ModelFile> open(const std::string &path);
  /// Validates an image held in memory (copied).
  static std::shared_ptr<ModelFile> fromBytes(const void *data, size_t size,
                                              const std::string &label = "<memory>");
  ~ModelFile();

  uint32_t formatVersion() const { return version; }
  const std::vector<SectionView> &sections() const { return sectionList; }
  /// The section named `name`, or null.
  const SectionView *find(const std::string &name) const;
  /// The manifest's JSON text.
  std::string manifestText() const;
  /// Where the image came from (a path or "<memory>"), for messages.
  const std::string &label() const { return source; }
  const uint8_t *data() const { return base; }
  size_t size() const { return length; }

  ModelFile(const ModelFile &) = delete;
  ModelFile &operator=(const ModelFile &) = delete;

private:
  ModelFile() = default;
  void validate();

  std::string source;
  const uint8_t *base = nullptr;
  size_t length = 0;
  bool mapped = false;
  std::vector<uint8_t> owned;
  uint32_t version = 0;
  std::vector<SectionView> sectionList;
};

/// A section to write.
struct SectionData {
  SectionKind kind;
  std::string name;
  std::vector<uint8_t> bytes;
};

/// The file image of `sections` (header, aligned sections, table), in the
/// oldest format version that can hold them.
/// Throws ModelError for a bad name (empty or over 31 bytes) or a missing
/// manifest/program section.
std::vector<uint8_t> buildModelImage(const std::vector<SectionData> &sections);

/// Writes `bytes` to `path` atomically (temp file in the same folder, fsync,
/// rename): on any failure `path` is left as it was and ModelError says why.
void writeFileAtomically(const std::string &path, const void *bytes, size_t size);

} // namespace ember

#endif // EMBER_RUNTIME_MODELFILE_H
