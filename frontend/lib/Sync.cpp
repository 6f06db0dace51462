//===- Sync.cpp - materializing pending values through the graph cache -----===//
//
// On sync, every live storage with a pending value becomes an output of one
// graph. The graph's cache key is its structure: ops, attributes, dtypes,
// ranks, and for every dim whether it is 1 — never the sizes themselves,
// which reach the compiled code at run time. Which dims equal each other is
// left out on purpose: the emitted code is the same for every equality
// pattern (dims are static 1 or dynamic), and keying on it would recompile
// whenever a batch size happens to equal another dim.
//
//===----------------------------------------------------------------------===//

#include "DiskCache.h"
#include "GraphCompiler.h"

#include "ember/Frontend/Export.h"

#include "ember/Frontend/Error.h"
#include "ember/Runtime/Debug.h"
#include "ember/Runtime/Profiler.h"
#include "ember/Runtime/Gpu/Device.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/Hashing.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace ember {
namespace {

/// A graph grows at most this many nodes before it is computed: compile
/// time grows with the graph, and long chains of nodes are freed recursively.
constexpr uint64_t kMaxPendingNodes = 2000;

struct KeyHash {
  size_t operator()(const std::vector<int64_t> &key) const {
    return llvm::hash_combine_range(key.begin(), key.end());
  }
};

/// Compiled graphs by key, the least recently used dropped beyond a count:
/// a program that makes new graph structures forever must not keep every
/// compiled one (each holds its machine code and JIT state).
class MemoryCache {
public:
  std::shared_ptr<CompiledGraph> find(const std::vector<int64_t> &key) {
    auto it = index.find(key);
    if (it == index.end())
      return nullptr;
    order.splice(order.begin(), order, it->second);
    return it->second->second;
  }
  void insert(std::vector<int64_t> key, std::shared_ptr<CompiledGraph> graph) {
    order.emplace_front(std::move(key), std::move(graph));
    index[order.front().first] = order.begin();
    while (order.size() > capacity()) {
      index.erase(order.back().first);
      order.pop_back();
    }
  }
  void clear() {
    index.clear();
    order.clear();
  }
  static size_t capacity() {
    static size_t entries = [] {
      const char *value = getenv("EMBER_MEMORY_CACHE_GRAPHS");
      long parsed = value && *value ? atol(value) : 256;
      return static_cast<size_t>(parsed > 0 ? parsed : 1);
    }();
    return entries;
  }

private:
  using Entry = std::pair<std::vector<int64_t>, std::shared_ptr<CompiledGraph>>;
  std::list<Entry> order;
  std::unordered_map<std::vector<int64_t>, std::list<Entry>::iterator, KeyHash> index;
};

/// What one thread is tracing. Per thread, as torch's eager ops are: a sync
/// computes the values this thread made, so threads that each train their
/// own model run the same graphs (and get the same results) as they would
/// one after another, and an automatic sync counts this thread's nodes.
struct Tracer {
  std::vector<std::weak_ptr<Storage>> pending;
  uint64_t nodesSinceSync = 0;
  bool syncing = false;
};

Tracer &tracer() {
  static thread_local Tracer t;
  return t;
}

/// The compile caches and counters every thread shares, under `mutex`.
/// Compiles serialize on `compileMutex` instead (the compiler's MLIR context
/// is shared), so a long compile does not block other threads' cache hits.
struct State {
  std::mutex mutex;
  CompileStats stats;
  /// Counted outside `mutex`: a per-op sync's cache hit and run take no lock
  /// (CompileStats::cacheHits and graphsRun are these).
  std::atomic<uint64_t> cacheHits{0};
  std::atomic<uint64_t> graphsRun{0};
  /// Bumped by clearCompileCache: a thread's remembered last lookup
  /// (LastLookup) from an older generation is not used again.
  std::atomic<uint64_t> generation{0};
  MemoryCache cache;
  /// Structures (the key without size classes) compiled before: tells a
  /// new program from a new size pattern in the compile log. Bounded like
  /// the cache (cleared when it grows past a multiple of it).
  std::unordered_map<std::vector<int64_t>, int, KeyHash> structures;
  /// Hashes of the keys compiled before (a recompile after an eviction).
  std::unordered_set<uint64_t> compiledKeys;
  std::mutex compileMutex;
};

State &state() {
  static State *s = new State;
  return *s;
}

/// Graph walks mark nodes with a fresh epoch. Process-wide, not per thread:
/// threads may share nodes (a weight read by two models), and a per-thread
/// counter would let one thread's old mark pass for another's current one.
std::atomic<uint64_t> walkEpoch{0};

/// CompileStats::nodesTraced: counted on every op, so not under a lock.
std::atomic<uint64_t> nodesTraced{0};

/// The vectors one sync of a graph fills, kept per thread so that they keep
/// their capacity: a loop that syncs after every op (`y = x + 1; y.item()`)
/// allocates nothing for its plan, key and arguments.
struct SyncScratch {
  GraphPlan plan;
  std::vector<Node *> roots;
  std::vector<int64_t> key, structure, sizes;
  std::vector<GraphBuffer> args;
  bool busy = false;

