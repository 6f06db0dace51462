//===- MpiNcclRegistration.cpp - register the mpi/nccl/rccl engines -------===//
//
// Adds "mpi", "nccl" and "rccl" to the engine table at load time (the
// library is alwayslink). Registering costs nothing: each engine opens its
// library (libmpi.so.40, libnccl.so.2, librccl.so.1) only when a process
// group is created, and a missing one is a CollectiveError that names it.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/MpiBackend.h"
#include "ember/Runtime/NcclBackend.h"

namespace ember::dist {
namespace {

const bool registered = [] {
  registerBackend("mpi", createMpiCommunicator);
  registerBackend("nccl", createNcclCommunicator);
  registerBackend("rccl", createRcclCommunicator);
  return true;
}();

} // namespace
} // namespace ember::dist
