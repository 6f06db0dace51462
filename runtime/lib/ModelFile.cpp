//===- ModelFile.cpp - reading, validating and writing .ember images -------===//
//
// The reader treats the image as hostile: every field is read with memcpy at
// a bounds-checked offset, and arithmetic on offsets and sizes is checked
// for overflow before use. See docs/model-format.md.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/ModelFile.h"
#include "ember/Runtime/Json.h"
#include "ember/Runtime/TempFiles.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ember {
namespace gemm {
// The GEMM and the convolution cache weights packed from constant memory;
// a model file's image is that (ConstantPacks.cpp). Weak: the fuzzers and
// unit tests link this file without the kernels (then they are null).
[[gnu::weak]] void registerConstantMemory(const void *begin, size_t size);
[[gnu::weak]] void releaseConstantMemory(const void *begin);
} // namespace gemm

namespace {

/// Byte offsets of the header fields.
constexpr size_t kVersionOffset = 8;
constexpr size_t kCountOffset = 12;
constexpr size_t kTableOffset = 16;
constexpr size_t kFileSizeOffset = 24;
constexpr size_t kTableChecksumOffset = 32;
constexpr size_t kHeaderChecksumOffset = 56;
/// More sections than any real model has: bounds the table a reader scans.
constexpr uint32_t kMaxSections = 1024;
constexpr size_t kNameBytes = 32;

template <typename T> T readAt(const uint8_t *base, size_t offset) {
  T value;
  std::memcpy(&value, base + offset, sizeof(T));
  return value;
}

template <typename T> void writeAt(std::vector<uint8_t> &bytes, size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

const char *kindName(uint32_t kind) {
  switch (static_cast<SectionKind>(kind)) {
  case SectionKind::Manifest:
    return "manifest";
  case SectionKind::Program:
    return "program";
  case SectionKind::Weights:
    return "weights";
  case SectionKind::Artifact:
    return "artifact";
  case SectionKind::Signature:
    return "signature";
  }
  return nullptr;
}

std::string systemError(const std::string &what) {
  return what + ": " + std::strerror(errno);
}

} // namespace

std::shared_ptr<ModelFile> ModelFile::open(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw ModelError(systemError("cannot open model file '" + path + "'"));
  struct stat info;
  if (fstat(fd, &info) != 0) {
    std::string message = systemError("cannot stat '" + path + "'");
    ::close(fd);
    throw ModelError(message);
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw ModelError(path + ": not a regular file");
  }
  std::shared_ptr<ModelFile> file(new ModelFile());
  file->source = path;
  file->length = static_cast<size_t>(info.st_size);
  if (file->length > 0) {
    void *address = mmap(nullptr, file->length, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      std::string message = systemError("cannot map '" + path + "'");
      ::close(fd);
      throw ModelError(message);
    }
    file->base = static_cast<const uint8_t *>(address);
    file->mapped = true;
  }
  ::close(fd); // the mapping keeps the file's pages
  file->validate();
  // Read-only and private: nothing writes the weights while the file lives.
  if (file->length && gemm::registerConstantMemory)
    gemm::registerConstantMemory(file->base, file->length);
  return file;
}

std::shared_ptr<ModelFile> ModelFile::fromBytes(const void *data, size_t size,
                                                const std::string &label) {
  std::shared_ptr<ModelFile> file(new ModelFile());
  file->source = label;
  file->owned.assign(static_cast<const uint8_t *>(data),
                     static_cast<const uint8_t *>(data) + size);
  // Keep a valid pointer for an empty image too.
  file->owned.reserve(1);
  file->base = file->owned.data();
  file->length = size;
  file->validate();
  // The copy is never written after this.
  if (size && gemm::registerConstantMemory)
    gemm::registerConstantMemory(file->base, size);
  return file;
}

ModelFile::~ModelFile() {
  if (base && length && gemm::releaseConstantMemory)
    gemm::releaseConstantMemory(base);
  if (mapped && base)
    munmap(const_cast<uint8_t *>(base), length);
}

const SectionView *ModelFile::find(const std::string &name) const {
  for (const SectionView &section : sectionList)
    if (section.name == name)
      return &section;
  return nullptr;
}

std::string ModelFile::manifestText() const {
  const SectionView *manifest = find("manifest");
  if (!manifest)
    throw ModelError(source + ": the file has no manifest section");
  return std::string(reinterpret_cast<const char *>(manifest->data), manifest->size);
}

void ModelFile::validate() {
  auto fail = [&](const std::string &what) -> void {
    throw ModelError(source + ": " + what);
  };
  if (length < sizeof(kModelMagic) ||
      std::memcmp(base, kModelMagic, sizeof(kModelMagic)) != 0)
    fail("not an ember model file (bad magic; expected \"EMBERMDL\")");
  if (length < kModelHeaderSize)
    fail("truncated: " + std::to_string(length) +
         " bytes, less than the 64-byte header");

  // The version first: a newer format may change everything after it.
  version = readAt<uint32_t>(base, kVersionOffset);
  if (version < kMinModelFormatVersion || version > kModelFormatVersion)
    fail("format version " + std::to_string(version) +
         " is not supported; this build reads versions " +
         std::to_string(kMinModelFormatVersion) + " to " +
         std::to_string(kModelFormatVersion) +
         " (re-export the model with a matching Ember, or upgrade Ember)");

  uint64_t declaredSize = readAt<uint64_t>(base, kFileSizeOffset);
  if (declaredSize > length)
    fail("truncated: the header says " + std::to_string(declaredSize) +
         " bytes, the file has " + std::to_string(length));
  if (xxhash64(base, kHeaderChecksumOffset) !=
      readAt<uint64_t>(base, kHeaderChecksumOffset))
    fail("the header fails its checksum (the file is corrupt)");
  if (declaredSize != length)
    fail("the header says " + std::to_string(declaredSize) +
         " bytes but the file has " + std::to_string(length) +
         " (trailing data or a damaged header)");
  for (size_t i = 40; i < kHeaderChecksumOffset; ++i)
    if (base[i] != 0)
      fail("reserved header bytes are not zero");

  uint32_t count = readAt<uint32_t>(base, kCountOffset);
  uint64_t tableOffset = readAt<uint64_t>(base, kTableOffset);
  if (count == 0 || count > kMaxSections)
    fail("bad section count " + std::to_string(count) + " (1 to " +
         std::to_string(kMaxSections) + " allowed)");
  uint64_t tableSize = uint64_t(count) * kModelSectionEntrySize;
  if (tableOffset < kModelHeaderSize || tableOffset > length ||
      tableSize > length - tableOffset)
    fail("truncated: the section table (" + std::to_string(count) +
         " entries at offset " + std::to_string(tableOffset) +
         ") lies outside the file");
  if (xxhash64(base + tableOffset, tableSize) !=
      readAt<uint64_t>(base, kTableChecksumOffset))
    fail("the section table fails its checksum (the file is corrupt)");

  sectionList.clear();
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t *entry = base + tableOffset + size_t(i) * kModelSectionEntrySize;
    uint32_t kind = readAt<uint32_t>(entry, 0);
    const char *nameBytes = reinterpret_cast<const char *>(entry + 8);
    size_t nameLength = strnlen(nameBytes, kNameBytes);
    if (nameLength == 0 || nameLength == kNameBytes)
      fail("section " + std::to_string(i) + " has an empty or unterminated name");
    std::string name(nameBytes, nameLength);
    // Reserved bytes and the name's padding are zero, so that one section
    // has one spelling (and a later version can give them a meaning).
    if (readAt<uint32_t>(entry, 4) != 0 ||
        std::any_of(nameBytes + nameLength, nameBytes + kNameBytes,
                    [](char c) { return c != 0; }))
      fail("section '" + name + "' has non-zero reserved or padding bytes");
    if (!kindName(kind) ||
        (kind == static_cast<uint32_t>(SectionKind::Signature) && version < 2))
      fail("section '" + name + "' has unknown kind " + std::to_string(kind) +
           " for format version " + std::to_string(version));
    uint64_t offset = readAt<uint64_t>(entry, 40);
    uint64_t size = readAt<uint64_t>(entry, 48);
    uint64_t checksum = readAt<uint64_t>(entry, 56);
    if (offset % kModelSectionAlignment != 0)
      fail("section '" + name + "' is not aligned to " +
           std::to_string(kModelSectionAlignment) + " bytes");
    if (offset < kModelHeaderSize || offset > tableOffset ||
        size > tableOffset - offset)
      fail("truncated: section '" + name + "' (" + std::to_string(size) +
           " bytes at offset " + std::to_string(offset) + ") lies outside the file");
    for (const SectionView &other : sectionList)
      if (other.name == name)
        fail("two sections are named '" + name + "'");
    if (xxhash64(base + offset, size) != checksum)
      fail("section '" + name + "' fails its checksum (the file is corrupt)");
    ranges.push_back({offset, size});
    sectionList.push_back(
        {static_cast<SectionKind>(kind), name, base + offset, size, checksum});
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i - 1].first + ranges[i - 1].second > ranges[i].first)
      fail("sections overlap");
  // Every byte outside the header, the sections and the table is alignment
  // padding and must be zero: a file has one spelling, and nothing can hide
  // between sections (where no checksum or signature would cover it).
  uint64_t cursor = kModelHeaderSize;
  ranges.push_back({tableOffset, tableSize});
  for (const auto &[offset, size] : ranges) {
    if (offset > cursor &&
        std::any_of(base + cursor, base + offset, [](uint8_t b) { return b != 0; }))
      fail("non-zero bytes in the padding at offset " + std::to_string(cursor) +
           " (before the data at " + std::to_string(offset) + ")");
    cursor = std::max(cursor, offset + size);
  }
  if (cursor != length)
    fail(std::to_string(length - cursor) +
         " bytes follow the section table (the table ends the file)");

  auto countKind = [&](SectionKind kind) {
    return std::count_if(sectionList.begin(), sectionList.end(),
                         [&](const SectionView &s) { return s.kind == kind; });
  };
  if (countKind(SectionKind::Manifest) != 1 || !find("manifest") ||
      find("manifest")->kind != SectionKind::Manifest)
    fail("expected exactly one manifest section named 'manifest'");
  if (countKind(SectionKind::Program) != 1 || !find("program") ||
      find("program")->kind != SectionKind::Program)
    fail("expected exactly one program section named 'program'");
  if (countKind(SectionKind::Weights) > 1 ||
      (countKind(SectionKind::Weights) == 1 &&
       (!find("weights") || find("weights")->kind != SectionKind::Weights)))
    fail("expected at most one weights section, named 'weights'");
  if (countKind(SectionKind::Signature) > 1 ||
      (countKind(SectionKind::Signature) == 1 &&
       (!find("signature") || find("signature")->kind != SectionKind::Signature)))
    fail("expected at most one signature section, named 'signature'");
}