  void clear() {
    plan.nodes.clear();
    plan.inputs.clear();
    plan.outputs.clear();
    roots.clear();
    key.clear();
    structure.clear();
    sizes.clear();
    args.clear();
  }
};

/// This thread's scratch while no other sync of the thread uses it (one
/// never does today: a sync does not nest), else a fresh one.
class ScratchLease {
public:
  ScratchLease() {
    static thread_local SyncScratch perThread;
    if (!perThread.busy) {
      scratch = &perThread;
      scratch->busy = true;
    } else {
      owned = std::make_unique<SyncScratch>();
      scratch = owned.get();
    }
    scratch->clear();
  }
  ~ScratchLease() {
    if (!owned) {
      // Drop what the vectors point to (nodes may die after the sync),
      // keep their capacity.
      scratch->clear();
      scratch->busy = false;
    }
  }
  ScratchLease(const ScratchLease &) = delete;
  ScratchLease &operator=(const ScratchLease &) = delete;
  SyncScratch *operator->() const { return scratch; }

private:
  SyncScratch *scratch;
  std::unique_ptr<SyncScratch> owned;
};

/// The last graph this thread found or compiled, by key: a loop that runs
/// one graph over and over (a per-op sync, a training step) finds it here
/// without hashing its key or taking the cache's lock.
struct LastLookup {
  std::vector<int64_t> key;
  std::shared_ptr<CompiledGraph> graph;
  uint64_t generation = 0;
};

LastLookup &lastLookup() {
  static thread_local LastLookup last;
  return last;
}

bool logCompiles() { return debugEnabled(DebugTopic::Compiles); }

/// " at file:line" of the user's line that made the graph's last output.
std::string userLine(const GraphPlan &plan) {
  const Node *last = plan.outputs.back();
  return last->loc.file ? " at " + *last->loc.file + ":" + std::to_string(last->loc.line)
                        : "";
}

} // namespace

void collectGraph(const std::vector<Node *> &outputs, GraphPlan &plan) {
  uint64_t epoch = ++walkEpoch;
  llvm::SmallVector<std::pair<Node *, size_t>, 32> stack;
  for (Node *root : outputs) {
    if (root->visitEpoch == epoch)
      continue;
    root->visitEpoch = epoch;
    stack.push_back({root, 0});
    while (!stack.empty()) {
      auto &[node, next] = stack.back();
      if (next < node->inputs.size()) {
        Node *input = node->inputs[next++].get();
        if (input->visitEpoch != epoch) {
          input->visitEpoch = epoch;
          stack.push_back({input, 0});
        }
        continue;
      }
      node->index = plan.nodes.size();
      plan.nodes.push_back(node);
      if (node->op == OpCode::Input)
        plan.inputs.push_back(node);
      stack.pop_back();
    }
  }
}

