//===- FileStore.cpp - the rendezvous store in a shared directory --------===//
//
// init_method="file://PATH": Gloo's FileStore (one file per key, written to
// a temporary name and renamed into place, polled by readers) with what it
// lacks for torch's Store: overwriting a key, empty values, the atomic
// counter of add() (under an flock on the directory's lock file) and our
// timeout and errors.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Stores.h"

#include <gloo/common/error.h>
#include <gloo/rendezvous/file_store.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ember::dist {
namespace {

/// Gloo's store with its file naming opened up to the overwriting writes.
class GlooFileStore : public gloo::rendezvous::FileStore {
public:
  using FileStore::FileStore;
  using FileStore::objectPath;
  using FileStore::tmpPath;
  const std::string &directory() const { return basePath_; }
};

std::string makeDirectory(const std::string &path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    throw CollectiveError("file store: cannot create the directory '" + path +
                          "': " + strerror(errno));
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
    throw CollectiveError("file store: '" + path +
                          "' is not a directory (file:// names a directory every "
                          "rank can see; use a fresh one per job)");
  return path;
}

class FileStore : public Store {
public:
  FileStore(const std::string &path, std::chrono::milliseconds timeout)
      : files(makeDirectory(path)), timeout(timeout) {}

  void set(const std::string &key, const std::vector<uint8_t> &value) override {
    write(key, value);
  }

  std::vector<uint8_t> get(const std::string &key) override {
    wait({key});
    std::ifstream in(files.objectPath(key), std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    if (bytes.empty())
      throw CollectiveError("file store: the file of key '" + key + "' is unreadable");
    // The first byte keeps a file non-empty (Gloo reads an empty one as
    // missing); the value follows.
    return std::vector<uint8_t>(bytes.begin() + 1, bytes.end());
  }

  int64_t add(const std::string &key, int64_t delta) override {
    std::lock_guard<std::mutex> threads(mutex);
    std::string lockPath = files.directory() + "/.ember_add.lock";
    int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
      std::string error = strerror(errno);
      if (fd >= 0)
        ::close(fd);
      throw CollectiveError("file store: cannot lock '" + lockPath + "': " + error);
    }
    int64_t total = delta;
    try {
      std::ifstream in(files.objectPath(key), std::ios::binary);
      std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      int64_t current = 0;
      if (bytes.size() == 9)
        std::memcpy(&current, bytes.data() + 1, 8);
      total = current + delta;
      std::vector<uint8_t> value(8);
      std::memcpy(value.data(), &total, 8);
      write(key, value);
    } catch (...) {
      ::flock(fd, LOCK_UN);
      ::close(fd);
      throw;
    }
    ::flock(fd, LOCK_UN);
    ::close(fd);
    return total;
  }

  void wait(const std::vector<std::string> &keys) override {
    try {
      files.wait(keys, timeout);
    } catch (const gloo::Exception &) {
      std::string names;
      for (const std::string &k : keys)
        names += (names.empty() ? "'" : ", '") + k + "'";
      throw CollectiveError("file store: timed out after " + std::to_string(timeout.count()) +
                            " ms waiting for key " + names + " in " + files.directory() +
                            " (a rank did not arrive, or died)");
    }
  }

private:
  /// Writes a temporary file and renames it over the key's file, so that
  /// readers see the old or the new value, never a partial one.
  void write(const std::string &key, const std::vector<uint8_t> &value) {
    std::string tmp = files.tmpPath(key) + "." + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      char marker = 1;
      out.write(&marker, 1);
      out.write(reinterpret_cast<const char *>(value.data()), value.size());
      if (!out)
        throw CollectiveError("file store: cannot write '" + tmp + "'");
    }
    if (std::rename(tmp.c_str(), files.objectPath(key).c_str()) != 0)
      throw CollectiveError("file store: cannot rename '" + tmp + "': " + strerror(errno));
  }

  GlooFileStore files;
  std::chrono::milliseconds timeout;
  std::mutex mutex;
};

} // namespace

std::shared_ptr<Store> createFileStore(const std::string &path,
                                       std::chrono::milliseconds timeout) {
  return std::make_shared<FileStore>(path, timeout);
}

} // namespace ember::dist
