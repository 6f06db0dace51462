//===- DistributedBindings.cpp - ember._ember._distributed ---------------===//
//
// The C++ half of ember.distributed: rendezvous stores, process groups over
// a registered engine (runtime/include/ember/Runtime/Collectives.h) and the
// tensor collectives. Ember tensors are lazy: a collective computes its
// input on the calling thread, runs the engine on a dense host buffer of its
// own (on the group's ordered queue, with the GIL released), and writes the
// result into the tensor as an ordinary in-place update once the work is
// waited for, so that later ops, views and autograd see it.
//
// Before the payload, each collective exchanges a small fingerprint (op,
// dtype, shape, root) so that ranks that disagree fail with a message naming
// them instead of corrupting memory or hanging; EMBER_DIST_CHECK_SHAPES=0
// turns the exchange off.
//
//===----------------------------------------------------------------------===//

#include "Conversions.h"

#include "ember/Runtime/Collectives.h"
#include "ember/Runtime/ProcessGroups.h"
#include "ember/Runtime/Stores.h"

#include <pybind11/stl.h>

#include <cstdlib>
#include <cstring>

namespace ember::python {
namespace {

using dist::Buffer;
using dist::Communicator;
using dist::CollectiveError;
using dist::ReduceOp;

std::chrono::milliseconds toMilliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

//===- Host buffers of tensors ---------------------------------------------===//

/// A dense host copy or view of a tensor's current value; `keep` holds it.
struct HostInput {
  Tensor keep;
  Buffer buffer;
};

Buffer bufferOf(const Tensor &dense) {
  return Buffer{dense.data(), static_cast<size_t>(dense.numel()), dense.dtype()};
}

/// x's value as a dense host buffer (computed now, on this thread).
HostInput hostInput(const Tensor &x) {
  Tensor dense = detach(x);
  if (deviceOf(dense) != Backend::Cpu)
    dense = toDevice(dense, Backend::Cpu);
  dense = contiguous(dense);
  Buffer buffer = bufferOf(dense);
  return {dense, buffer};
}

/// A fresh dense host tensor like x (the engine writes the result there).
Tensor hostOutputLike(const Tensor &x) { return empty(x.shape(), x.dtype()); }

/// Writes `result` (a host tensor) into x's elements as an in-place update.
void writeBack(const Tensor &x, const Tensor &result) {
  Tensor target = detach(x);
  if (deviceOf(target) != Backend::Cpu)
    assign(target, toDevice(result, deviceOf(target)));
  else
    assign(target, result);
}

//===- Work handles ----------------------------------------------------------===//

/// An issued collective (torch's Work): wait() blocks with the GIL released,
/// rethrows the engine's error, then writes the results back (on the Python
/// thread, where the tracer lives).
class PyWork {
public:
  PyWork(std::shared_ptr<dist::Work> work, std::function<void()> finish,
         std::vector<Tensor> keep)
      : work(std::move(work)), finish(std::move(finish)), keep(std::move(keep)) {}
  ~PyWork() {
    // The engine may still be using the buffers `keep` owns.
    if (work && !work->isCompleted()) {
      py::gil_scoped_release release;
      try {
        work->wait();
      } catch (...) {
      }
    }
  }