namespace {

/// One node's part of the key (its size-1 dims go to `key`, the rest to
/// `structure`) and of the size vector; `indexOf` numbers its inputs.
template <typename IndexOf>
void describeNode(const Node *node, IndexOf indexOf, std::vector<int64_t> &key,
                  std::vector<int64_t> &structure, std::vector<int64_t> &sizes);

/// A CustomVjp node's traced backward: its nodes number the custom node's
/// inputs first, then the placeholders, then their own.
void describeBackward(const Node *custom, std::vector<int64_t> &key,
                      std::vector<int64_t> &structure, std::vector<int64_t> &sizes) {
  const CustomBackward &backward = *custom->custom;
  llvm::DenseMap<const Node *, int64_t> local;
  for (const NodeRef &input : custom->inputs)
    local.try_emplace(input.get(), local.size());
  for (const NodeRef &cotangent : backward.cotangents)
    local.try_emplace(cotangent.get(), local.size());
  structure.push_back(backward.nodes.size());
  auto indexOf = [&](const Node *node) { return local.lookup(node); };
  for (const NodeRef &node : backward.nodes) {
    local.try_emplace(node.get(), local.size());
    describeNode(node.get(), indexOf, key, structure, sizes);
  }
  for (const NodeRef &gradient : backward.gradients)
    structure.push_back(indexOf(gradient.get()));
}

template <typename IndexOf>
void describeNode(const Node *node, IndexOf indexOf, std::vector<int64_t> &key,
                  std::vector<int64_t> &structure, std::vector<int64_t> &sizes) {
  structure.push_back(static_cast<int64_t>(node->op) |
                      static_cast<int64_t>(node->dtype) << 8 |
                      static_cast<int64_t>(node->flag) << 16 |
                      static_cast<int64_t>(node->shape.size()) << 24 |
                      static_cast<int64_t>(node->inputs.size()) << 32 |
                      static_cast<int64_t>(node->ints.size()) << 40);
  for (const NodeRef &input : node->inputs)
    structure.push_back(indexOf(input.get()));
  if (isSliceOp(*node)) {
    // Per dim: whole (static) or the step of a run-time window.
    for (size_t d = 0; d < node->inputs[0]->shape.size(); ++d) {
      SliceDim dim = sliceDim(*node, d);
      structure.push_back(dim.whole ? 0 : dim.step);
    }
  } else {
    structure.insert(structure.end(), node->ints.begin(), node->ints.end());
  }
  if (node->op == OpCode::Reshape) {
    llvm::SmallVector<int64_t, 8> groups = reshapeGroups(*node);
    structure.push_back(groups.size());
    structure.insert(structure.end(), groups.begin(), groups.end());
  }
  // Run-time values (scalars, sizes, slice windows) are arguments, not
  // part of the program.
  appendRuntimeSlots(*node, sizes);
  if (node->op == OpCode::Constant && !isRuntimeScalar(*node)) {
    int64_t bits;
    static_assert(sizeof(bits) == sizeof(node->f));
    memcpy(&bits, &node->f, sizeof(bits));
    structure.push_back(isFloating(node->dtype) ? bits : node->i);
  }
  // One bit per dim: is it 1 (it broadcasts) or not.
  uint64_t ones = 0;
  for (size_t d = 0; d < node->shape.size(); ++d)
    if (node->shape[d] == 1)
      ones |= uint64_t(1) << (d % 64);
  key.push_back(static_cast<int64_t>(ones));
  // After the node's own slots, its backward's (the emitter's order too).
  if (node->custom)
    describeBackward(node, key, structure, sizes);
}

/// The cache key and the run-time size vector of `plan`.
void describe(const GraphPlan &plan, std::vector<int64_t> &key,
              std::vector<int64_t> &structure, std::vector<int64_t> &sizes,
              GraphDescriptionMap *map = nullptr) {
  auto indexOf = [](const Node *node) { return static_cast<int64_t>(node->index); };
  for (Node *node : plan.nodes) {
    size_t structureBegin = structure.size(), keyBegin = key.size();
    describeNode(node, indexOf, key, structure, sizes);
    if (map) {
      map->nodeHashes.push_back(llvm::hash_combine(
          llvm::hash_combine_range(key.begin() + keyBegin, key.end()),
          llvm::hash_combine_range(structure.begin() + structureBegin,
                                   structure.end())));
      map->slotOwners.resize(sizes.size(), node);
    }
  }
  for (Node *output : plan.outputs)
    structure.push_back(output->index);
  key.insert(key.end(), structure.begin(), structure.end());
}

} // namespace

void describeGraph(const GraphPlan &plan, std::vector<int64_t> &key,
                   std::vector<int64_t> &sizes, GraphDescriptionMap *map) {
  std::vector<int64_t> structure;
  describe(plan, key, structure, sizes, map);
}

