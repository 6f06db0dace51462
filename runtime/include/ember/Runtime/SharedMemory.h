//===- SharedMemory.h - memory that other processes can map -----*- C++ -*-===//
//
// The memory of a shared tensor (`Tensor.share_memory_()`): an anonymous
// file (memfd_create; shm_open with the name unlinked at once where memfd is
// missing) mapped MAP_SHARED. Another process gets at the same physical
// pages through a duplicate of its file descriptor (sent over a Unix socket
// by ember.multiprocessing) and maps it in turn. The pages go back to the
// system when the last process has unmapped them and closed its descriptor:
// nothing is left in /dev/shm, whatever way the processes end.
// Plain POSIX; no LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_SHAREDMEMORY_H
#define EMBER_RUNTIME_SHAREDMEMORY_H

#include <cstddef>
#include <memory>
#include <stdexcept>

namespace ember {

/// A failed memfd_create/ftruncate/mmap, with the system's reason.
class SharedMemoryError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// One mapping of a shared memory file, and the descriptor it came from
/// (kept open so that the region can be sent to other processes).
/// Unmapped and closed when destroyed.
class SharedMemoryRegion {
public:
  /// A new zero-filled region of `bytes` bytes (at least one page is
  /// mapped for 0). Throws SharedMemoryError.
  static std::shared_ptr<SharedMemoryRegion> create(size_t bytes);
  /// Maps `bytes` bytes of the shared memory file `fd`, taking ownership of
  /// `fd` (closed with the region, or at once when mapping fails). Throws
  /// SharedMemoryError when `fd` is shorter than `bytes` or cannot be
  /// mapped.
  static std::shared_ptr<SharedMemoryRegion> adopt(int fd, size_t bytes);

  ~SharedMemoryRegion();
  SharedMemoryRegion(const SharedMemoryRegion &) = delete;
  SharedMemoryRegion &operator=(const SharedMemoryRegion &) = delete;

  void *data() const { return address; }
  size_t bytes() const { return size; }
  int fd() const { return descriptor; }

private:
  SharedMemoryRegion(int fd, void *address, size_t bytes)
      : descriptor(fd), address(address), size(bytes) {}

  int descriptor;
  void *address;
  size_t size;
};

/// Regions alive in this process (created or adopted), for tests and leak
/// checks.
size_t liveSharedMemoryRegions();

} // namespace ember

#endif // EMBER_RUNTIME_SHAREDMEMORY_H
