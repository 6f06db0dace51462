//===- Collectives.h - one interface over MPI, Gloo and NCCL ----*- C++ -*-===//
//
// ember.distributed's engines behind one small interface. The runtime owns
// the engine handles so that compiled programs (collective ops in the graph)
// and the Python API call the same communicator. Engines are existing,
// proven libraries: Gloo (TCP), MPI (OpenMPI), NCCL/RCCL (dlopen); Ember
// adds only the rendezvous store that Gloo and NCCL need to find each other.
//
// Errors (a peer that died, a timeout, mismatched sizes) throw
// CollectiveError with a message that names the ranks involved.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_COLLECTIVES_H
#define EMBER_RUNTIME_COLLECTIVES_H

#include "ember/Runtime/ElementType.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ember::dist {

/// torch.distributed.ReduceOp's members that every engine supports.
enum class ReduceOp : uint8_t { Sum, Avg, Min, Max, Product };

/// Where a buffer lives: host memory, or a GPU's memory (NCCL/RCCL only).
enum class MemoryKind : uint8_t { Host, Cuda, Rocm };

/// A contiguous buffer the caller owns for the duration of the call.
struct Buffer {
  void *data = nullptr;
  size_t numElements = 0;
  ElementType type = ElementType::Float32;
  MemoryKind memory = MemoryKind::Host;
  size_t bytes() const { return numElements * elementSize(type); }
};

class CollectiveError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A key-value store the ranks rendezvous through (torch's c10d Store):
/// TCP (rank 0 serves; env:// and tcp://) or a shared file (file://).
class Store {
public:
  virtual ~Store() = default;
  virtual void set(const std::string &key, const std::vector<uint8_t> &value) = 0;
  /// Blocks until the key exists or the store's timeout passes (then throws).
  virtual std::vector<uint8_t> get(const std::string &key) = 0;
  /// Atomically adds `delta` to an integer counter and returns the new value.
  virtual int64_t add(const std::string &key, int64_t delta) = 0;
  virtual void wait(const std::vector<std::string> &keys) = 0;
};

/// The result of an asynchronous collective (torch's Work): `wait()` blocks
/// until it finished and rethrows its error, if any.
class Work {
public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  virtual bool isCompleted() = 0;
};

/// One process group's engine. Every call is collective over the group's
/// ranks (send/recv excepted) and blocks until the local part is done.
/// Buffers of rank-indexed collectives are rank-major: out[r * n + i].
class Communicator {
public:
  virtual ~Communicator() = default;
  virtual const char *backendName() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  virtual void allReduce(Buffer buffer, ReduceOp op) = 0;           // in place
  virtual void broadcast(Buffer buffer, int root) = 0;              // in place
  virtual void reduce(Buffer buffer, ReduceOp op, int root) = 0;    // in place
  virtual void allGather(Buffer input, Buffer output) = 0;          // out: size*n
  virtual void reduceScatter(Buffer input, Buffer output, ReduceOp op) = 0;
  virtual void gather(Buffer input, Buffer output, int root) = 0;   // out: root
  virtual void scatter(Buffer input, Buffer output, int root) = 0;  // in: root
  /// Split sizes are element counts per peer; empty means equal splits.
  virtual void allToAll(Buffer input, Buffer output,
                        const std::vector<size_t> &inputSplits,
                        const std::vector<size_t> &outputSplits) = 0;
  virtual void send(Buffer buffer, int peer, int tag) = 0;
  virtual void recv(Buffer buffer, int peer, int tag) = 0;
  virtual void barrier() = 0;

  /// torch.distributed.new_group: a communicator over `ranks` (global rank
  /// numbers, sorted). Collective over this whole group; ranks not in the
  /// list get nullptr.
  virtual std::unique_ptr<Communicator> split(const std::vector<int> &ranks) = 0;
};

/// What init_process_group passes to an engine.
struct CommunicatorOptions {
  std::string backend;             // "gloo", "mpi", "nccl"
  int rank = -1;                   // -1: the engine knows (MPI)
  int worldSize = -1;
  std::shared_ptr<Store> store;    // null for MPI
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  /// The host address this rank's engine listens on (Gloo); empty:
  /// the engine's default (loopback, or the GLOO_SOCKET_IFNAME interface).
  std::string address;
};

using CommunicatorFactory =
    std::function<std::unique_ptr<Communicator>(const CommunicatorOptions &)>;

/// Engines register themselves by name (one table); a name nobody registered,
/// or an engine whose library is missing, is a CollectiveError that says so.
void registerBackend(const std::string &name, CommunicatorFactory factory);
std::unique_ptr<Communicator> createCommunicator(const CommunicatorOptions &options);
std::vector<std::string> availableBackends();

/// Runs `collective` on the communicator's own worker thread, in issue order,
/// and returns its handle (async_op=True). Blocking calls from Python go
/// through the same queue, so that every rank issues the same order.
std::shared_ptr<Work> runAsync(Communicator &communicator,
                               std::function<void()> collective);

/// A blocking call in the same order: runs `collective` on the calling
/// thread when the queue is idle (else after what is queued) and rethrows
/// its error.
void runInOrder(Communicator &communicator, const std::function<void()> &collective);

/// Runs `operation` on a thread of its own (isend/irecv: point-to-point
/// operations must not wait behind, or block, the ordered queue).
std::shared_ptr<Work> runDetached(std::function<void()> operation);

/// Waits for the communicator's queued work and ends its worker thread;
/// call it before destroying the communicator (destroy_process_group).
void finishAsync(Communicator &communicator);

} // namespace ember::dist

#endif // EMBER_RUNTIME_COLLECTIVES_H
