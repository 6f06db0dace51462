//===- GlooBackend.cpp - the Gloo engine behind ember.distributed --------===//
//
// Communicator over Gloo (the library PyTorch's CPU backend uses): a TCP
// transport device on this rank's address, a full mesh of pairs found
// through our Store (adapted to Gloo's), and Gloo's algorithms for every
// call. Element-typed reductions are ours (Gloo's math has no bfloat16 and
// no bool); transport-only collectives move bytes. ReduceOp::Avg is a sum
// scaled by 1/size; reduce_scatter is an all-to-all and a local reduction.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CollectiveChecks.h"
#include "ember/Runtime/Collectives.h"
#include "ember/Runtime/Stores.h"

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/alltoall.h>
#include <gloo/alltoallv.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/gather.h>
#include <gloo/reduce.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/scatter.h>
#include <gloo/transport/tcp/device.h>
#include <gloo/transport/unbound_buffer.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace ember::dist {
namespace {

//===- Rendezvous ----------------------------------------------------------===//

/// Our Store seen as Gloo's (connectFullMesh exchanges addresses through it).
class GlooStoreAdapter : public gloo::rendezvous::Store {
public:
  explicit GlooStoreAdapter(std::shared_ptr<dist::Store> store) : store(std::move(store)) {}
  void set(const std::string &key, const std::vector<char> &data) override {
    store->set(key, std::vector<uint8_t>(data.begin(), data.end()));
  }
  std::vector<char> get(const std::string &key) override {
    std::vector<uint8_t> value = store->get(key);
    return std::vector<char>(value.begin(), value.end());
  }
  void wait(const std::vector<std::string> &keys) override { store->wait(keys); }
  void wait(const std::vector<std::string> &keys,
            const std::chrono::milliseconds &) override {
    store->wait(keys);
  }

private:
  std::shared_ptr<dist::Store> store;
};

//===- Reductions ----------------------------------------------------------===//

using ReduceFunc = std::function<void(void *, const void *, const void *, size_t)>;

struct Half {
  static float load(uint16_t v) { return halfToFloat(v); }
  static uint16_t store(float v) { return floatToHalf(v); }
};
struct BHalf {
  static float load(uint16_t v) { return bfloat16ToFloat(v); }
  static uint16_t store(float v) { return floatToBFloat16(v); }
};

template <typename T> T combine(ReduceOp op, T a, T b) {
  switch (op) {
  case ReduceOp::Sum:
  case ReduceOp::Avg:
    return a + b;
  case ReduceOp::Product:
    return a * b;
  case ReduceOp::Min:
    return b < a ? b : a;
  case ReduceOp::Max:
    return a < b ? b : a;
  }
  return a;
}

template <typename T> ReduceFunc plainReduce(ReduceOp op) {
  return [op](void *out, const void *a, const void *b, size_t n) {
    T *o = static_cast<T *>(out);
    const T *x = static_cast<const T *>(a), *y = static_cast<const T *>(b);
    for (size_t i = 0; i < n; ++i)
      o[i] = combine(op, x[i], y[i]);
  };
}

template <typename Codec> ReduceFunc sixteenBitReduce(ReduceOp op) {
  return [op](void *out, const void *a, const void *b, size_t n) {
    uint16_t *o = static_cast<uint16_t *>(out);
    const uint16_t *x = static_cast<const uint16_t *>(a), *y = static_cast<const uint16_t *>(b);
    for (size_t i = 0; i < n; ++i)
      o[i] = Codec::store(combine(op, Codec::load(x[i]), Codec::load(y[i])));
  };
}

ReduceFunc boolReduce(ReduceOp op) {
  // torch: SUM and MAX are logical or, PRODUCT and MIN logical and.
  bool any = op == ReduceOp::Sum || op == ReduceOp::Max;
  return [any](void *out, const void *a, const void *b, size_t n) {
    uint8_t *o = static_cast<uint8_t *>(out);
    const uint8_t *x = static_cast<const uint8_t *>(a), *y = static_cast<const uint8_t *>(b);
    for (size_t i = 0; i < n; ++i)
      o[i] = any ? (x[i] || y[i]) : (x[i] && y[i]);
  };
}

ReduceFunc reduceFunction(ElementType type, ReduceOp op) {
  switch (type) {
  case ElementType::Bool:
    if (op == ReduceOp::Avg)
      throw CollectiveError("ReduceOp.AVG is not supported for bool tensors");
    return boolReduce(op);
  case ElementType::Int32:
    return plainReduce<int32_t>(op);
  case ElementType::Int64:
    return plainReduce<int64_t>(op);
  case ElementType::Float16:
    return sixteenBitReduce<Half>(op);
  case ElementType::BFloat16:
    return sixteenBitReduce<BHalf>(op);
  case ElementType::Float32:
    return plainReduce<float>(op);
  case ElementType::Float64:
    return plainReduce<double>(op);
  }
  throw CollectiveError("unsupported element type");
}

/// ReduceOp::Avg's last step: divides the summed buffer by `count`.
void divideBy(Buffer buffer, int count) {
  size_t n = buffer.numElements;
  switch (buffer.type) {
  case ElementType::Int32:
    for (size_t i = 0; i < n; ++i)
      static_cast<int32_t *>(buffer.data)[i] /= count;
    break;
  case ElementType::Int64:
    for (size_t i = 0; i < n; ++i)
      static_cast<int64_t *>(buffer.data)[i] /= count;
    break;
  case ElementType::Float16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t &v = static_cast<uint16_t *>(buffer.data)[i];
      v = floatToHalf(halfToFloat(v) / count);
    }
    break;
  case ElementType::BFloat16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t &v = static_cast<uint16_t *>(buffer.data)[i];
      v = floatToBFloat16(bfloat16ToFloat(v) / count);
    }
    break;
  case ElementType::Float32:
    for (size_t i = 0; i < n; ++i)
      static_cast<float *>(buffer.data)[i] /= count;
    break;
  case ElementType::Float64:
    for (size_t i = 0; i < n; ++i)
      static_cast<double *>(buffer.data)[i] /= count;
    break;
  case ElementType::Bool:
    break;
  }
}