namespace {

/// A graph's disk entry: the kernel symbols, then the glue's object.
std::string encodeGraphObjects(const GraphObjects &parts) {
  std::string out;
  auto word = [&](uint64_t v) { out.append(reinterpret_cast<char *>(&v), 8); };
  word(parts.kernels.size());
  for (const std::string &symbol : parts.kernels) {
    word(symbol.size());
    out += symbol;
  }
  out += parts.entry;
  return out;
}

bool decodeGraphObjects(const std::string &in, GraphObjects &parts) {
  size_t at = 0;
  auto word = [&](uint64_t &v) {
    if (in.size() - at < 8)
      return false;
    memcpy(&v, in.data() + at, 8);
    at += 8;
    return true;
  };
  uint64_t count, size;
  if (!word(count) || count > in.size())
    return false;
  for (uint64_t i = 0; i < count; ++i) {
    if (!word(size) || size > in.size() - at)
      return false;
    parts.kernels.push_back(in.substr(at, size));
    at += size;
  }
  parts.entry = in.substr(at);
  return !parts.entry.empty();
}

/// Kernel objects on disk, each under its own symbol.
const KernelDisk &kernelDisk() {
  static const KernelDisk disk = [] {
    auto identity = [](const std::string &symbol) {
      return diskCacheIdentity({}, "cpu kernel " + symbol, cpuCodeFingerprint());
    };
    KernelDisk hooks;
    hooks.find = [identity](const std::string &symbol) {
      return diskCacheRead(identity(symbol), DiskEntryKind::Kernel);
    };
    hooks.store = [identity](const std::string &symbol, const std::string &object) {
      diskCacheWrite(identity(symbol), object, DiskEntryKind::Kernel);
    };
    return hooks;
  }();
  return disk;
}

/// Compiled models (ember.load_model, ExportedProgram) share the eager
/// kernel cache, in memory and on disk (EMBER_CACHE_DIR, read at the first
/// compile): a model whose kernels were seen compiles only its glue.
[[maybe_unused]] const bool modelKernelCacheInstalled = [] {
  auto disk = [] { return diskCacheDir().empty() ? nullptr : &kernelDisk(); };
  CpuKernelCache cache;
  cache.find = [disk](const std::string &symbol) {
    return sharedKernelCache(disk()).find(symbol);
  };
  cache.store = [disk](const std::string &symbol, const std::string &object) {
    sharedKernelCache(disk()).store(symbol, object);
  };
  setModelKernelCache(std::move(cache));
  return true;
}();

/// Why a graph missed the caches, for EMBER_LOG_COMPILES.
std::string missReason(State &s, const std::vector<int64_t> &structure, bool evicted) {
  if (evicted)
    return "compiled before, dropped from the memory cache (EMBER_MEMORY_CACHE_GRAPHS)";
  if (s.structures.count(structure))
    return "new pattern of size-1 dims in a program compiled before";
  return "new program";
}

void noteCacheHit(State &s, const GraphPlan &plan, Backend device) {
  s.cacheHits.fetch_add(1, std::memory_order_relaxed);
  if (debugEnabled(DebugTopic::CacheHits))
    fprintf(stderr, "[ember] graph cache hit for %s: %zu ops%s\n", backendDeviceType(device),
            plan.nodes.size() - plan.inputs.size(), userLine(plan).c_str());
}

/// The compiled graph of `plan` (its key and size vector in `key`,
/// `structure` and `sizes`, which the caller passes empty) from the
/// thread's last lookup, the memory cache, the disk cache or a compile.
std::shared_ptr<CompiledGraph> lookupOrCompile(const GraphPlan &plan, Backend device,
                                               std::vector<int64_t> &key,
                                               std::vector<int64_t> &structure,
                                               std::vector<int64_t> &sizes) {
  State &s = state();
  // The memory lookup's span ends at its hit or miss (a compile is not part
  // of it).
  uint64_t lookupStart = profiler::enabled() ? profiler::nowNs() : 0;
  // Called only while profiling (`if (lookupStart)`): the hit path stays a
  // load and a branch.
  auto noteLookup = [&](const char *result) {
    profiler::recordSpan(profiler::Category::Cache, "cache lookup", lookupStart, result);
    lookupStart = 0;
  };
  describe(plan, key, structure, sizes);
  // A CPU graph compiled while a profiler times kernels has different glue
  // (GPU dispatches are timed by the device, whatever the code).
  key.push_back(static_cast<int64_t>(device) |
                int64_t(device == Backend::Cpu && profiler::kernelsEnabled()) << 16);
  LastLookup &last = lastLookup();
  uint64_t generation = s.generation.load(std::memory_order_acquire);
  if (last.graph && last.generation == generation && last.key == key) {
    noteCacheHit(s, plan, device);
    if (lookupStart)
      noteLookup("memory hit");
    return last.graph;
  }
  auto remember = [&](const std::shared_ptr<CompiledGraph> &graph) {
    last.key = key;
    last.graph = graph;
    last.generation = generation;
    return graph;
  };
  auto findInMemory = [&]() -> std::shared_ptr<CompiledGraph> {
    std::lock_guard<std::mutex> lock(s.mutex);
    std::shared_ptr<CompiledGraph> hit = s.cache.find(key);
    if (hit)
      noteCacheHit(s, plan, device);
    return hit;
  };
  if (std::shared_ptr<CompiledGraph> hit = findInMemory()) {
    if (lookupStart)
      noteLookup("memory hit");
    return remember(hit);
  }
  if (lookupStart)
    noteLookup("memory miss");

  // One compile at a time; a thread that waited for another's compile of
  // the same graph finds it in the cache now rather than compiling it again.
  std::lock_guard<std::mutex> compiling(s.compileMutex);
  if (std::shared_ptr<CompiledGraph> hit = findInMemory())
    return remember(hit);

  auto start = std::chrono::steady_clock::now();
  auto elapsedMs = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  };
  std::string where = userLine(plan);