  bool wait() {
    if (!done) {
      try {
        py::gil_scoped_release release;
        work->wait();
      } catch (...) {
        done = true;
        keep.clear();
        throw;
      }
      done = true;
      if (finish)
        finish();
      keep.clear();
    }
    return true;
  }
  bool isCompleted() { return done || work->isCompleted(); }

private:
  std::shared_ptr<dist::Work> work;
  std::function<void()> finish;
  std::vector<Tensor> keep;
  bool done = false;
};

//===- Fingerprints ----------------------------------------------------------===//

enum class OpKind : int64_t {
  AllReduce = 1, Broadcast, Reduce, AllGather, ReduceScatter, Gather, Scatter,
  AllToAll, Barrier
};

const char *opName(OpKind kind) {
  switch (kind) {
  case OpKind::AllReduce: return "all_reduce";
  case OpKind::Broadcast: return "broadcast";
  case OpKind::Reduce: return "reduce";
  case OpKind::AllGather: return "all_gather";
  case OpKind::ReduceScatter: return "reduce_scatter";
  case OpKind::Gather: return "gather";
  case OpKind::Scatter: return "scatter";
  case OpKind::AllToAll: return "all_to_all";
  case OpKind::Barrier: return "barrier";
  }
  return "collective";
}

/// [op, dtype, root, reduce op, rank count of dims, dims (up to kMaxDims;
/// larger ranks fold the rest into the last)].
constexpr int kMaxDims = 8;
constexpr int kFingerprint = 5 + kMaxDims;

struct Fingerprint {
  OpKind kind;
  int64_t dtype = -1;
  int64_t root = -1;
  int64_t reduceOp = -1;
  Shape shape; // empty and dims -1: shapes may differ (all_to_all with splits)
  bool anyShape = false;
};

std::vector<int64_t> encode(const Fingerprint &f) {
  std::vector<int64_t> words(kFingerprint, -1);
  words[0] = int64_t(f.kind);
  words[1] = f.dtype;
  words[2] = f.root;
  words[3] = f.reduceOp;
  if (f.anyShape)
    return words;
  words[4] = int64_t(f.shape.size());
  for (size_t d = 0; d < f.shape.size(); ++d) {
    size_t slot = std::min<size_t>(d, kMaxDims - 1);
    words[5 + slot] = d < kMaxDims ? f.shape[d] : words[5 + slot] * f.shape[d];
  }
  return words;
}

std::string describe(const int64_t *words) {
  std::string text;
  if (words[1] >= 0 && words[1] < kNumElementTypes)
    text += elementTypeName(static_cast<ElementType>(words[1]));
  if (words[4] >= 0) {
    text += "[";
    for (int64_t d = 0; d < std::min<int64_t>(words[4], kMaxDims); ++d)
      text += (d ? ", " : "") + std::to_string(words[5 + d]);
    text += "]";
  }
  if (words[2] >= 0)
    text += " root " + std::to_string(words[2]);
  if (words[3] >= 0)
    text += " op " + std::to_string(words[3]);
  return text;
}

//===- Process groups --------------------------------------------------------===//

class ProcessGroup {
public:
  ProcessGroup(std::shared_ptr<Communicator> communicator, std::shared_ptr<dist::Store> store,
               std::vector<int> globalRanks)
      : communicator(std::move(communicator)), store(std::move(store)),
        globalRanks(std::move(globalRanks)) {
    const char *knob = std::getenv("EMBER_DIST_CHECK_SHAPES");
    checkShapes = !(knob && std::string(knob) == "0");
    // In the runtime's group table, so that compiled programs (graph
    // collectives, ember.distributed._graph) reach this engine: not owned
    // there (this group owns it and unregisters before it goes).
    groupId = dist::registerGroup(std::shared_ptr<Communicator>(
        this->communicator.get(), [](Communicator *) {}));
  }
  ~ProcessGroup() { shutdown(); }

  void shutdown() {
    if (!communicator)
      return;
    dist::unregisterGroup(groupId);
    {
      py::gil_scoped_release release;
      dist::finishAsync(*communicator);
      communicator.reset();
    }
    store.reset();
  }

  Communicator &comm() {
    if (!communicator)
      throw CollectiveError("this process group was destroyed (destroy_process_group)");
    return *communicator;
  }
  /// For work off the queue (isend/irecv), which shutdown() does not drain.
  std::shared_ptr<Communicator> shared() {
    comm();
    return communicator;
  }
  int rank() { return comm().rank(); }
  int size() { return comm().size(); }
  std::string backend() { return comm().backendName(); }
  const std::vector<int> &ranks() const { return globalRanks; }

