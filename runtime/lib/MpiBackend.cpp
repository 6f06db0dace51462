//===- MpiBackend.cpp - the "mpi" engine over Open MPI --------------------===//
//
// ember::dist::Communicator over Open MPI 4.1 (Debian's libopenmpi-dev),
// launched by `mpirun`, which gives every process its rank and the world's
// size: no store, no rendezvous of ours.
//
// libmpi.so.40 is opened with dlopen (RTLD_GLOBAL: Open MPI's plugins
// resolve symbols of libmpi itself) rather than linked, so that Ember
// imports and runs where Open MPI is absent and only the "mpi" backend
// fails, saying what to install. mpi.h supplies the types and prototypes
// (each function pointer is declared as decltype(&MPI_X)); its predefined
// handles are addresses of libmpi's globals (MPI_COMM_WORLD is
// &ompi_mpi_comm_world), which we look up with dlsym as well. This ties the
// engine to Open MPI's ABI (libmpi.so.40), which is the one Debian ships.
//
// Threads: MPI_Init_thread asks for MPI_THREAD_MULTIPLE because collectives
// run on the caller's thread and on runAsync's worker (async_op=True) at
// once. Where the library gives less (SERIALIZED), every MPI call holds one
// process-wide mutex instead.
//
// Errors: every communicator uses MPI_ERRORS_RETURN, and a failing call
// throws CollectiveError with MPI's message and the rank. bf16 and f16 have
// no MPI type: they travel as MPI_UINT16_T with user-defined reduction ops.
// ReduceOp::Avg is a sum then a division by the group's size.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CollectiveChecks.h"
#include "ember/Runtime/Collectives.h"
#include "ember/Runtime/MpiBackend.h"

// Open MPI's C API only (its deprecated C++ bindings are not wanted).
#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

#include <dlfcn.h>

#include <climits>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>

namespace ember::dist {
namespace {

//===- The library ------------------------------------------------------===//

#define EMBER_MPI_FUNCTIONS(X)                                                 \
  X(MPI_Initialized) X(MPI_Finalized) X(MPI_Init_thread) X(MPI_Finalize)      \
  X(MPI_Comm_rank) X(MPI_Comm_size) X(MPI_Comm_dup) X(MPI_Comm_free)          \
  X(MPI_Comm_group) X(MPI_Group_incl) X(MPI_Group_free)                       \
  X(MPI_Comm_create_group) X(MPI_Comm_set_errhandler) X(MPI_Error_string)     \
  X(MPI_Op_create) X(MPI_Allreduce) X(MPI_Bcast) X(MPI_Reduce)                \
  X(MPI_Allgather) X(MPI_Reduce_scatter_block) X(MPI_Gather) X(MPI_Scatter)   \
  X(MPI_Alltoall) X(MPI_Alltoallv) X(MPI_Send) X(MPI_Recv) X(MPI_Barrier)

/// libmpi's functions and predefined handles, opened once.
struct MpiLibrary {
#define EMBER_MPI_POINTER(name) decltype(&::name) name = nullptr;
  EMBER_MPI_FUNCTIONS(EMBER_MPI_POINTER)
#undef EMBER_MPI_POINTER
  MPI_Comm commWorld = nullptr;
  MPI_Errhandler errorsReturn = nullptr;
  MPI_Datatype boolType, int32Type, int64Type, uint16Type, floatType,
      doubleType;
  MPI_Op sum, min, max, prod, lor, land;
  /// User-defined ops over uint16 words: [0] f16, [1] bf16; by ReduceOp.
  MPI_Op halfOps[2][5] = {};
  bool multiple = false;
  std::mutex serial;
  bool weInitialized = false;