  // The disk cache holds CPU code (GPU graphs compile each process): the
  // graph's glue and kernel list under the graph's key, each kernel's
  // object under its own symbol.
  std::string identity;
  bool onDisk = device == Backend::Cpu && !diskCacheDir().empty();
  const KernelDisk *disk = onDisk ? &kernelDisk() : nullptr;
  if (onDisk) {
    identity = diskCacheIdentity(key, "cpu", cpuCodeFingerprint());
    profiler::Scope diskSpan(profiler::Category::Cache, "disk cache lookup");
    if (diskSpan.active())
      diskSpan.setDetail("disk miss");
    GraphObjects parts;
    if (std::optional<std::string> payload = diskCacheRead(identity, DiskEntryKind::Graph);
        payload && decodeGraphObjects(*payload, parts)) {
      std::string error;
      if (std::shared_ptr<CompiledGraph> loaded = loadCompiledGraph(parts, disk, &error)) {
        std::lock_guard<std::mutex> lock(s.mutex);
        ++s.stats.diskHits;
        s.stats.diskLoadMs += elapsedMs();
        if (logCompiles())
          fprintf(stderr, "[ember] loaded graph from the disk cache in %.1f ms: %zu ops%s\n",
                  elapsedMs(), plan.nodes.size() - plan.inputs.size(), where.c_str());
        s.cache.insert(key, loaded);
        if (diskSpan.active())
          diskSpan.setDetail("disk hit");
        return remember(loaded);
      }
      if (logCompiles())
        fprintf(stderr, "[ember] ignored a disk cache entry that does not load: %s\n",
                error.c_str());
    }
  }

  for (const Node *node : plan.nodes)
    if (node->op == OpCode::Placeholder)
      runtimeError("the backward of a custom autograd.Function is traced into the "
                   "compiled program: its grad_outputs have no values to read "
                   "(.item(), .numpy(), print, bool() or a value kept past the backward)" +
                   where);
  std::string error;
  GraphObjects parts;
  // A picture of the graph shows the kernels its compile made.
  bool dumping = !graphDumpDir().empty();
  parts.recordKernelNodes = dumping;
  profiler::Scope compileSpan(profiler::Category::Compile);
  if (compileSpan.active()) {
    compileSpan.setName(std::string("compile graph for ") + backendDeviceType(device));
    compileSpan.setDetail(std::to_string(plan.nodes.size() - plan.inputs.size()) + " ops" +
                          where);
  }
  std::shared_ptr<CompiledGraph> compiled =
      device == Backend::Cpu
          ? compileGraph(plan, &error, disk, onDisk || dumping ? &parts : nullptr)
          : compileGraphForGpu(plan, device, &error, dumping ? &parts.kernelNodes : nullptr);
  if (!compiled)
    runtimeError("ember could not compile a graph:\n" + error);
  if (onDisk && !parts.entry.empty())
    diskCacheWrite(identity, encodeGraphObjects(parts), DiskEntryKind::Graph);
  double ms = elapsedMs();

  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.stats.compiles;
  s.stats.compileMs += ms;
  if (!graphDumpDir().empty())
    dumpGraphPicture(plan, s.stats.compiles, parts.kernelNodes);
  uint64_t keyHash = KeyHash()(key);
  if (logCompiles()) {
    std::string reason = missReason(s, structure, s.compiledKeys.count(keyHash) > 0);
    fprintf(stderr,
            "[ember] compiled graph #%llu for %s: %zu ops, %zu inputs, %zu outputs "
            "in %.1f ms (%s)%s\n",
            static_cast<unsigned long long>(s.stats.compiles), backendDeviceType(device),
            plan.nodes.size() - plan.inputs.size(), plan.inputs.size(),
            plan.outputs.size(), ms, reason.c_str(), where.c_str());
  }
  if (s.structures.size() > 16 * MemoryCache::capacity()) {
    s.structures.clear();
    s.compiledKeys.clear();
  }
  ++s.structures[structure];
  s.compiledKeys.insert(keyHash);
  s.cache.insert(key, compiled);
  return remember(compiled);
}