  /// Issues `run` (with the fingerprint check first) on the group's queue;
  /// blocking calls wait and write back at once, async ones return a handle.
  py::object issue(std::optional<Fingerprint> fingerprint, std::function<void()> run,
                   std::function<void()> finish, std::vector<Tensor> keep, bool async) {
    Communicator &c = comm();
    std::function<void()> body = std::move(run);
    if (fingerprint && checkShapes && c.size() > 1) {
      std::vector<int64_t> mine = encode(*fingerprint);
      std::vector<int> names = globalRanks;
      const char *what = opName(fingerprint->kind);
      body = [&c, mine, names, what, body = std::move(body)] {
        std::vector<int64_t> all(mine.size() * c.size());
        try {
          c.allGather(
              Buffer{const_cast<int64_t *>(mine.data()), mine.size(), ElementType::Int64},
              Buffer{all.data(), all.size(), ElementType::Int64});
        } catch (const CollectiveError &error) {
          // Name the user's collective, not the check's all_gather.
          throw CollectiveError(std::string(what) + " failed (while comparing shapes): " +
                                error.what());
        }
        compare(all, names, c.rank());
        body();
      };
    }
    body = namingLostRanks(std::move(body));
    if (!async) {
      {
        py::gil_scoped_release release;
        dist::runInOrder(c, body);
      }
      if (finish)
        finish();
      return py::none();
    }
    return py::cast(std::make_shared<PyWork>(dist::runAsync(c, std::move(body)),
                                             std::move(finish), std::move(keep)));
  }

  /// Point-to-point: off the ordered queue (torch's isend/irecv).
  py::object issueDetached(std::function<void()> run, std::function<void()> finish,
                           std::vector<Tensor> keep, bool async) {
    run = namingLostRanks(std::move(run));
    if (!async) {
      {
        py::gil_scoped_release release;
        run();
      }
      if (finish)
        finish();
      return py::none();
    }
    return py::cast(std::make_shared<PyWork>(dist::runDetached(std::move(run)),
                                             std::move(finish), std::move(keep)));
  }

  std::unique_ptr<ProcessGroup> split(const std::vector<int> &ranks) {
    std::unique_ptr<Communicator> child;
    {
      py::gil_scoped_release release;
      Communicator &c = comm();
      dist::runInOrder(c, [&] { child = c.split(ranks); });
    }
    if (!child)
      return nullptr;
    std::vector<int> sorted = ranks;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    return std::make_unique<ProcessGroup>(std::move(child), store, sorted);
  }

private:
  /// `run`, whose engine errors also say which ranks the rendezvous store
  /// saw die (a killed peer's engine error cannot name it).
  std::function<void()> namingLostRanks(std::function<void()> run) {
    std::shared_ptr<dist::Store> rendezvous = store;
    if (!rendezvous)
      return run;
    return [rendezvous, run = std::move(run)] {
      try {
        run();
      } catch (const CollectiveError &error) {
        std::string message = error.what();
        if (message.find("differ across ranks") != std::string::npos)
          throw;
        throw CollectiveError(message + dist::describeLostRanks(*rendezvous));
      }
    };
  }

  static void compare(const std::vector<int64_t> &all, const std::vector<int> &names, int me) {
    int size = static_cast<int>(all.size() / kFingerprint);
    const int64_t *first = all.data();
    for (int r = 1; r < size; ++r) {
      const int64_t *other = all.data() + r * kFingerprint;
      if (std::equal(first, first + kFingerprint, other))
        continue;
      std::string what = opName(static_cast<OpKind>(first[0]));
      std::string message;
      if (first[0] != other[0])
        message = "ranks issued different collectives: rank " + std::to_string(names[0]) +
                  " called " + what + ", rank " + std::to_string(names[r]) + " called " +
                  opName(static_cast<OpKind>(other[0]));
      else
        message = what + ": the tensors (or arguments) differ across ranks: rank " +
                  std::to_string(names[0]) + " has " + describe(first) + ", rank " +
                  std::to_string(names[r]) + " has " + describe(other);
      (void)me;
      throw CollectiveError(message +
                            " (every rank must pass matching tensors; "
                            "EMBER_DIST_CHECK_SHAPES=0 skips this check)");
    }
  }