  static MpiLibrary &get();

private:
  MpiLibrary();
};

std::string openError() {
  const char *message = dlerror();
  return message ? message : "unknown error";
}

template <typename T> T handle(void *library, const char *name) {
  void *symbol = dlsym(library, name);
  if (!symbol)
    throw CollectiveError(std::string("mpi: libmpi.so.40 lacks ") + name +
                          " (is it Open MPI 4?)");
  return reinterpret_cast<T>(symbol);
}

//===- bf16/f16 reductions (no MPI type has them) -----------------------===//

template <bool Brain> float toFloat(uint16_t v) {
  return Brain ? bfloat16ToFloat(v) : halfToFloat(v);
}
template <bool Brain> uint16_t fromFloat(float v) {
  return Brain ? floatToBFloat16(v) : floatToHalf(v);
}

template <bool Brain, ReduceOp Op>
void halfReduce(void *in, void *inout, int *len, MPI_Datatype *) {
  auto *a = static_cast<const uint16_t *>(in);
  auto *b = static_cast<uint16_t *>(inout);
  for (int i = 0; i < *len; ++i) {
    float x = toFloat<Brain>(a[i]), y = toFloat<Brain>(b[i]), r;
    switch (Op) {
    case ReduceOp::Min:
      r = std::fmin(x, y);
      break;
    case ReduceOp::Max:
      r = std::fmax(x, y);
      break;
    case ReduceOp::Product:
      r = x * y;
      break;
    default: // Sum, Avg (scaled afterwards)
      r = x + y;
    }
    b[i] = fromFloat<Brain>(r);
  }
}

template <bool Brain> void createHalfOps(MpiLibrary &mpi, MPI_Op *ops) {
  MPI_User_function *functions[] = {
      halfReduce<Brain, ReduceOp::Sum>, halfReduce<Brain, ReduceOp::Avg>,
      halfReduce<Brain, ReduceOp::Min>, halfReduce<Brain, ReduceOp::Max>,
      halfReduce<Brain, ReduceOp::Product>};
  for (int i = 0; i < 5; ++i)
    mpi.MPI_Op_create(functions[i], /*commute=*/1, &ops[i]);
}

MpiLibrary::MpiLibrary() {
  // RTLD_GLOBAL: Open MPI's components (mca_*.so) use libmpi's symbols.
  void *library = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL);
  if (!library)
    throw CollectiveError(
        "mpi: cannot load Open MPI (libmpi.so.40): " + openError() +
        "; install it (Debian: apt install libopenmpi-dev openmpi-bin) and "
        "launch with mpirun");
#define EMBER_MPI_LOAD(name) name = handle<decltype(name)>(library, #name);
  EMBER_MPI_FUNCTIONS(EMBER_MPI_LOAD)
#undef EMBER_MPI_LOAD
  commWorld = handle<MPI_Comm>(library, "ompi_mpi_comm_world");
  errorsReturn = handle<MPI_Errhandler>(library, "ompi_mpi_errors_return");
  boolType = handle<MPI_Datatype>(library, "ompi_mpi_c_bool");
  int32Type = handle<MPI_Datatype>(library, "ompi_mpi_int32_t");
  int64Type = handle<MPI_Datatype>(library, "ompi_mpi_int64_t");
  uint16Type = handle<MPI_Datatype>(library, "ompi_mpi_uint16_t");
  floatType = handle<MPI_Datatype>(library, "ompi_mpi_float");
  doubleType = handle<MPI_Datatype>(library, "ompi_mpi_double");
  sum = handle<MPI_Op>(library, "ompi_mpi_op_sum");
  min = handle<MPI_Op>(library, "ompi_mpi_op_min");
  max = handle<MPI_Op>(library, "ompi_mpi_op_max");
  prod = handle<MPI_Op>(library, "ompi_mpi_op_prod");
  lor = handle<MPI_Op>(library, "ompi_mpi_op_lor");
  land = handle<MPI_Op>(library, "ompi_mpi_op_land");