/// Turns `node`, whose value is now in `result`, into an Input node reading
/// it: whatever still refers to the node (autograd history, a leaf's
/// marker, a later graph) reads the computed value instead of re-tracing
/// the ops that made it. This is what keeps a training loop's graphs from
/// growing step after step. Nodes that carry autograd history keep their
/// ops: a backward still needs them (it recomputes them in its program).
/// What cut the trace whose graph this thread is computing (set by
/// syncAll and materialize around compute), and the user's line there.
struct CutCause {
  const char *why = nullptr;
  SourceLoc loc;
};
thread_local CutCause currentCut;

/// Why each buffer a graph computed at a cut was computed there, for the
/// pictures of later graphs that read it. Keyed by address; the weak
/// reference tells a live entry from a freed buffer whose address came
/// back. Expired entries are dropped as the table grows.
struct CutTable {
  struct Entry {
    std::weak_ptr<Buffer> buffer;
    const char *why;
    SourceLoc loc;
  };
  std::mutex mutex;
  std::unordered_map<const Buffer *, Entry> entries;
  size_t pruneAt = 1024;

  void record(const std::shared_ptr<Buffer> &buffer, const CutCause &cause) {
    std::lock_guard<std::mutex> lock(mutex);
    entries[buffer.get()] = {buffer, cause.why, cause.loc};
    if (entries.size() < pruneAt)
      return;
    for (auto it = entries.begin(); it != entries.end();)
      it = it->second.buffer.expired() ? entries.erase(it) : std::next(it);
    pruneAt = std::max<size_t>(1024, 2 * entries.size());
  }
};

CutTable &cutTable() {
  static auto *table = new CutTable;
  return *table;
}

void collapseToInput(Node &node, const std::shared_ptr<Buffer> &result) {
  if (node.requiresGrad || node.op == OpCode::Input)
    return;
  if (currentCut.why)
    cutTable().record(result, currentCut);
  node.op = OpCode::Input;
  node.inputs.clear();
  node.ints.clear();
  node.flag = false;
  node.buffer = result;
}

/// Gives `storage` the computed contents in `result`, the value of `node`.
void deliver(Storage &storage, const NodeRef &node, std::shared_ptr<Buffer> result) {
  storage.pending.reset();
  storage.inputNode.reset();
  collapseToInput(*node, result);
  if (storage.buffer && storage.buffer->isExported()) {
    // Someone holds the old address (a NumPy array): update it in place.
    // The collapsed node keeps `result`, which is never written again.
    memcpy(storage.buffer->data, result->data, result->bytes);
    return;
  }
  storage.buffer = std::move(result);
  // Later reads share the collapsed node: one graph argument, not two.
  if (node->op == OpCode::Input && node->buffer == storage.buffer)
    storage.inputNode = node;
}

/// A fresh buffer of `bytes` bytes on `device`.
std::shared_ptr<Buffer> newBuffer(Backend device, size_t bytes) {
  return device == Backend::Cpu ? std::make_shared<Buffer>(bytes)
                                   : std::make_shared<Buffer>(device, bytes);
}

/// A copy of `source` (same device).
std::shared_ptr<Buffer> copyBuffer(const Buffer &source) {
  std::shared_ptr<Buffer> copy = newBuffer(source.device, source.bytes);
  if (source.device == Backend::Cpu) {
    memcpy(copy->data, source.data, source.bytes);
  } else if (source.bytes) {
    gpu::Device &device = gpuDevice(source.device);
    device.copyOnDevice({copy->deviceHandle, copy->deviceBytes}, 0,
                        {source.deviceHandle, source.deviceBytes}, 0, source.bytes,
                        device.defaultStream());
  }
  return copy;
}

using StorageList = llvm::SmallVectorImpl<StorageRef>;

