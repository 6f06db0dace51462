//===- TensorCustomOps.cpp - C++ custom ops' bindings ---------------------===//
//
// The registry and the tracer of custom ops; python/ember/ops.py and
// python/ember/utils/cpp_extension.py build the public API on these.
//
//===----------------------------------------------------------------------===//

#include "TensorBindings.h"

#include "ember/Frontend/CustomOps.h"
#include "ember/Runtime/CustomOpRegistry.h"

#include <pybind11/stl.h>

#include <stdexcept>

namespace ember::python {

void bindCustomOps(py::module_ &m) {
  m.def("_load_custom_op_library", [](const std::string &path) {
    try {
      return loadCustomOpLibrary(path);
    } catch (const std::runtime_error &error) {
      throw py::value_error(error.what());
    }
  });
  m.def("_custom_op_names", &customOpNames);
  m.def("_custom_op_info", [](const std::string &name) -> py::object {
    const CustomOpInfo *op = findCustomOp(name);
    if (!op)
      return py::none();
    py::dict info;
    info["name"] = op->name;
    info["library"] = op->library;
    info["num_inputs"] = op->numInputs;
    info["num_outputs"] = op->numOutputs;
    info["attr_names"] = op->attrNames;
    info["attr_defaults"] = op->attrDefaults;
    info["backward"] = op->backward;
    info["has_vulkan"] = op->hasVulkan;
    info["has_cuda"] = op->hasCuda;
    return std::move(info);
  });
  m.def("_custom_op",
        [](const std::string &name, const std::vector<Tensor> &inputs,
           const std::vector<double> &attrs) {
          // One tensor, or a tuple for an op with several outputs.
          std::vector<Tensor> outputs = customOp(name, inputs, attrs);
          if (outputs.size() == 1)
            return py::cast(outputs[0]);
          py::tuple result(outputs.size());
          for (size_t k = 0; k < outputs.size(); ++k)
            result[k] = py::cast(outputs[k]);
          return py::object(std::move(result));
        },
        py::arg("name"), py::arg("inputs"), py::arg("attrs"));
}

} // namespace ember::python