  int initialized = 0, finalized = 0, provided = MPI_THREAD_SINGLE;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized)
    throw CollectiveError("mpi: MPI was finalized in this process already");
  if (!initialized) {
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided) !=
        MPI_SUCCESS)
      throw CollectiveError("mpi: MPI_Init_thread failed (run under mpirun)");
    weInitialized = true;
    // MPI is initialized once per process; finalize it at exit, after
    // every communicator is gone (a new init_process_group may follow a
    // destroy_process_group).
    std::atexit([] {
      MpiLibrary &mpi = MpiLibrary::get();
      int done = 0;
      mpi.MPI_Finalized(&done);
      if (!done)
        mpi.MPI_Finalize();
    });
  } else {
    // Someone else (mpi4py) initialized it: use what they asked for.
    provided = MPI_THREAD_SINGLE;
    if (auto query = reinterpret_cast<int (*)(int *)>(
            dlsym(library, "MPI_Query_thread")))
      query(&provided);
  }
  if (provided < MPI_THREAD_SERIALIZED)
    throw CollectiveError(
        "mpi: the MPI library gives thread level " + std::to_string(provided) +
        ", and Ember needs MPI_THREAD_SERIALIZED at least");
  multiple = provided >= MPI_THREAD_MULTIPLE;
  createHalfOps<false>(*this, halfOps[0]);
  createHalfOps<true>(*this, halfOps[1]);
}

MpiLibrary &MpiLibrary::get() {
  // A failed load throws out of the initializer; the next call retries
  // (and fails the same way, with the same message).
  static MpiLibrary library;
  return library;
}

//===- The communicator -------------------------------------------------===//

const char *reduceOpName(ReduceOp op) {
  switch (op) {
  case ReduceOp::Sum:
    return "sum";
  case ReduceOp::Avg:
    return "avg";
  case ReduceOp::Min:
    return "min";
  case ReduceOp::Max:
    return "max";
  case ReduceOp::Product:
    return "product";
  }
  return "?";
}

class MpiCommunicator final : public Communicator, private RankedChecks {
public:
  /// Takes ownership of `comm` (a duplicate: our traffic never meets the
  /// user's own MPI messages). `globalRanks[r]`: world rank of rank r.
  MpiCommunicator(MPI_Comm comm, std::vector<int> globalRanks)
      : RankedChecks("mpi", 0, 1), mpi_(MpiLibrary::get()), comm_(comm),
        globalRanks_(std::move(globalRanks)) {
    call("MPI_Comm_set_errhandler",
         mpi_.MPI_Comm_set_errhandler(comm_, mpi_.errorsReturn));
    call("MPI_Comm_rank", mpi_.MPI_Comm_rank(comm_, &rank_));
    call("MPI_Comm_size", mpi_.MPI_Comm_size(comm_, &size_));
  }

  ~MpiCommunicator() override {
    int finalized = 0;
    mpi_.MPI_Finalized(&finalized);
    if (!finalized)
      mpi_.MPI_Comm_free(&comm_);
  }

  const char *backendName() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void allReduce(Buffer buffer, ReduceOp op) override {
    host(buffer, "all_reduce");
    call("MPI_Allreduce", lock([&] {
           return mpi_.MPI_Allreduce(MPI_IN_PLACE, buffer.data,
                                     count(buffer), type(buffer),
                                     reduction(buffer.type, op), comm_);
         }));
    finishAverage(buffer, op);
  }

  void broadcast(Buffer buffer, int root) override {
    host(buffer, "broadcast");
    checkRank(root, "broadcast");
    call("MPI_Bcast", lock([&] {
           return mpi_.MPI_Bcast(buffer.data, count(buffer), type(buffer),
                                 root, comm_);
         }));
  }

  void reduce(Buffer buffer, ReduceOp op, int root) override {
    host(buffer, "reduce");
    checkRank(root, "reduce");
    bool atRoot = rank_ == root;
    call("MPI_Reduce", lock([&] {
           return mpi_.MPI_Reduce(atRoot ? MPI_IN_PLACE : buffer.data,
                                  atRoot ? buffer.data : nullptr,
                                  count(buffer), type(buffer),
                                  reduction(buffer.type, op), root, comm_);
         }));
    if (atRoot)
      finishAverage(buffer, op);
  }

  void allGather(Buffer input, Buffer output) override {
    host(input, "all_gather");
    host(output, "all_gather");
    expectSizes(output, input.numElements * size_, "all_gather", "output");
    call("MPI_Allgather", lock([&] {
           return mpi_.MPI_Allgather(input.data, count(input), type(input),
                                     output.data, count(input), type(output),
                                     comm_);
         }));
  }