/// Computes `storages` (all on `device`) in one graph.
void runDeviceGraph(StorageList &storages, Backend device) {
  State &s = state();
  ScratchLease scratch;
  GraphPlan &plan = scratch->plan;
  std::vector<Node *> &roots = scratch->roots;
  for (StorageRef &storage : storages)
    if (storage->pending->op != OpCode::Input)
      roots.push_back(storage->pending.get());

  // Buffers of outputs, by node; storages sharing a node get copies.
  struct Result {
    std::shared_ptr<Buffer> buffer;
    bool delivered = false;
  };
  llvm::SmallDenseMap<Node *, Result, 4> results;
  if (!roots.empty()) {
    collectGraph(roots, plan);
    for (Node *root : roots)
      if (results.try_emplace(root).second)
        plan.outputs.push_back(root);

    std::vector<int64_t> &sizes = scratch->sizes;
    std::shared_ptr<CompiledGraph> compiled =
        lookupOrCompile(plan, device, scratch->key, scratch->structure, sizes);
    // The run's span covers its outputs' allocation too (a plain time
    // stamp on this per-op path: one relaxed load when off).
    uint64_t runStart = profiler::enabled() ? profiler::nowNs() : 0;
    std::vector<GraphBuffer> &args = scratch->args;
    for (Node *input : plan.inputs)
      args.push_back({input->buffer->data, input->shape.data(),
                      static_cast<int64_t>(input->shape.size()), input->buffer.get(),
                      elementSize(input->dtype)});
    int64_t sizeCount = sizes.size();
    args.push_back({sizes.data(), &sizeCount, 1, nullptr, 8});
    for (Node *output : plan.outputs) {
      auto buffer = newBuffer(device, shapeNumel(output->shape) * elementSize(output->dtype));
      args.push_back({buffer->data, output->shape.data(),
                      static_cast<int64_t>(output->shape.size()), buffer.get(),
                      elementSize(output->dtype)});
      results[output].buffer = std::move(buffer);
    }
    compiled->run(args);
    if (runStart)
      profiler::recordSpan(profiler::Category::Run,
                           std::string("run graph on ") + backendDeviceType(device), runStart,
                           std::to_string(plan.nodes.size() - plan.inputs.size()) + " ops" +
                               userLine(plan));
    s.graphsRun.fetch_add(1, std::memory_order_relaxed);
  }

  for (StorageRef &storage : storages) {
    NodeRef ref = storage->pending;
    Node *node = ref.get();
    std::shared_ptr<Buffer> result;
    if (node->op == OpCode::Input) {
      result = copyBuffer(*node->buffer);
    } else {
      Result &computed = results[node];
      result = computed.delivered ? copyBuffer(*computed.buffer) : computed.buffer;
      computed.delivered = true;
    }
    deliver(*storage, ref, std::move(result));
  }
}

/// Computes `storages`, one graph per device.
void runGraph(StorageList &storages) {
  Backend first = storages.front()->device;
  if (llvm::all_of(storages, [&](const StorageRef &s) { return s->device == first; })) {
    runDeviceGraph(storages, first);
    return;
  }
  std::map<Backend, llvm::SmallVector<StorageRef, 4>> byDevice;
  for (StorageRef &storage : storages)
    byDevice[storage->device].push_back(storage);
  for (auto &[device, group] : byDevice)
    runDeviceGraph(group, device);
}

/// Export traces must not read values: the program would silently depend on
/// the example's data.
[[noreturn]] void rejectValueRead() {
  SourceLoc loc = currentLocation();
  std::string where = loc.file ? " at " + *loc.file + ":" + std::to_string(loc.line) : "";
  runtimeError("ember.export: the function reads a tensor's value" + where +
               " (.item(), .numpy(), .tolist(), bool(), print, ember.sync() or "
               "indexing with a tensor); an exported program cannot depend on data. "
               "Compute it with tensor ops instead (ember.where for choices).");
}

} // namespace

