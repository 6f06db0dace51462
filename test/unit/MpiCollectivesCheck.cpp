//===- MpiCollectivesCheck.cpp - the "mpi" engine under mpirun ------------===//
//
// Run by mpi_collectives_test.sh as `mpirun -n 2` and `-n 3`: every
// collective of ember::dist::Communicator on every element type, each
// rank's result against the value computed from every rank's input (rank r
// holds f(r, i), small integers every type represents exactly). Exits 1
// with the first mismatch; prints "mpi collectives ok" from each rank.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/MpiBackend.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

using namespace ember;
using namespace ember::dist;

namespace {

int failures = 0;

void store(ElementType type, void *data, size_t i, double v) {
  switch (type) {
  case ElementType::Bool:
    static_cast<uint8_t *>(data)[i] = v != 0;
    break;
  case ElementType::Int32:
    static_cast<int32_t *>(data)[i] = static_cast<int32_t>(v);
    break;
  case ElementType::Int64:
    static_cast<int64_t *>(data)[i] = static_cast<int64_t>(v);
    break;
  case ElementType::Float16:
    static_cast<uint16_t *>(data)[i] = floatToHalf(static_cast<float>(v));
    break;
  case ElementType::BFloat16:
    static_cast<uint16_t *>(data)[i] = floatToBFloat16(static_cast<float>(v));
    break;
  case ElementType::Float32:
    static_cast<float *>(data)[i] = static_cast<float>(v);
    break;
  case ElementType::Float64:
    static_cast<double *>(data)[i] = v;
    break;
  }
}

double load(ElementType type, const void *data, size_t i) {
  switch (type) {
  case ElementType::Bool:
    return static_cast<const uint8_t *>(data)[i];
  case ElementType::Int32:
    return static_cast<const int32_t *>(data)[i];
  case ElementType::Int64:
    return static_cast<const int64_t *>(data)[i];
  case ElementType::Float16:
    return halfToFloat(static_cast<const uint16_t *>(data)[i]);
  case ElementType::BFloat16:
    return bfloat16ToFloat(static_cast<const uint16_t *>(data)[i]);
  case ElementType::Float32:
    return static_cast<const float *>(data)[i];
  case ElementType::Float64:
    return static_cast<const double *>(data)[i];
  }
  return 0;
}

/// Rank r's input element i (bool: alternating bits that differ by rank).
double value(ElementType type, int r, size_t i) {
  if (type == ElementType::Bool)
    return (r + i) % 3 == 0;
  return static_cast<double>((r + 1) * (static_cast<int>(i % 3) + 1)) -
         (i % 4 == 1 ? 4 : 0);
}

struct Tensor {
  ElementType type;
  std::vector<uint8_t> bytes;
  Tensor(ElementType type, size_t n) : type(type), bytes(n * elementSize(type)) {}
  Buffer buffer() {
    Buffer b;
    b.data = bytes.data();
    b.numElements = bytes.size() / elementSize(type);
    b.type = type;
    return b;
  }
  size_t size() const { return bytes.size() / elementSize(type); }
  double at(size_t i) const { return load(type, bytes.data(), i); }
  void set(size_t i, double v) { store(type, bytes.data(), i, v); }
};

double reduceAll(ElementType type, ReduceOp op, int size, size_t i) {
  double acc = value(type, 0, i);
  for (int r = 1; r < size; ++r) {
    double v = value(type, r, i);
    bool logical = type == ElementType::Bool;
    switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Avg:
      acc = logical ? (acc || v) : acc + v;
      break;
    case ReduceOp::Min:
      acc = std::min(acc, v);
      break;
    case ReduceOp::Max:
      acc = std::max(acc, v);
      break;
    case ReduceOp::Product:
      acc = logical ? (acc && v) : acc * v;
      break;
    }
  }
  return op == ReduceOp::Avg ? acc / size : acc;
}

void expect(const std::string &what, const Tensor &t, size_t i, double want,
            int rank) {
  double got = t.at(i);
  double tolerance = t.type == ElementType::BFloat16 ? 0.02 * std::fabs(want)
                                                     : 1e-3 * std::fabs(want);
  if (std::fabs(got - want) > tolerance + 1e-6) {
    if (failures++ < 10)
      std::fprintf(stderr, "rank %d: %s %s[%zu] = %g, expected %g\n", rank,
                   what.c_str(), elementTypeName(t.type), i, got, want);
  }
}

