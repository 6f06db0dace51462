//===- MpiBackend.h - the "mpi" engine (Open MPI) ---------------*- C++ -*-===//
//
// The Open MPI engine behind init_process_group("mpi"): rank and size come
// from mpirun. libmpi.so.40 is opened with dlopen on first use, so nothing
// of Ember depends on Open MPI until this is called; a missing library is a
// CollectiveError that says what to install.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_MPIBACKEND_H
#define EMBER_RUNTIME_MPIBACKEND_H

#include "ember/Runtime/Collectives.h"

namespace ember::dist {

/// A communicator over all the processes mpirun started (a duplicate of
/// MPI_COMM_WORLD). `options.rank`/`worldSize`, where set, must match
/// mpirun's. MPI is initialized (MPI_THREAD_MULTIPLE asked) on first use and
/// finalized at exit.
std::unique_ptr<Communicator>
createMpiCommunicator(const CommunicatorOptions &options);

} // namespace ember::dist

#endif // EMBER_RUNTIME_MPIBACKEND_H