/// Calls f with a value of the unsigned type of `size` bytes (Gloo's
/// templated setters take the element size from the pointer type).
template <typename F> void withWordOfSize(size_t size, F f) {
  switch (size) {
  case 1:
    return f(uint8_t{});
  case 2:
    return f(uint16_t{});
  case 4:
    return f(uint32_t{});
  default:
    return f(uint64_t{});
  }
}

template <typename T> T *as(const Buffer &b) { return static_cast<T *>(b.data); }

//===- The communicator ----------------------------------------------------===//

/// Point-to-point slots: apart from the collectives' (Gloo builds those
/// with small prefixes in the top byte).
constexpr uint64_t kPointToPointSlot = uint64_t(0x45) << 56;

class GlooCommunicator : public Communicator {
public:
  GlooCommunicator(std::shared_ptr<dist::Store> store,
                   std::shared_ptr<gloo::transport::Device> device, int rank, int size,
                   std::vector<int> globalRanks, std::chrono::milliseconds timeout)
      : store(std::move(store)), device(std::move(device)), globalRanks(std::move(globalRanks)),
        timeout(timeout) {
    auto context = std::make_shared<gloo::rendezvous::Context>(rank, size);
    context->setTimeout(timeout);
    GlooStoreAdapter adapter(this->store);
    guard("rendezvous", [&] { context->connectFullMesh(adapter, this->device); });
    this->context = std::move(context);
  }

  const char *backendName() const override { return "gloo"; }
  int rank() const override { return context->rank; }
  int size() const override { return context->size; }

  void allReduce(Buffer buffer, ReduceOp op) override {
    if (!buffer.numElements || size() == 1)
      return finishAvg(buffer, op, 1);
    guard("all_reduce", [&] {
      gloo::AllreduceOptions opts(context);
      opts.setTimeout(timeout);
      opts.setReduceFunction(reduceFunction(buffer.type, op));
      withWordOfSize(elementSize(buffer.type), [&](auto word) {
        using T = decltype(word);
        opts.setOutput(as<T>(buffer), buffer.numElements);
      });
      gloo::allreduce(opts);
    });
    finishAvg(buffer, op, size());
  }