void fill(Tensor &t, int rank) {
  for (size_t i = 0; i < t.size(); ++i)
    t.set(i, value(t.type, rank, i));
}

void checkType(Communicator &comm, ElementType type) {
  const int rank = comm.rank(), size = comm.size();
  const size_t n = 7;
  std::vector<ReduceOp> ops = {ReduceOp::Sum, ReduceOp::Min, ReduceOp::Max,
                               ReduceOp::Product};
  if (isFloating(type))
    ops.push_back(ReduceOp::Avg);
  for (ReduceOp op : ops) {
    std::string name = "all_reduce/" + std::to_string(int(op));
    Tensor t(type, n);
    fill(t, rank);
    comm.allReduce(t.buffer(), op);
    for (size_t i = 0; i < n; ++i)
      expect(name, t, i, reduceAll(type, op, size, i), rank);

    int root = size - 1;
    Tensor u(type, n);
    fill(u, rank);
    comm.reduce(u.buffer(), op, root);
    for (size_t i = 0; i < n; ++i)
      expect("reduce", u, i,
             rank == root ? reduceAll(type, op, size, i) : value(type, rank, i),
             rank);

    Tensor in(type, n * size), out(type, n);
    for (int r = 0; r < size; ++r)
      for (size_t i = 0; i < n; ++i)
        in.set(r * n + i, value(type, rank, r * n + i));
    comm.reduceScatter(in.buffer(), out.buffer(), op);
    for (size_t i = 0; i < n; ++i)
      expect("reduce_scatter", out, i,
             reduceAll(type, op, size, rank * n + i), rank);
  }

  Tensor b(type, n);
  fill(b, rank);
  comm.broadcast(b.buffer(), 1 % size);
  for (size_t i = 0; i < n; ++i)
    expect("broadcast", b, i, value(type, 1 % size, i), rank);

  Tensor mine(type, n), all(type, n * size);
  fill(mine, rank);
  comm.allGather(mine.buffer(), all.buffer());
  for (int r = 0; r < size; ++r)
    for (size_t i = 0; i < n; ++i)
      expect("all_gather", all, r * n + i, value(type, r, i), rank);

  Tensor gathered(type, n * size);
  comm.gather(mine.buffer(), gathered.buffer(), 0);
  if (rank == 0)
    for (int r = 0; r < size; ++r)
      for (size_t i = 0; i < n; ++i)
        expect("gather", gathered, r * n + i, value(type, r, i), rank);

  Tensor chunks(type, n * size), chunk(type, n);
  for (size_t i = 0; i < n * size; ++i)
    chunks.set(i, value(type, rank, i));
  comm.scatter(chunks.buffer(), chunk.buffer(), 0);
  for (size_t i = 0; i < n; ++i)
    expect("scatter", chunk, i, value(type, 0, rank * n + i), rank);

  // Equal splits: rank r sends its chunk p to p.
  Tensor sendAll(type, n * size), recvAll(type, n * size);
  for (size_t i = 0; i < n * size; ++i)
    sendAll.set(i, value(type, rank, i));
  comm.allToAll(sendAll.buffer(), recvAll.buffer(), {}, {});
  for (int r = 0; r < size; ++r)
    for (size_t i = 0; i < n; ++i)
      expect("all_to_all", recvAll, r * n + i, value(type, r, rank * n + i),
             rank);

  // Uneven splits: rank r sends (p + 1) elements to p, so receives r + 1
  // from everyone.
  std::vector<size_t> sendSplits, recvSplits(size, rank + 1);
  size_t total = 0;
  for (int p = 0; p < size; ++p) {
    sendSplits.push_back(p + 1);
    total += p + 1;
  }
  Tensor sendV(type, total), recvV(type, (rank + 1) * size);
  for (size_t i = 0; i < total; ++i)
    sendV.set(i, value(type, rank, i));
  comm.allToAll(sendV.buffer(), recvV.buffer(), sendSplits, recvSplits);
  size_t offsetInSender = 0; // where p's slice to us starts: sum_{q<rank} q+1
  for (int q = 0; q < rank; ++q)
    offsetInSender += q + 1;
  for (int r = 0; r < size; ++r)
    for (int i = 0; i <= rank; ++i)
      expect("all_to_all_v", recvV, r * (rank + 1) + i,
             value(type, r, offsetInSender + i), rank);

  // A ring of send/recv.
  Tensor ring(type, n), from(type, n);
  fill(ring, rank);
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  if (rank % 2 == 0) {
    comm.send(ring.buffer(), next, 5);
    comm.recv(from.buffer(), prev, 5);
  } else {
    comm.recv(from.buffer(), prev, 5);
    comm.send(ring.buffer(), next, 5);
  }
  for (size_t i = 0; i < n; ++i)
    expect("send/recv", from, i, value(type, prev, i), rank);
}

} // namespace