namespace {

/// Computes `storages` on this thread and returns the first error, if any.
/// After a failed graph, each value it held is computed again on its own:
/// only the values whose own ops fail keep an error (each later read of one
/// reports it again), so one bad op never fails unrelated values pending
/// with it, and values made afterwards are computed without them.
std::optional<std::string> compute(StorageList &storages) {
  Tracer &t = tracer();
  t.syncing = true;
  std::optional<std::string> firstError;
  try {
    if (!storages.empty())
      runGraph(storages);
  } catch (const std::exception &error) {
    firstError = error.what();
    for (StorageRef &storage : storages) {
      if (!storage->pending)
        continue;
      if (storages.size() == 1) {
        storage->error = std::make_shared<std::string>(*firstError);
        continue;
      }
      llvm::SmallVector<StorageRef, 1> alone{storage};
      try {
        runGraph(alone);
      } catch (const std::exception &own) {
        storage->error = std::make_shared<std::string>(own.what());
      }
    }
  }
  t.syncing = false;
  return firstError;
}

/// Computes every value this thread traced; returns the first error.
/// `why` says what cut the trace here (EMBER_DEBUG=2 prints it).
std::optional<std::string> syncAll(const char *why) {
  Tracer &t = tracer();
  if (t.syncing)
    return std::nullopt;
  if (exporting())
    rejectValueRead();
  static const bool printCuts = debugEnabled(DebugTopic::CacheHits);
  if (printCuts && t.nodesSinceSync) {
    SourceLoc loc = currentLocation();
    fprintf(stderr, "[ember] graph cut: %s after %llu traced ops%s\n", why,
            static_cast<unsigned long long>(t.nodesSinceSync),
            loc.file ? (" at " + *loc.file + ":" + std::to_string(loc.line)).c_str() : "");
  }
  currentCut = {why, currentLocation()};
  llvm::SmallVector<StorageRef, 4> storages;
  for (std::weak_ptr<Storage> &weak : t.pending)
    if (StorageRef storage = weak.lock())
      if (storage->pending)
        storages.push_back(std::move(storage));
  t.pending.clear();
  t.nodesSinceSync = 0;
  std::optional<std::string> error = compute(storages);
  currentCut = {};
  return error;
}

} // namespace

void registerPending(const StorageRef &storage) {
  // A traced backward's values are never computed on their own.
  if (tracingCustomBackward())
    return;
  Tracer &t = tracer();
  t.pending.push_back(storage);
  // An export trace must stay one graph, however large. A failed value
  // keeps its error for its own read.
  if (t.nodesSinceSync > kMaxPendingNodes && !t.syncing && !exporting())
    syncAll("the pending graph reached 2000 ops");
}

void noteNodeCreated() {
  ++tracer().nodesSinceSync;
  ++nodesTraced;
}

void sync() {
  if (exporting())
    rejectValueRead();
  if (std::optional<std::string> error = syncAll("ember.sync()"))
    runtimeError(*error);
}

void materialize(Storage &storage) {
  // Even a computed value (an input, a weight) must not be read: code that
  // branches on it would be traced down one path, silently.
  if (exporting())
    rejectValueRead();
  if (storage.pending && !storage.error && !tracer().syncing) {
    syncAll("a value was read (.item(), .numpy(), print, a copy to another device)");
    // Still pending: another thread traced it (a tensor handed between
    // threads), and this thread's sync leaves others' values alone. It is
    // computed on its own; its owner's sync then finds nothing to do.
    if (storage.pending && !storage.error) {
      // The caller keeps `storage` alive: a reference that owns nothing.
      llvm::SmallVector<StorageRef, 1> alone{StorageRef(StorageRef(), &storage)};
      currentCut = {"a value was read (.item(), .numpy(), print, a copy to another device)",
                    currentLocation()};
      compute(alone);
      currentCut = {};
    }
  }
  if (storage.pending && storage.error)
    runtimeError(*storage.error);
}

bool graphCutOf(const Buffer *buffer, std::string *reason, std::string *where) {
  CutTable &table = cutTable();
  std::lock_guard<std::mutex> lock(table.mutex);
  auto it = table.entries.find(buffer);
  if (it == table.entries.end() || it->second.buffer.lock().get() != buffer)
    return false;
  const CutTable::Entry &entry = it->second;
  *reason = entry.why;
  where->clear();
  if (entry.loc.file)
    *where = *entry.loc.file + ":" + std::to_string(entry.loc.line);
  return true;
}

CompileStats compileStats() {
  State &s = state();
  CompileStats stats;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    stats = s.stats;
  }
  stats.cacheHits = s.cacheHits.load(std::memory_order_relaxed);
  stats.graphsRun = s.graphsRun.load(std::memory_order_relaxed);
  stats.nodesTraced = nodesTraced;
  kernelCounts(&stats.kernelsCompiled, &stats.kernelsReused);
  return stats;
}

void clearCompileCache() {
  State &s = state();
  std::lock_guard<std::mutex> compiling(s.compileMutex);
  std::lock_guard<std::mutex> lock(s.mutex);
  s.cache.clear();
  // Other threads' last lookups are dropped at their next lookup.
  s.generation.fetch_add(1, std::memory_order_acq_rel);
  lastLookup() = LastLookup();
  s.structures.clear();
  s.compiledKeys.clear();
  clearKernelObjects();
}

} // namespace ember