  void broadcast(Buffer buffer, int root) override {
    checkRank(root, "broadcast");
    if (!buffer.bytes() || size() == 1)
      return;
    guard("broadcast", [&] {
      gloo::BroadcastOptions opts(context);
      opts.setTimeout(timeout);
      opts.setRoot(root);
      opts.setOutput(as<uint8_t>(buffer), buffer.bytes());
      gloo::broadcast(opts);
    });
  }

  void reduce(Buffer buffer, ReduceOp op, int root) override {
    checkRank(root, "reduce");
    if (!buffer.numElements || size() == 1)
      return finishAvg(buffer, op, 1);
    guard("reduce", [&] {
      gloo::ReduceOptions opts(context);
      opts.setTimeout(timeout);
      opts.setRoot(root);
      opts.setReduceFunction(reduceFunction(buffer.type, op));
      withWordOfSize(elementSize(buffer.type), [&](auto word) {
        using T = decltype(word);
        opts.setOutput(as<T>(buffer), buffer.numElements);
      });
      gloo::reduce(opts);
    });
    if (rank() == root)
      finishAvg(buffer, op, size());
  }

  void allGather(Buffer input, Buffer output) override {
    checkSize(output, input.numElements * size(), "all_gather", "output");
    if (!input.bytes())
      return;
    if (size() == 1)
      return (void)std::memcpy(output.data, input.data, input.bytes());
    guard("all_gather", [&] {
      gloo::AllgatherOptions opts(context);
      opts.setTimeout(timeout);
      opts.setInput(as<uint8_t>(input), input.bytes());
      opts.setOutput(as<uint8_t>(output), output.bytes());
      gloo::allgather(opts);
    });
  }

  void reduceScatter(Buffer input, Buffer output, ReduceOp op) override {
    size_t n = output.numElements;
    checkSize(input, n * size(), "reduce_scatter", "input");
    if (!n)
      return;
    // Each rank receives every rank's copy of its own chunk, then sums them.
    std::vector<uint8_t> chunks(input.bytes());
    Buffer received{chunks.data(), input.numElements, input.type};
    allToAll(input, received, {}, {});
    ReduceFunc combine = reduceFunction(input.type, op);
    size_t chunkBytes = output.bytes();
    std::memcpy(output.data, chunks.data(), chunkBytes);
    for (int r = 1; r < size(); ++r)
      combine(output.data, output.data, chunks.data() + r * chunkBytes, n);
    finishAvg(output, op, size());
  }

  void gather(Buffer input, Buffer output, int root) override {
    checkRank(root, "gather");
    if (rank() == root)
      checkSize(output, input.numElements * size(), "gather", "output");
    if (!input.bytes())
      return;
    if (size() == 1)
      return (void)std::memcpy(output.data, input.data, input.bytes());
    guard("gather", [&] {
      gloo::GatherOptions opts(context);
      opts.setTimeout(timeout);
      opts.setRoot(root);
      opts.setInput(as<uint8_t>(input), input.bytes());
      if (rank() == root)
        opts.setOutput(as<uint8_t>(output), output.bytes());
      gloo::gather(opts);
    });
  }

  void scatter(Buffer input, Buffer output, int root) override {
    checkRank(root, "scatter");
    if (rank() == root)
      checkSize(input, output.numElements * size(), "scatter", "input");
    if (!output.bytes())
      return;
    if (size() == 1)
      return (void)std::memcpy(output.data, input.data, output.bytes());
    guard("scatter", [&] {
      gloo::ScatterOptions opts(context);
      opts.setTimeout(timeout);
      opts.setRoot(root);
      if (rank() == root) {
        std::vector<uint8_t *> chunks;
        for (int r = 0; r < size(); ++r)
          chunks.push_back(as<uint8_t>(input) + r * output.bytes());
        opts.setInputs(chunks, output.bytes());
      }
      opts.setOutput(as<uint8_t>(output), output.bytes());
      gloo::scatter(opts);
    });
  }

