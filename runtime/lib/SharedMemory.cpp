//===- SharedMemory.cpp - memory that other processes can map -------------===//
//
// memfd_create gives a file with no name at all, so no crash can leave one
// behind; the shm_open fallback unlinks its random name before returning.
// Both are sized with ftruncate (the pages are allocated on first touch and
// read as zeros) and mapped MAP_SHARED, so a write through any mapping is
// seen through every other one.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/SharedMemory.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ember {
namespace {

std::atomic<size_t> liveRegions{0};

[[noreturn]] void fail(const std::string &what, int error) {
  throw SharedMemoryError(what + ": " + std::strerror(error));
}

/// An anonymous shared memory file, close-on-exec.
int openAnonymousFile() {
#ifdef MFD_CLOEXEC
  int fd = memfd_create("ember-shared-tensor", MFD_CLOEXEC);
  if (fd >= 0 || errno != ENOSYS)
    return fd;
#endif
  // Kernels without memfd (before 3.17): a POSIX shm object whose name is
  // unlinked at once; only the descriptor refers to it afterwards.
  std::random_device random;
  for (int attempt = 0; attempt < 16; ++attempt) {
    char name[64];
    std::snprintf(name, sizeof(name), "/ember-%d-%08x", int(getpid()),
                  unsigned(random()));
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      shm_unlink(name);
      return fd;
    }
    if (errno != EEXIST)
      return -1;
  }
  errno = EEXIST;
  return -1;
}

/// At least one byte is mapped: mmap refuses a zero-length mapping.
size_t mappedBytes(size_t bytes) { return bytes == 0 ? 1 : bytes; }

} // namespace

std::shared_ptr<SharedMemoryRegion> SharedMemoryRegion::create(size_t bytes) {
  int fd = openAnonymousFile();
  if (fd < 0)
    fail("cannot create shared memory", errno);
  if (ftruncate(fd, off_t(mappedBytes(bytes))) != 0) {
    int error = errno;
    close(fd);
    fail("cannot size shared memory to " + std::to_string(bytes) + " bytes",
         error);
  }
  return adopt(fd, bytes);
}

std::shared_ptr<SharedMemoryRegion> SharedMemoryRegion::adopt(int fd,
                                                              size_t bytes) {
  struct stat info;
  if (fstat(fd, &info) != 0) {
    int error = errno;
    close(fd);
    fail("cannot map shared memory (fd " + std::to_string(fd) + ")", error);
  }
  if (size_t(info.st_size) < mappedBytes(bytes)) {
    close(fd);
    throw SharedMemoryError("cannot map " + std::to_string(bytes) +
                            " bytes of shared memory: the file has " +
                            std::to_string(info.st_size));
  }
  void *address = mmap(nullptr, mappedBytes(bytes), PROT_READ | PROT_WRITE,
                       MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) {
    int error = errno;
    close(fd);
    fail("cannot map " + std::to_string(bytes) + " bytes of shared memory",
         error);
  }
  ++liveRegions;
  return std::shared_ptr<SharedMemoryRegion>(
      new SharedMemoryRegion(fd, address, bytes));
}

SharedMemoryRegion::~SharedMemoryRegion() {
  munmap(address, mappedBytes(size));
  close(descriptor);
  --liveRegions;
}

size_t liveSharedMemoryRegions() { return liveRegions.load(); }

} // namespace ember