  void reduceScatter(Buffer input, Buffer output, ReduceOp op) override {
    host(input, "reduce_scatter");
    host(output, "reduce_scatter");
    expectSizes(input, output.numElements * size_, "reduce_scatter", "input");
    call("MPI_Reduce_scatter_block", lock([&] {
           return mpi_.MPI_Reduce_scatter_block(
               input.data, output.data, count(output), type(output),
               reduction(output.type, op), comm_);
         }));
    finishAverage(output, op);
  }

  void gather(Buffer input, Buffer output, int root) override {
    host(input, "gather");
    checkRank(root, "gather");
    bool atRoot = rank_ == root;
    if (atRoot) {
      host(output, "gather");
      expectSizes(output, input.numElements * size_, "gather", "output");
    }
    call("MPI_Gather", lock([&] {
           return mpi_.MPI_Gather(input.data, count(input), type(input),
                                  atRoot ? output.data : nullptr,
                                  count(input), type(input), root, comm_);
         }));
  }

  void scatter(Buffer input, Buffer output, int root) override {
    host(output, "scatter");
    checkRank(root, "scatter");
    bool atRoot = rank_ == root;
    if (atRoot) {
      host(input, "scatter");
      expectSizes(input, output.numElements * size_, "scatter", "input");
    }
    call("MPI_Scatter", lock([&] {
           return mpi_.MPI_Scatter(atRoot ? input.data : nullptr,
                                   count(output), type(output), output.data,
                                   count(output), type(output), root, comm_);
         }));
  }

  void allToAll(Buffer input, Buffer output,
                const std::vector<size_t> &inputSplits,
                const std::vector<size_t> &outputSplits) override {
    host(input, "all_to_all");
    host(output, "all_to_all");
    if (inputSplits.empty() && outputSplits.empty()) {
      if (input.numElements % size_ || output.numElements != input.numElements)
        throw error("all_to_all: " + std::to_string(input.numElements) +
                    " input and " + std::to_string(output.numElements) +
                    " output elements do not split equally over " +
                    std::to_string(size_) + " ranks");
      Buffer chunk = input;
      chunk.numElements = input.numElements / size_;
      call("MPI_Alltoall", lock([&] {
             return mpi_.MPI_Alltoall(input.data, count(chunk), type(input),
                                      output.data, count(chunk), type(output),
                                      comm_);
           }));
      return;
    }
    std::vector<int> sendCounts, sendOffsets, recvCounts, recvOffsets;
    splitCounts(input, inputSplits, sendCounts, sendOffsets, "input");
    splitCounts(output, outputSplits, recvCounts, recvOffsets, "output");
    call("MPI_Alltoallv", lock([&] {
           return mpi_.MPI_Alltoallv(input.data, sendCounts.data(),
                                     sendOffsets.data(), type(input),
                                     output.data, recvCounts.data(),
                                     recvOffsets.data(), type(output), comm_);
         }));
  }

  void send(Buffer buffer, int peer, int tag) override {
    host(buffer, "send");
    checkRank(peer, "send");
    call("MPI_Send", lock([&] {
           return mpi_.MPI_Send(buffer.data, count(buffer), type(buffer), peer,
                                tag, comm_);
         }));
  }

  void recv(Buffer buffer, int peer, int tag) override {
    host(buffer, "recv");
    checkRank(peer, "recv");
    call("MPI_Recv", lock([&] {
           return mpi_.MPI_Recv(buffer.data, count(buffer), type(buffer), peer,
                                tag, comm_, MPI_STATUS_IGNORE);
         }));
  }

  void barrier() override {
    call("MPI_Barrier", lock([&] { return mpi_.MPI_Barrier(comm_); }));
  }