  void allToAll(Buffer input, Buffer output, const std::vector<size_t> &inputSplits,
                const std::vector<size_t> &outputSplits) override {
    size_t width = elementSize(input.type);
    if (inputSplits.empty() && outputSplits.empty()) {
      if (input.numElements % size() != 0)
        throw CollectiveError("all_to_all: the input's " + std::to_string(input.numElements) +
                              " elements do not split evenly over " +
                              std::to_string(size()) + " ranks");
      checkSize(output, input.numElements, "all_to_all", "output");
      if (!input.bytes())
        return;
      if (size() == 1)
        return (void)std::memcpy(output.data, input.data, input.bytes());
      guard("all_to_all", [&] {
        gloo::AlltoallOptions opts(context);
        opts.setTimeout(timeout);
        opts.setInput(as<uint8_t>(input), input.bytes());
        opts.setOutput(as<uint8_t>(output), output.bytes());
        gloo::alltoall(opts);
      });
      return;
    }
    std::vector<int64_t> inBytes = splitBytes(inputSplits, input, width, "input");
    std::vector<int64_t> outBytes = splitBytes(outputSplits, output, width, "output");
    guard("all_to_all", [&] {
      gloo::AlltoallvOptions opts(context);
      opts.setTimeout(timeout);
      opts.setInput(as<uint8_t>(input), inBytes);
      opts.setOutput(as<uint8_t>(output), outBytes);
      gloo::alltoallv(opts);
    });
  }

  void send(Buffer buffer, int peer, int tag) override {
    checkPeer(peer, "send");
    guard("send", [&] {
      auto unbound = context->createUnboundBuffer(buffer.data, buffer.bytes());
      unbound->send(peer, kPointToPointSlot | static_cast<uint32_t>(tag));
      unbound->waitSend(timeout);
    });
  }

  void recv(Buffer buffer, int peer, int tag) override {
    checkPeer(peer, "recv");
    guard("recv", [&] {
      auto unbound = context->createUnboundBuffer(buffer.data, buffer.bytes());
      unbound->recv(peer, kPointToPointSlot | static_cast<uint32_t>(tag));
      unbound->waitRecv(timeout);
    });
  }

  void barrier() override {
    if (size() == 1)
      return;
    guard("barrier", [&] {
      gloo::BarrierOptions opts(context);
      opts.setTimeout(timeout);
      gloo::barrier(opts);
    });
  }

  std::unique_ptr<Communicator> split(const std::vector<int> &ranks) override {
    // Every member of this group numbers its splits alike: the n-th split's
    // keys live under "split<n>/" and cannot collide with another's.
    std::string prefix = "split" + std::to_string(splits++);
    std::vector<int> sorted = ranks;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    int me = globalRanks[rank()];
    std::vector<int> positions;
    for (int global : sorted) {
      auto it = std::find(globalRanks.begin(), globalRanks.end(), global);
      if (it == globalRanks.end())
        throw CollectiveError("new_group: rank " + std::to_string(global) +
                              " is not in the parent group");
    }
    auto mine = std::find(sorted.begin(), sorted.end(), me);
    if (mine == sorted.end())
      return nullptr;
    return std::make_unique<GlooCommunicator>(createPrefixStore(prefix, store), device,
                                              int(mine - sorted.begin()), int(sorted.size()),
                                              sorted, timeout);
  }

private:
  void finishAvg(Buffer buffer, ReduceOp op, int count) {
    if (op == ReduceOp::Avg && buffer.type == ElementType::Bool)
      throw CollectiveError("ReduceOp.AVG is not supported for bool tensors");
    if (op == ReduceOp::Avg && count > 1)
      divideBy(buffer, count);
  }

