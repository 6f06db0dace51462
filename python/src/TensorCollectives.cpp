//===- TensorCollectives.cpp - collectives as graph ops: bindings ---------===//
//
// ember.distributed's graph collectives (python/ember/distributed/_graph.py):
// `_all_reduce` traces one ember.all_reduce node on a pending CPU tensor, so
// that the collective runs inside the compiled program, through the runtime's
// process-group table (ProcessGroups.h) that the Python API fills.
//
//===----------------------------------------------------------------------===//

#include "TensorBindings.h"

#include "ember/Runtime/MpiBackend.h"
#include "ember/Runtime/NcclBackend.h"
#include "ember/Runtime/ProcessGroups.h"

namespace ember::python {

void bindCollectives(py::module_ &m) {
  m.def(
      "_all_reduce",
      [](const Tensor &input, int64_t reduceOp, int64_t group) {
        return allReduce(input, reduceOp, group);
      },
      py::arg("input"), py::arg("reduce_op"), py::arg("group"));
  // Whether the tensor's value is still a pending graph node (not yet
  // computed): then a collective on it can join its program.
  m.def("_is_pending",
        [](const Tensor &x) { return static_cast<bool>(x.storage().pending); });
  // The whole world of an mpirun job as a registered process group (its
  // number): the graph op's tests use it without the Python API.
  m.def("_mpi_world_group", [] {
    dist::CommunicatorOptions options;
    options.backend = "mpi";
    std::shared_ptr<dist::Communicator> world =
        dist::createMpiCommunicator(options);
    return py::make_tuple(dist::registerGroup(world), world->rank(),
                          world->size());
  });
  m.def("_unregister_group",
        [](int id) { dist::unregisterGroup(id); }, py::arg("group"));
  // Why the nccl engine cannot run here ("" when it can).
  m.def("_nccl_unavailable_reason",
        [] { return dist::ncclUnavailableReason(false); });
}

} // namespace ember::python