  std::unique_ptr<Communicator> split(const std::vector<int> &ranks) override {
    // `ranks` are world ranks; MPI_Group_incl wants ours.
    std::vector<int> local;
    int self = -1;
    for (int global : ranks) {
      int r = 0;
      while (r < size_ && globalRanks_[r] != global)
        ++r;
      if (r == size_)
        throw error("new_group: rank " + std::to_string(global) +
                    " is not in this group");
      if (r == rank_)
        self = static_cast<int>(local.size());
      local.push_back(r);
    }
    // MPI_Comm_create_group is collective over the new group's members
    // only: the others have nothing to do.
    if (self < 0)
      return nullptr;
    MPI_Group all = nullptr, part = nullptr;
    MPI_Comm comm = nullptr;
    call("MPI_Comm_group", mpi_.MPI_Comm_group(comm_, &all));
    call("MPI_Group_incl", mpi_.MPI_Group_incl(all, static_cast<int>(
                                                       local.size()),
                                               local.data(), &part));
    int rc = lock([&] {
      return mpi_.MPI_Comm_create_group(comm_, part, /*tag=*/0, &comm);
    });
    mpi_.MPI_Group_free(&part);
    mpi_.MPI_Group_free(&all);
    call("MPI_Comm_create_group", rc);
    std::vector<int> globals;
    for (int r : local)
      globals.push_back(globalRanks_[r]);
    return std::make_unique<MpiCommunicator>(comm, std::move(globals));
  }

private:
  template <typename F> int lock(F &&function) {
    if (mpi_.multiple)
      return function();
    std::lock_guard<std::mutex> guard(mpi_.serial);
    return function();
  }

  void call(const char *what, int rc) const {
    if (rc == MPI_SUCCESS)
      return;
    char text[MPI_MAX_ERROR_STRING] = {};
    int length = 0;
    mpi_.MPI_Error_string(rc, text, &length);
    throw error(std::string(what) + " failed: " + std::string(text, length));
  }

  void host(const Buffer &buffer, const char *what) const {
    if (buffer.memory != MemoryKind::Host)
      throw error(std::string(what) +
                  ": the mpi backend takes CPU tensors only (use nccl for "
                  "CUDA tensors)");
  }

  int count(const Buffer &buffer) const {
    if (buffer.numElements > static_cast<size_t>(INT_MAX))
      throw error("a buffer of " + std::to_string(buffer.numElements) +
                  " elements is more than MPI's int count allows");
    return static_cast<int>(buffer.numElements);
  }

  MPI_Datatype type(const Buffer &buffer) const {
    switch (buffer.type) {
    case ElementType::Bool:
      return mpi_.boolType;
    case ElementType::Int32:
      return mpi_.int32Type;
    case ElementType::Int64:
      return mpi_.int64Type;
    case ElementType::Float16:
    case ElementType::BFloat16:
      return mpi_.uint16Type;
    case ElementType::Float32:
      return mpi_.floatType;
    case ElementType::Float64:
      return mpi_.doubleType;
    }
    throw error("unsupported element type");
  }