  void checkRank(int rank, const char *what) const {
    std::string message = rankOutsideGroupMessage(rank, size(), what);
    if (!message.empty())
      throw CollectiveError(message);
  }
  void checkPeer(int peer, const char *what) const {
    checkRank(peer, what);
    if (peer == rank())
      throw CollectiveError(std::string(what) + ": a rank cannot " + what +
                            " to or from itself (rank " + std::to_string(peer) + ")");
  }
  static void checkSize(const Buffer &buffer, size_t expected, const char *what,
                        const char *which) {
    std::string message = sizeMismatchMessage(buffer, expected, what, which);
    if (!message.empty())
      throw CollectiveError(message);
  }
  std::vector<int64_t> splitBytes(const std::vector<size_t> &splits, const Buffer &buffer,
                                  size_t width, const char *which) const {
    std::vector<int64_t> bytes;
    size_t total = 0;
    if (splits.empty()) {
      if (buffer.numElements % size() != 0)
        throw CollectiveError(std::string("all_to_all: the ") + which +
                              " does not split evenly over the ranks");
      bytes.assign(size(), int64_t(buffer.numElements / size() * width));
      return bytes;
    }
    if (splits.size() != size_t(size()))
      throw CollectiveError(std::string("all_to_all: ") + which + " split sizes have " +
                            std::to_string(splits.size()) + " entries for " +
                            std::to_string(size()) + " ranks");
    for (size_t s : splits) {
      bytes.push_back(int64_t(s * width));
      total += s;
    }
    if (total != buffer.numElements)
      throw CollectiveError(std::string("all_to_all: ") + which + " split sizes add up to " +
                            std::to_string(total) + ", but the " + which + " has " +
                            std::to_string(buffer.numElements) + " elements");
    return bytes;
  }

  /// Runs a Gloo call; its errors become CollectiveErrors that say which
  /// rank saw what, and what probably happened.
  template <typename F> void guard(const char *what, F f) {
    try {
      f();
    } catch (const gloo::Exception &error) {
      std::string message = error.what();
      std::string hint;
      if (message.find("closed") != std::string::npos ||
          message.find("reset by peer") != std::string::npos ||
          message.find("Broken pipe") != std::string::npos ||
          message.find("Connection refused") != std::string::npos)
        hint = "a peer rank closed its connection: did another rank exit or crash?";
      else if (message.find("imed out") != std::string::npos ||
               message.find("imeout") != std::string::npos)
        hint = "timed out after " + std::to_string(timeout.count()) +
               " ms: a peer rank did not take part (did it hang or die?)";
      else
        hint = "the engine failed";
      std::string who = context ? "rank " + std::to_string(globalRanks[context->rank]) +
                                      " of " + std::to_string(globalRanks.size())
                                : "this rank";
      throw CollectiveError(std::string("gloo ") + what + " on " + who + ": " + hint +
                            " [" + message + "]");
    }
  }

  std::shared_ptr<dist::Store> store;
  std::shared_ptr<gloo::transport::Device> device;
  std::shared_ptr<gloo::rendezvous::Context> context;
  std::vector<int> globalRanks;
  std::chrono::milliseconds timeout;
  int splits = 0;
};

std::shared_ptr<gloo::transport::Device> createDevice(const std::string &address) {
  gloo::transport::tcp::attr attr;
  if (!address.empty())
    attr.hostname = address;
  else if (const char *iface = std::getenv("GLOO_SOCKET_IFNAME"); iface && *iface)
    attr.iface = iface;
  else
    attr.hostname = "127.0.0.1";
  try {
    return gloo::transport::tcp::CreateDevice(attr);
  } catch (const gloo::Exception &error) {
    throw CollectiveError("gloo: cannot open a TCP device on " +
                          (attr.iface.empty() ? attr.hostname : "interface " + attr.iface) +
                          ": " + error.what());
  }
}

std::unique_ptr<Communicator> createGloo(const CommunicatorOptions &options) {
  if (!options.store)
    throw CollectiveError("gloo needs a rendezvous store (init_method or store)");
  if (options.rank < 0 || options.worldSize <= 0 || options.rank >= options.worldSize)
    throw CollectiveError("gloo: invalid rank " + std::to_string(options.rank) +
                          " for world size " + std::to_string(options.worldSize));
  std::vector<int> ranks(options.worldSize);
  for (int r = 0; r < options.worldSize; ++r)
    ranks[r] = r;
  return std::make_unique<GlooCommunicator>(options.store, createDevice(options.address),
                                            options.rank, options.worldSize, std::move(ranks),
                                            options.timeout);
}

const bool registered = (registerBackend("gloo", createGloo), true);

} // namespace
} // namespace ember::dist