int main() {
  try {
    CommunicatorOptions options;
    options.backend = "mpi";
    std::unique_ptr<Communicator> comm = createMpiCommunicator(options);
    const ElementType types[] = {ElementType::Bool,     ElementType::Int32,
                                 ElementType::Int64,    ElementType::Float16,
                                 ElementType::BFloat16, ElementType::Float32,
                                 ElementType::Float64};
    for (ElementType type : types)
      checkType(*comm, type);
    comm->barrier();

    // new_group over ranks {0, last}: the middle ranks get nothing.
    int last = comm->size() - 1;
    std::unique_ptr<Communicator> pair = comm->split({0, last});
    bool member = comm->rank() == 0 || comm->rank() == last;
    if (member != (pair != nullptr)) {
      std::fprintf(stderr, "rank %d: split membership wrong\n", comm->rank());
      ++failures;
    }
    if (pair) {
      Tensor t(ElementType::Float32, 3);
      fill(t, comm->rank());
      pair->allReduce(t.buffer(), ReduceOp::Sum);
      for (size_t i = 0; i < 3; ++i)
        expect("split all_reduce", t, i,
               value(ElementType::Float32, 0, i) +
                   (last ? value(ElementType::Float32, last, i) : 0),
               comm->rank());
      if (pair->size() != (last ? 2 : 1))
        ++failures;
    }

    // Errors are CollectiveErrors naming the rank, not aborts.
    bool threw = false;
    try {
      Tensor t(ElementType::Int32, 2);
      comm->allReduce(t.buffer(), ReduceOp::Avg);
    } catch (const CollectiveError &error) {
      threw = std::string(error.what()).find("AVG") != std::string::npos;
    }
    if (!threw) {
      std::fprintf(stderr, "rank %d: AVG on int32 did not raise\n",
                   comm->rank());
      ++failures;
    }
    // Argument errors (the engines' shared messages) carry MPI's prefix and
    // are raised before any rank communicates.
    int n = comm->size();
    auto expectError = [&](const char *what, const std::string &wanted,
                           const std::function<void()> &call) {
      std::string got;
      try {
        call();
      } catch (const CollectiveError &error) {
        got = error.what();
      }
      std::string prefix = "mpi (rank " + std::to_string(comm->rank()) +
                           " of " + std::to_string(n) + "): ";
      if (got != prefix + wanted) {
        std::fprintf(stderr, "rank %d: %s raised \"%s\", expected \"%s%s\"\n",
                     comm->rank(), what, got.c_str(), prefix.c_str(),
                     wanted.c_str());
        ++failures;
      }
    };
    Tensor small(ElementType::Float32, 2);
    expectError("broadcast from a rank past the group",
                "broadcast: rank " + std::to_string(n) +
                    " is outside the group of " + std::to_string(n) + " ranks",
                [&] { comm->broadcast(small.buffer(), n); });
    expectError("all_gather into a short output",
                "all_gather: the output has 2 elements, expected " +
                    std::to_string(2 * n),
                [&] { comm->allGather(small.buffer(), small.buffer()); });
    comm->barrier();
    if (failures)
      return 1;
    std::printf("rank %d of %d: mpi collectives ok\n", comm->rank(),
                comm->size());
  } catch (const std::exception &error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