  MPI_Op reduction(ElementType elementType, ReduceOp op) const {
    if (op == ReduceOp::Avg && !isFloating(elementType))
      throw error(std::string("ReduceOp.AVG needs a floating dtype, got ") +
                  elementTypeName(elementType));
    if (elementType == ElementType::Float16 ||
        elementType == ElementType::BFloat16)
      return mpi_.halfOps[elementType == ElementType::BFloat16]
                         [static_cast<int>(op)];
    if (elementType == ElementType::Bool) // torch: sum/max = or, min/prod = and
      return op == ReduceOp::Sum || op == ReduceOp::Max ? mpi_.lor : mpi_.land;
    switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Avg:
      return mpi_.sum;
    case ReduceOp::Min:
      return mpi_.min;
    case ReduceOp::Max:
      return mpi_.max;
    case ReduceOp::Product:
      return mpi_.prod;
    }
    throw error(std::string("unsupported reduce op ") + reduceOpName(op));
  }

  /// AVG = SUM / size, in the buffer's own type.
  void finishAverage(Buffer buffer, ReduceOp op) const {
    if (op != ReduceOp::Avg)
      return;
    size_t n = buffer.numElements;
    switch (buffer.type) {
    case ElementType::Float32: {
      auto *p = static_cast<float *>(buffer.data);
      for (size_t i = 0; i < n; ++i)
        p[i] /= static_cast<float>(size_);
      break;
    }
    case ElementType::Float64: {
      auto *p = static_cast<double *>(buffer.data);
      for (size_t i = 0; i < n; ++i)
        p[i] /= static_cast<double>(size_);
      break;
    }
    case ElementType::Float16: {
      auto *p = static_cast<uint16_t *>(buffer.data);
      for (size_t i = 0; i < n; ++i)
        p[i] = floatToHalf(halfToFloat(p[i]) / static_cast<float>(size_));
      break;
    }
    case ElementType::BFloat16: {
      auto *p = static_cast<uint16_t *>(buffer.data);
      for (size_t i = 0; i < n; ++i)
        p[i] = floatToBFloat16(bfloat16ToFloat(p[i]) /
                               static_cast<float>(size_));
      break;
    }
    default:
      break;
    }
  }

  void splitCounts(const Buffer &buffer, const std::vector<size_t> &splits,
                   std::vector<int> &counts, std::vector<int> &offsets,
                   const char *what) const {
    std::vector<size_t> sizes = splits;
    if (sizes.empty()) {
      if (buffer.numElements % size_)
        throw error(std::string("all_to_all: the ") + what + "'s " +
                    std::to_string(buffer.numElements) +
                    " elements do not split equally over " +
                    std::to_string(size_) + " ranks");
      sizes.assign(size_, buffer.numElements / size_);
    }
    if (sizes.size() != static_cast<size_t>(size_))
      throw error(std::string("all_to_all: ") + std::to_string(sizes.size()) +
                  " " + what + " splits for " + std::to_string(size_) +
                  " ranks");
    size_t total = 0;
    for (size_t s : sizes) {
      if (total + s > static_cast<size_t>(INT_MAX))
        throw error("all_to_all: more elements than MPI's int counts allow");
      offsets.push_back(static_cast<int>(total));
      counts.push_back(static_cast<int>(s));
      total += s;
    }
    if (total != buffer.numElements)
      throw error(std::string("all_to_all: the ") + what +
                  " splits add up to " + std::to_string(total) +
                  " elements, the buffer has " +
                  std::to_string(buffer.numElements));
  }

  MpiLibrary &mpi_;
  MPI_Comm comm_;
  std::vector<int> globalRanks_;
};

} // namespace

std::unique_ptr<Communicator>
createMpiCommunicator(const CommunicatorOptions &options) {
  MpiLibrary &mpi = MpiLibrary::get();
  MPI_Comm world = nullptr;
  // A duplicate of MPI_COMM_WORLD per process group: its messages never
  // match the user's own (mpi4py) traffic or another group's.
  int rc = mpi.MPI_Comm_dup(mpi.commWorld, &world);
  if (rc != MPI_SUCCESS)
    throw CollectiveError("mpi: MPI_Comm_dup(MPI_COMM_WORLD) failed");
  int rank = 0, size = 0;
  mpi.MPI_Comm_rank(world, &rank);
  mpi.MPI_Comm_size(world, &size);
  // init_process_group may name rank and world_size too; they must agree
  // with what mpirun said.
  if ((options.rank >= 0 && options.rank != rank) ||
      (options.worldSize >= 0 && options.worldSize != size)) {
    mpi.MPI_Comm_free(&world);
    throw CollectiveError(
        "mpi: init_process_group asked for rank " +
        std::to_string(options.rank) + " of " +
        std::to_string(options.worldSize) + ", but mpirun started rank " +
        std::to_string(rank) + " of " + std::to_string(size));
  }
  std::vector<int> globals(size);
  for (int r = 0; r < size; ++r)
    globals[r] = r;
  return std::make_unique<MpiCommunicator>(world, std::move(globals));
}

namespace {
// "mpi" in the engine table (alwayslink): registering costs nothing, the
// library opens when a group is created.
const bool registered =
    (registerBackend("mpi", createMpiCommunicator), true);
} // namespace

} // namespace ember::dist
