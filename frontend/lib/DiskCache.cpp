//===- DiskCache.cpp - compiled graphs kept on disk across processes -------===//
//
// Entry file layout (little endian):
//   8  magic "EMBRGRPH"
//   4  format version
//   4  reserved (0)
//   8  identity size
//   8  payload size
//   8  XXH64 of identity + payload
//   .. identity bytes, then payload bytes
// The file is named by the XXH64 of the identity; the stored identity is
// compared in full, so a hash collision is a miss, never wrong code.
//
//===----------------------------------------------------------------------===//

#include "DiskCache.h"

#include "ember/Runtime/ModelFile.h"
#include "ember/Runtime/TempFiles.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace ember {
namespace {

constexpr char kMagic[8] = {'E', 'M', 'B', 'R', 'G', 'R', 'P', 'H'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = 40;
const char *suffix(DiskEntryKind kind) {
  return kind == DiskEntryKind::Graph ? ".graph" : ".kernel";
}

bool isEntryName(const std::string &name) {
  if (name.empty() || name[0] == '.')
    return false;
  for (DiskEntryKind kind : {DiskEntryKind::Graph, DiskEntryKind::Kernel}) {
    std::string tail = suffix(kind);
    if (name.size() > tail.size() &&
        name.compare(name.size() - tail.size(), std::string::npos, tail) == 0)
      return true;
  }
  return false;
}

uint64_t readU64(const char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

void appendU64(std::string &out, uint64_t v) { out.append(reinterpret_cast<char *>(&v), 8); }

/// Creates `path` and its parents; false when that fails.
bool makeFolders(const std::string &path) {
  std::string partial;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos)
      slash = path.size();
    partial = path.substr(0, slash);
    if (!partial.empty() && mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
      return false;
    start = slash + 1;
  }
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

/// This build of Ember: the file holding this code, its size and time. A
/// rebuild changes it, so code from an older compiler is never reused.
const std::string &buildIdentity() {
  static const std::string identity = [] {
    Dl_info info;
    std::string text = "ember-build:";
    if (dladdr(reinterpret_cast<void *>(&diskCacheIdentity), &info) && info.dli_fname) {
      struct stat file;
      text += info.dli_fname;
      if (stat(info.dli_fname, &file) == 0)
        text += ":" + std::to_string(file.st_size) + ":" + std::to_string(file.st_mtim.tv_sec) +
                "." + std::to_string(file.st_mtim.tv_nsec);
    }
    return text;
  }();
  return identity;
}

uint64_t sizeLimitBytes() {
  const char *value = getenv("EMBER_CACHE_SIZE_MB");
  double mb = value && *value ? atof(value) : 1024.0;
  return mb <= 0 ? 0 : static_cast<uint64_t>(mb * 1024 * 1024);
}

std::string entryPath(const std::string &identity, DiskEntryKind kind) {
  char name[32];
  snprintf(name, sizeof(name), "%016llx",
           static_cast<unsigned long long>(xxhash64(identity.data(), identity.size())));
  return diskCacheDir() + "/" + name + suffix(kind);
}

bool readWholeFile(const std::string &path, std::string &out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  struct stat info;
  bool ok = fstat(fd, &info) == 0;
  if (ok) {
    out.resize(info.st_size);
    size_t done = 0;
    while (ok && done < out.size()) {
      ssize_t got = read(fd, &out[done], out.size() - done);
      if (got < 0 && errno == EINTR)
        continue;
      ok = got > 0;
      done += ok ? got : 0;
    }
  }
  close(fd);
  return ok;
}

/// Removes the least recently used entries until the folder holds at most
/// 90% of the limit (hysteresis: not one eviction per write).
void trimFolder() {
  uint64_t limit = sizeLimitBytes();
  const std::string &folder = diskCacheDir();
  DIR *dir = opendir(folder.c_str());
  if (!dir)
    return;
  struct Entry {
    std::string path;
    uint64_t bytes;
    struct timespec used;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  while (dirent *item = readdir(dir)) {
    std::string name = item->d_name;
    if (isStaleTemporary(name)) { // a killed writer's leftover
      unlink((folder + "/" + name).c_str());
      continue;
    }
    if (!isEntryName(name))
      continue;
    std::string path = folder + "/" + name;
    struct stat info;
    if (stat(path.c_str(), &info) != 0)
      continue;
    entries.push_back({path, static_cast<uint64_t>(info.st_size), info.st_mtim});
    total += info.st_size;
  }
  closedir(dir);
  if (total <= limit)
    return;
  std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
    return a.used.tv_sec != b.used.tv_sec ? a.used.tv_sec < b.used.tv_sec
                                          : a.used.tv_nsec < b.used.tv_nsec;
  });
  uint64_t target = limit / 10 * 9;
  for (const Entry &entry : entries) {
    if (total <= target)
      break;
    // Another process may have removed it already; a reader that opened it
    // keeps reading the unlinked file.
    unlink(entry.path.c_str());
    total -= std::min(total, entry.bytes);
  }
}

} // namespace

const std::string &diskCacheDir() {
  static const std::string folder = [] {
    const char *value = getenv("EMBER_CACHE_DIR");
    if (value)
      return std::string(value); // "" switches the disk cache off
    if (const char *xdg = getenv("XDG_CACHE_HOME"); xdg && *xdg)
      return std::string(xdg) + "/ember";
    if (const char *home = getenv("HOME"); home && *home)
      return std::string(home) + "/.cache/ember";
    return std::string();
  }();
  return folder;
}

std::string diskCacheIdentity(const std::vector<int64_t> &key, const std::string &target,
                              const std::string &codeFingerprint) {
  std::string identity = "ember-graph-cache 1\n" + buildIdentity() + "\n" + target + "\n" +
                         codeFingerprint + "\n";
  identity.append(reinterpret_cast<const char *>(key.data()), key.size() * sizeof(int64_t));
  return identity;
}

std::optional<std::string> diskCacheRead(const std::string &identity, DiskEntryKind kind) {
  if (diskCacheDir().empty())
    return std::nullopt;
  std::string path = entryPath(identity, kind);
  std::string bytes;
  if (!readWholeFile(path, bytes))
    return std::nullopt;
  bool valid = bytes.size() >= kHeaderBytes && memcmp(bytes.data(), kMagic, 8) == 0;
  uint32_t version = 0;
  if (valid)
    memcpy(&version, bytes.data() + 8, 4);
  uint64_t identityBytes = valid ? readU64(bytes.data() + 16) : 0;
  uint64_t payloadBytes = valid ? readU64(bytes.data() + 24) : 0;
  valid = valid && version == kFormatVersion && identityBytes <= bytes.size() &&
          payloadBytes <= bytes.size() &&
          kHeaderBytes + identityBytes + payloadBytes == bytes.size() &&
          readU64(bytes.data() + 32) ==
              xxhash64(bytes.data() + kHeaderBytes, identityBytes + payloadBytes);
  if (!valid) {
    // Truncated, corrupt or from another format: never trusted; removed so
    // that the compile that follows writes a good one.
    unlink(path.c_str());
    return std::nullopt;
  }
  if (identityBytes != identity.size() ||
      memcmp(bytes.data() + kHeaderBytes, identity.data(), identity.size()) != 0)
    return std::nullopt; // a different graph with the same hash: a miss
  // Recently used: eviction goes by modification time.
  utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
  return bytes.substr(kHeaderBytes + identityBytes);
}

void diskCacheWrite(const std::string &identity, const std::string &payload,
                    DiskEntryKind kind) {
  const std::string &folder = diskCacheDir();
  if (folder.empty() || sizeLimitBytes() == 0 || !makeFolders(folder))
    return;
  std::string bytes(kMagic, 8);
  uint32_t words[2] = {kFormatVersion, 0};
  bytes.append(reinterpret_cast<char *>(words), 8);
  appendU64(bytes, identity.size());
  appendU64(bytes, payload.size());
  std::string body = identity + payload;
  appendU64(bytes, xxhash64(body.data(), body.size()));
  bytes += body;
  try {
    writeFileAtomically(entryPath(identity, kind), bytes.data(), bytes.size());
  } catch (const std::exception &) {
    return; // a full or read-only disk costs a compile next time, nothing else
  }
  // Trimming scans the folder: do it at a process's first write, then
  // after each 5% of the limit written (a compile writes one entry per new
  // kernel, and a large folder must not be scanned for each).
  static std::mutex mutex; // threads' compiles write entries
  static bool scanned = false;
  static uint64_t writtenSinceScan = 0;
  std::lock_guard<std::mutex> lock(mutex);
  writtenSinceScan += bytes.size();
  if (scanned && writtenSinceScan < sizeLimitBytes() / 20)
    return;
  scanned = true;
  writtenSinceScan = 0;
  trimFolder();
}

} // namespace ember