std::vector<uint8_t> buildModelImage(const std::vector<SectionData> &sections) {
  bool hasManifest = false, hasProgram = false, hasSignature = false;
  for (const SectionData &section : sections) {
    if (section.name.empty() || section.name.size() >= kNameBytes)
      throw ModelError("section name '" + section.name +
                       "' must have 1 to 31 bytes");
    if (!kindName(static_cast<uint32_t>(section.kind)))
      throw ModelError("section '" + section.name + "' has an unknown kind");
    hasManifest |= section.kind == SectionKind::Manifest;
    hasProgram |= section.kind == SectionKind::Program;
    hasSignature |= section.kind == SectionKind::Signature;
  }
  if (!hasManifest || !hasProgram)
    throw ModelError("a model file needs a manifest and a program section");
  if (sections.size() > kMaxSections)
    throw ModelError("too many sections");

  auto alignUp = [](size_t value) {
    return (value + kModelSectionAlignment - 1) / kModelSectionAlignment *
           kModelSectionAlignment;
  };
  std::vector<size_t> offsets;
  size_t cursor = alignUp(kModelHeaderSize);
  for (const SectionData &section : sections) {
    offsets.push_back(cursor);
    cursor = alignUp(cursor + section.bytes.size());
  }
  size_t tableOffset = cursor;
  size_t total = tableOffset + sections.size() * kModelSectionEntrySize;
  std::vector<uint8_t> image(total, 0);
  for (size_t i = 0; i < sections.size(); ++i) {
    const SectionData &section = sections[i];
    if (!section.bytes.empty())
      std::memcpy(image.data() + offsets[i], section.bytes.data(), section.bytes.size());
    size_t entry = tableOffset + i * kModelSectionEntrySize;
    writeAt<uint32_t>(image, entry, static_cast<uint32_t>(section.kind));
    std::memcpy(image.data() + entry + 8, section.name.data(), section.name.size());
    writeAt<uint64_t>(image, entry + 40, offsets[i]);
    writeAt<uint64_t>(image, entry + 48, section.bytes.size());
    writeAt<uint64_t>(image, entry + 56,
                      xxhash64(section.bytes.data(), section.bytes.size()));
  }
  std::memcpy(image.data(), kModelMagic, sizeof(kModelMagic));
  // The oldest version that holds the file: 2 for a signature, the
  // manifest's own format_version when higher (3: custom op libraries).
  uint32_t version = hasSignature ? 2u : 1u;
  for (const SectionData &section : sections) {
    if (section.kind != SectionKind::Manifest)
      continue;
    try {
      Json manifest = Json::parse(
          std::string(section.bytes.begin(), section.bytes.end()));
      if (const Json *declared = manifest.isObject()
                                     ? manifest.get("format_version")
                                     : nullptr) {
        int64_t v = declared->asInt("format_version");
        if (v > static_cast<int64_t>(version) && v <= kModelFormatVersion)
          version = static_cast<uint32_t>(v);
      }
    } catch (const std::exception &) {
      // A malformed manifest is the reader's to report.
    }
  }
  writeAt<uint32_t>(image, kVersionOffset, version);
  writeAt<uint32_t>(image, kCountOffset, static_cast<uint32_t>(sections.size()));
  writeAt<uint64_t>(image, kTableOffset, tableOffset);
  writeAt<uint64_t>(image, kFileSizeOffset, total);
  writeAt<uint64_t>(image, kTableChecksumOffset,
                    xxhash64(image.data() + tableOffset,
                             sections.size() * kModelSectionEntrySize));
  writeAt<uint64_t>(image, kHeaderChecksumOffset,
                    xxhash64(image.data(), kHeaderChecksumOffset));
  return image;
}

