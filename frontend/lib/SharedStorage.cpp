//===- SharedStorage.cpp - tensors in shared memory ----------------------===//
//
// The buffer of a shared storage borrows the region's memory (Buffer's
// external form) and keeps the region alive; a registry maps live shared
// buffers to their regions so that a storage's descriptor can be found, and
// the shared files (device, inode) to their live storages, so that a
// storage received twice (two views sent apart, a tensor sent back to its
// creator) is one storage again, as in torch.
//
//===----------------------------------------------------------------------===//

#include "ember/Frontend/SharedStorage.h"

#include "ember/Runtime/SharedMemory.h"

#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include <sys/stat.h>
#include <unistd.h>

namespace ember {
namespace {

struct Registry {
  std::mutex mutex;
  std::unordered_map<const Buffer *, std::shared_ptr<SharedMemoryRegion>> regions;
  std::map<std::pair<dev_t, ino_t>, std::weak_ptr<Storage>> storages;
};

/// The identity of a shared memory file; nullopt when fstat fails.
std::optional<std::pair<dev_t, ino_t>> fileIdentity(int fd) {
  struct stat info;
  if (fstat(fd, &info) != 0)
    return std::nullopt;
  return std::make_pair(info.st_dev, info.st_ino);
}

Registry &registry() {
  // Never destroyed: buffers may die during static destruction.
  static Registry *instance = new Registry;
  return *instance;
}

std::shared_ptr<SharedMemoryRegion> regionOf(const Buffer *buffer) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.regions.find(buffer);
  return it == r.regions.end() ? nullptr : it->second;
}

/// A buffer over `region`'s memory, registered until it dies.
std::shared_ptr<Buffer> sharedBuffer(std::shared_ptr<SharedMemoryRegion> region,
                                     size_t bytes) {
  auto buffer = std::make_shared<Buffer>(
      region->data(), bytes,
      // Other processes read these pages directly: always visible.
      [] { return true; }, nullptr);
  const Buffer *key = buffer.get();
  buffer->release = [key] {
    Registry &r = registry();
    std::shared_ptr<SharedMemoryRegion> dying;
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.regions.find(key);
    if (it != r.regions.end()) {
      dying = std::move(it->second);
      r.regions.erase(it);
    }
  };
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.regions[key] = std::move(region);
  return buffer;
}

std::shared_ptr<SharedMemoryRegion> newRegion(size_t bytes) {
  try {
    return SharedMemoryRegion::create(bytes);
  } catch (const SharedMemoryError &error) {
    runtimeError(error.what());
  }
}

/// Remembers `storage` as the live storage of the file `fd`.
void rememberStorage(int fd, const StorageRef &storage) {
  std::optional<std::pair<dev_t, ino_t>> id = fileIdentity(fd);
  if (!id)
    return;
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  // Drop the entries of storages that died since the map last doubled.
  static size_t sweepAt = 64;
  if (r.storages.size() >= sweepAt) {
    for (auto it = r.storages.begin(); it != r.storages.end();)
      it = it->second.expired() ? r.storages.erase(it) : std::next(it);
    sweepAt = std::max<size_t>(64, 2 * r.storages.size());
  }
  r.storages[*id] = storage;
}

/// The live storage of the file `fd`, if this process has one.
StorageRef knownStorage(int fd) {
  std::optional<std::pair<dev_t, ino_t>> id = fileIdentity(fd);
  if (!id)
    return nullptr;
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.storages.find(*id);
  return it == r.storages.end() ? nullptr : it->second.lock();
}

} // namespace

bool isShared(const Tensor &x) {
  const Storage &storage = x.storage();
  return storage.buffer && regionOf(storage.buffer.get()) != nullptr;
}

void shareMemory(const Tensor &x) {
  Storage &storage = x.storage();
  if (storage.device != Backend::Cpu)
    return;
  materialize(storage);
  if (regionOf(storage.buffer.get()))
    return;
  size_t bytes = storage.numel() * elementSize(storage.dtype);
  std::shared_ptr<SharedMemoryRegion> region = newRegion(bytes);
  if (bytes)
    std::memcpy(region->data(), storage.buffer->data, bytes);
  int fd = region->fd();
  storage.buffer = sharedBuffer(std::move(region), bytes);
  rememberStorage(fd, x.impl->storage);
  // Reads in later graphs take the new buffer; nodes that read the old one
  // keep it alive with the same contents.
  storage.inputNode.reset();
}

SharedStorageHandle sharedStorageHandle(const Tensor &x) {
  shareMemory(x);
  Storage &storage = x.storage();
  std::shared_ptr<SharedMemoryRegion> region = regionOf(storage.buffer.get());
  if (!region)
    runtimeError(std::string("a ") + backendDeviceType(storage.device) +
                 " tensor cannot be shared between processes: copy it to "
                 "the CPU first (Tensor.cpu())");
  return {region->fd(), storage.buffer->bytes, storage.dtype, storage.shape};
}

Tensor tensorFromSharedMemory(int fd, DType dtype, llvm::ArrayRef<int64_t> shape) {
  size_t bytes = shapeNumel(shape) * elementSize(dtype);
  StorageRef storage = knownStorage(fd);
  if (storage && storage->dtype == dtype &&
      llvm::ArrayRef<int64_t>(storage->shape) == shape) {
    close(fd);
  } else {
    std::shared_ptr<SharedMemoryRegion> region;
    try {
      region = SharedMemoryRegion::adopt(fd, bytes);
    } catch (const SharedMemoryError &error) {
      runtimeError(error.what());
    }
    storage = std::make_shared<Storage>();
    storage->dtype = dtype;
    storage->shape = Shape(shape.begin(), shape.end());
    storage->buffer = sharedBuffer(std::move(region), bytes);
    rememberStorage(fd, storage);
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->dtype = dtype;
  impl->shape = Shape(shape.begin(), shape.end());
  impl->strides = contiguousStrides(shape);
  return Tensor(std::move(impl));
}

} // namespace ember
