//===- TensorCollectives.cpp - collectives as graph ops: bindings ---------===//
//
// ember.distributed's graph collectives (python/ember/distributed/_graph.py):
// `_all_reduce` traces one ember.all_reduce node on a pending CPU tensor, so
// that the collective runs inside the compiled program, through the runtime's
// process-group table (ProcessGroups.h) that the Python API fills.
//
//===----------------------------------------------------------------------===//

#include "TensorBindings.h"

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
  // Why the nccl engine cannot run here ("" when it can).
  m.def("_nccl_unavailable_reason",
        [] { return dist::ncclUnavailableReason(false); });
}

} // namespace ember::python
