//===- CustomFunctionBindings.cpp - autograd.Function's backward trace ----===//
//
// `ember._ember._CustomFunctionTrace`, which python/ember/_function.py
// opens around a Function's backward (see ember/Frontend/CustomFunction.h).
//
//===----------------------------------------------------------------------===//

#include "TensorBindings.h"

#include "ember/Frontend/CustomFunction.h"

#include <pybind11/stl.h>

namespace ember::python {

void bindCustomFunction(py::module_ &m) {
  py::class_<CustomFunctionTrace>(m, "_CustomFunctionTrace")
      .def(py::init<std::vector<Tensor>, std::vector<Tensor>>(), py::arg("primals"),
           py::arg("outputs"))
      .def("cotangents", &CustomFunctionTrace::cotangents)
      .def("finish", [](CustomFunctionTrace &trace,
                        const std::vector<std::optional<Tensor>> &gradients,
                        const std::vector<bool> &differentiable, std::string name) {
        llvm::SmallVector<bool, 4> flags(differentiable.begin(), differentiable.end());
        trace.finish(gradients, flags, std::move(name));
      }, py::arg("gradients"), py::arg("differentiable"), py::arg("name"))
      .def("abandon", &CustomFunctionTrace::abandon);
}

} // namespace ember::python