void writeFileAtomically(const std::string &path, const void *bytes, size_t size) {
  // The temporary lives next to the target so that rename is atomic (same
  // file system); its name is unique per process and call, and says whose
  // it is, so that a killed writer's leftover goes at the next write.
  size_t slash = path.rfind('/');
  std::string folder = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty())
    throw ModelError("cannot write '" + path + "': the path names a folder");
  removeStaleTemporaries(folder, name);
  std::string pattern = tempFileTemplate(folder, name);
  std::vector<char> temp(pattern.begin(), pattern.end());
  temp.push_back('\0');
  int fd = mkstemp(temp.data());
  if (fd < 0)
    throw ModelError(systemError("cannot write '" + path + "'"));
  std::string tempPath(temp.data());
  auto failWith = [&](const std::string &message) {
    ::close(fd);
    ::unlink(tempPath.c_str());
    throw ModelError(message);
  };
  const char *cursor = static_cast<const char *>(bytes);
  size_t left = size;
  while (left > 0) {
    ssize_t written = ::write(fd, cursor, left);
    if (written < 0) {
      if (errno == EINTR)
        continue;
      failWith(systemError("cannot write '" + path + "'"));
    }
    cursor += written;
    left -= static_cast<size_t>(written);
  }
  if (fchmod(fd, 0644) != 0 || fsync(fd) != 0)
    failWith(systemError("cannot write '" + path + "'"));
  if (::close(fd) != 0) {
    ::unlink(tempPath.c_str());
    throw ModelError(systemError("cannot write '" + path + "'"));
  }
  if (::rename(tempPath.c_str(), path.c_str()) != 0) {
    std::string message = systemError("cannot write '" + path + "'");
    ::unlink(tempPath.c_str());
    throw ModelError(message);
  }
}

} // namespace ember