  // Shared: compiled programs may hold the communicator too (h-mpi's group
  // registry); shutdown() drains the queue and drops this reference.
  std::shared_ptr<Communicator> communicator;
  std::shared_ptr<dist::Store> store;
  std::vector<int> globalRanks;
  bool checkShapes = true;

public:
  /// This group's number in the runtime's table (ProcessGroups.h).
  int groupId = -1;
};

Fingerprint fingerprintOf(OpKind kind, const Tensor &x, int64_t root = -1,
                          int64_t reduceOp = -1) {
  Fingerprint f{kind};
  f.dtype = int64_t(x.dtype());
  f.root = root;
  f.reduceOp = reduceOp;
  f.shape = x.shape();
  return f;
}

ReduceOp reduceOpOf(int op) {
  if (op < 0 || op > int(ReduceOp::Product))
    throw CollectiveError("unknown ReduceOp " + std::to_string(op));
  return static_cast<ReduceOp>(op);
}

void checkRoot(ProcessGroup &g, int root, const char *what) {
  if (root < 0 || root >= g.size())
    throw py::value_error(std::string(what) + ": invalid rank " + std::to_string(root) +
                          " for a group of " + std::to_string(g.size()));
}

//===- Collectives on tensors ------------------------------------------------===//

/// all_reduce / broadcast / reduce: one tensor, updated in place.
py::object inPlace(ProcessGroup &g, OpKind kind, const Tensor &x, int op, int root, bool async) {
  HostInput in = hostInput(x);
  Tensor out = hostOutputLike(x);
  Buffer buffer = bufferOf(out);
  if (buffer.bytes())
    std::memcpy(buffer.data, in.buffer.data, buffer.bytes());
  Communicator &c = g.comm();
  std::function<void()> run;
  bool writes = true;
  switch (kind) {
  case OpKind::AllReduce:
    run = [&c, buffer, op] { c.allReduce(buffer, reduceOpOf(op)); };
    break;
  case OpKind::Broadcast:
    checkRoot(g, root, "broadcast");
    run = [&c, buffer, root] { c.broadcast(buffer, root); };
    writes = g.rank() != root;
    break;
  default:
    checkRoot(g, root, "reduce");
    run = [&c, buffer, op, root] { c.reduce(buffer, reduceOpOf(op), root); };
    // torch: only the destination's tensor holds the result.
    writes = g.rank() == root;
    break;
  }
  std::function<void()> finish;
  if (writes)
    finish = [x, out] { writeBack(x, out); };
  return g.issue(fingerprintOf(kind, x, root, kind == OpKind::Broadcast ? -1 : op),
                 std::move(run), std::move(finish), {in.keep, out}, async);
}

void checkNumel(const Tensor &t, int64_t expected, const char *what, const char *which) {
  if (t.numel() != expected)
    throw py::value_error(std::string(what) + ": the " + which + " tensor has " +
                          std::to_string(t.numel()) + " elements, expected " +
                          std::to_string(expected) + " (shape " + shapeString(t.shape()) + ")");
}
void checkDType(const Tensor &a, const Tensor &b, const char *what) {
  if (a.dtype() != b.dtype())
    throw py::type_error(std::string(what) + ": the input and output dtypes differ (" +
                         elementTypeName(a.dtype()) + " and " + elementTypeName(b.dtype()) +
                         ")");
}

/// all_gather_into_tensor: output holds size * input.numel() elements.
py::object allGather(ProcessGroup &g, const Tensor &output, const Tensor &input, bool async) {
  checkDType(input, output, "all_gather");
  checkNumel(output, input.numel() * g.size(), "all_gather", "output");
  HostInput in = hostInput(input);
  Tensor out = hostOutputLike(output);
  Buffer inBuffer = in.buffer, outBuffer = bufferOf(out);
  Communicator &c = g.comm();
  return g.issue(fingerprintOf(OpKind::AllGather, input),
                 [&c, inBuffer, outBuffer] { c.allGather(inBuffer, outBuffer); },
                 [output, out] { writeBack(output, out); }, {in.keep, out}, async);
}

/// reduce_scatter_tensor: input holds size * output.numel() elements.
py::object reduceScatter(ProcessGroup &g, const Tensor &output, const Tensor &input, int op,
                         bool async) {
  checkDType(input, output, "reduce_scatter");
  checkNumel(input, output.numel() * g.size(), "reduce_scatter", "input");
  HostInput in = hostInput(input);
  Tensor out = hostOutputLike(output);
  Buffer inBuffer = in.buffer, outBuffer = bufferOf(out);
  Communicator &c = g.comm();
  return g.issue(fingerprintOf(OpKind::ReduceScatter, input, -1, op),
                 [&c, inBuffer, outBuffer, op] {
                   c.reduceScatter(inBuffer, outBuffer, reduceOpOf(op));
                 },
                 [output, out] { writeBack(output, out); }, {in.keep, out}, async);
}

/// gather: `output` (size * input.numel() elements) only on the root.
py::object gather(ProcessGroup &g, const Tensor &input, std::optional<Tensor> output, int root,
                  bool async) {
  checkRoot(g, root, "gather");
  bool isRoot = g.rank() == root;
  if (isRoot && !output)
    throw py::value_error("gather: the destination rank needs gather_list");
  HostInput in = hostInput(input);
  Tensor out;
  Buffer outBuffer;
  std::function<void()> finish;
  if (isRoot) {
    checkDType(input, *output, "gather");
    checkNumel(*output, input.numel() * g.size(), "gather", "output");
    out = hostOutputLike(*output);
    outBuffer = bufferOf(out);
    Tensor target = *output;
    finish = [target, out] { writeBack(target, out); };
  }
  Buffer inBuffer = in.buffer;
  Communicator &c = g.comm();
  return g.issue(fingerprintOf(OpKind::Gather, input, root),
                 [&c, inBuffer, outBuffer, root] { c.gather(inBuffer, outBuffer, root); },
                 std::move(finish), {in.keep, out}, async);
}

/// scatter: `input` (size * output.numel() elements) only on the root.
py::object scatter(ProcessGroup &g, const Tensor &output, std::optional<Tensor> input, int root,
                   bool async) {
  checkRoot(g, root, "scatter");
  bool isRoot = g.rank() == root;
  if (isRoot && !input)
    throw py::value_error("scatter: the source rank needs scatter_list");
  HostInput in;
  if (isRoot) {
    checkDType(*input, output, "scatter");
    checkNumel(*input, output.numel() * g.size(), "scatter", "input");
    in = hostInput(*input);
  }
  Tensor out = hostOutputLike(output);
  Buffer inBuffer = in.buffer, outBuffer = bufferOf(out);
  Communicator &c = g.comm();
  return g.issue(fingerprintOf(OpKind::Scatter, output, root),
                 [&c, inBuffer, outBuffer, root] { c.scatter(inBuffer, outBuffer, root); },
                 [output, out] { writeBack(output, out); }, {in.keep, out}, async);
}

/// all_to_all_single: splits are counts of rows (dim 0); empty: equal.
py::object allToAll(ProcessGroup &g, const Tensor &output, const Tensor &input,
                     std::vector<int64_t> outputSplits, std::vector<int64_t> inputSplits,
                     bool async) {
  checkDType(input, output, "all_to_all_single");
  auto elements = [&](const Tensor &t, const std::vector<int64_t> &rows, const char *which) {
    std::vector<size_t> counts;
    if (rows.empty())
      return counts;
    if (rows.size() != size_t(g.size()))
      throw py::value_error(std::string("all_to_all_single: ") + which + "_split_sizes has " +
                            std::to_string(rows.size()) + " entries for a group of " +
                            std::to_string(g.size()));
    int64_t rowElements = t.dim() == 0 || t.shape()[0] == 0 ? 0 : t.numel() / t.shape()[0];
    int64_t total = 0;
    for (int64_t r : rows) {
      if (r < 0)
        throw py::value_error("all_to_all_single: negative split size");
      counts.push_back(size_t(r * rowElements));
      total += r;
    }
    if (t.dim() == 0 || total != t.shape()[0])
      throw py::value_error(std::string("all_to_all_single: ") + which +
                            "_split_sizes add up to " + std::to_string(total) +
                            " rows, but the " + which + " has " +
                            (t.dim() ? std::to_string(t.shape()[0]) : std::string("no")) +
                            " rows");
    return counts;
  };
  std::vector<size_t> inCounts = elements(input, inputSplits, "input");
  std::vector<size_t> outCounts = elements(output, outputSplits, "output");
  bool even = inCounts.empty() && outCounts.empty();
  if (even)
    checkNumel(output, input.numel(), "all_to_all_single", "output");
  HostInput in = hostInput(input);
  Tensor out = hostOutputLike(output);
  Buffer inBuffer = in.buffer, outBuffer = bufferOf(out);
  Communicator &c = g.comm();
  Fingerprint f{OpKind::AllToAll};
  f.dtype = int64_t(input.dtype());
  f.anyShape = !even;
  f.shape = input.shape();
  return g.issue(f,
                 [&c, inBuffer, outBuffer, inCounts, outCounts] {
                   c.allToAll(inBuffer, outBuffer, inCounts, outCounts);
                 },
                 [output, out] { writeBack(output, out); }, {in.keep, out}, async);
}

py::object sendTensor(ProcessGroup &g, const Tensor &x, int peer, int tag, bool async) {
  HostInput in = hostInput(x);
  Buffer buffer = in.buffer;
  std::shared_ptr<Communicator> c = g.shared();
  return g.issueDetached([c, buffer, peer, tag] { c->send(buffer, peer, tag); }, nullptr,
                         {in.keep}, async);
}

py::object recvTensor(ProcessGroup &g, const Tensor &x, int peer, int tag, bool async) {
  Tensor out = hostOutputLike(x);
  Buffer buffer = bufferOf(out);
  std::shared_ptr<Communicator> c = g.shared();
  return g.issueDetached([c, buffer, peer, tag] { c->recv(buffer, peer, tag); },
                         [x, out] { writeBack(x, out); }, {out}, async);
}

py::object barrier(ProcessGroup &g, bool async) {
  Communicator &c = g.comm();
  Fingerprint f{OpKind::Barrier};
  f.anyShape = true;
  return g.issue(f, [&c] { c.barrier(); }, nullptr, {}, async);
}

} // namespace

void bindDistributed(py::module_ &parent) {
  py::module_ m = parent.def_submodule("_distributed", "ember.distributed's engines");
  // Engine and store errors are torch's RuntimeError.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p)
        std::rethrow_exception(p);
    } catch (const CollectiveError &e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  m.def("available_backends", &dist::availableBackends);

  py::class_<dist::Store, std::shared_ptr<dist::Store>>(m, "Store")
      .def("set",
           [](dist::Store &s, const std::string &key, py::bytes value) {
             std::string v = value;
             py::gil_scoped_release release;
             s.set(key, std::vector<uint8_t>(v.begin(), v.end()));
           })
      .def("get",
           [](dist::Store &s, const std::string &key) {
             std::vector<uint8_t> v;
             {
               py::gil_scoped_release release;
               v = s.get(key);
             }
             return py::bytes(reinterpret_cast<const char *>(v.data()), v.size());
           })
      .def("add",
           [](dist::Store &s, const std::string &key, int64_t delta) {
             py::gil_scoped_release release;
             return s.add(key, delta);
           })
      .def("wait",
           [](dist::Store &s, const std::vector<std::string> &keys) {
             py::gil_scoped_release release;
             s.wait(keys);
           })
      .def_property_readonly("port", [](const dist::Store &s) { return dist::tcpStorePort(s); });

  m.def(
      "tcp_store",
      [](const std::string &host, int port, bool isServer, double timeout) {
        py::gil_scoped_release release;
        return dist::createTcpStore(host, port, isServer, toMilliseconds(timeout));
      },
      py::arg("host"), py::arg("port"), py::arg("is_server"), py::arg("timeout"));
  m.def(
      "file_store",
      [](const std::string &path, double timeout) {
        return dist::createFileStore(path, toMilliseconds(timeout));
      },
      py::arg("path"), py::arg("timeout"));
  m.def("prefix_store", &dist::createPrefixStore, py::arg("prefix"), py::arg("store"));

  py::class_<PyWork, std::shared_ptr<PyWork>>(m, "Work")
      .def("wait", &PyWork::wait)
      .def("is_completed", &PyWork::isCompleted);

  py::class_<ProcessGroup>(m, "ProcessGroup")
      .def("rank", &ProcessGroup::rank)
      .def("size", &ProcessGroup::size)
      .def("backend", &ProcessGroup::backend)
      .def_property_readonly("ranks", &ProcessGroup::ranks)
      .def_property_readonly("group_id", [](const ProcessGroup &g) { return g.groupId; })
      .def("shutdown", &ProcessGroup::shutdown)
      .def("split", &ProcessGroup::split)
      .def("all_reduce",
           [](ProcessGroup &g, const Tensor &x, int op, bool async) {
             return inPlace(g, OpKind::AllReduce, x, op, -1, async);
           })
      .def("broadcast",
           [](ProcessGroup &g, const Tensor &x, int root, bool async) {
             return inPlace(g, OpKind::Broadcast, x, 0, root, async);
           })
      .def("reduce",
           [](ProcessGroup &g, const Tensor &x, int op, int root, bool async) {
             return inPlace(g, OpKind::Reduce, x, op, root, async);
           })
      .def("all_gather", &allGather)
      .def("reduce_scatter", &reduceScatter)
      .def("gather", &gather)
      .def("scatter", &scatter)
      .def("all_to_all", &allToAll)
      .def("send", &sendTensor)
      .def("recv", &recvTensor)
      .def("barrier", &barrier);

  m.def(
      "new_group",
      [](const std::string &backend, int rank, int worldSize,
         std::shared_ptr<dist::Store> store, double timeout, const std::string &address) {
        dist::CommunicatorOptions options;
        options.backend = backend;
        options.rank = rank;
        options.worldSize = worldSize;
        options.store = store;
        options.timeout = toMilliseconds(timeout);
        options.address = address;
        std::unique_ptr<Communicator> communicator;
        {
          py::gil_scoped_release release;
          communicator = dist::createCommunicator(options);
        }
        std::vector<int> ranks(communicator->size());
        for (int r = 0; r < communicator->size(); ++r)
          ranks[r] = r;
        if (store) {
          py::gil_scoped_release release;
          dist::announceRank(*store, communicator->rank());
        }
        return std::make_unique<ProcessGroup>(std::move(communicator), store, ranks);
      },
      py::arg("backend"), py::arg("rank"), py::arg("world_size"), py::arg("store"),
      py::arg("timeout"), py::arg("address") = "");
}

} // namespace ember::python
