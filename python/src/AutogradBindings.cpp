//===- AutogradBindings.cpp - requires_grad, grad, backward ---------------===//
//
// A tensor's autograd state and ember.autograd.grad, bound in C++ so that
// their errors surface at the caller's line.
//
//===----------------------------------------------------------------------===//

#include "TensorBindings.h"

#include <pybind11/stl.h>

namespace ember::python {

void bindAutograd(py::module_ &m, py::class_<Tensor> &cls) {
  cls.def_property(
      "requires_grad", [](const Tensor &x) { return x.requiresGrad(); },
      [](const Tensor &x, bool flag) { setRequiresGrad(x, flag); });
  cls.def("requires_grad_",
          [](py::handle self, bool flag) {
            const Tensor &x = self.cast<const Tensor &>();
            // torch: a no-op on a non-leaf that already requires grad.
            if (!(flag && !x.isLeaf() && x.requiresGrad()))
              setRequiresGrad(x, flag);
            return py::reinterpret_borrow<py::object>(self);
          },
          py::arg("requires_grad") = true);
  cls.def_property_readonly("is_leaf", &Tensor::isLeaf);
  cls.def_property_readonly("grad_fn", [](const Tensor &x) -> py::object {
    std::string name = gradFnName(x);
    if (name.empty())
      return py::none();
    static py::handle type = leak(py::module_::import("ember._size").attr("GradFn"));
    return type(name);
  });
  cls.def_property(
      "grad",
      [](const Tensor &x) -> py::object {
        if (!x.impl->grad)
          return py::none();
        return py::cast(Tensor(x.impl->grad));
      },
      [](const Tensor &x, py::handle value) {
        if (value.is_none()) {
          x.impl->grad.reset();
          return;
        }
        const Tensor &grad = value.cast<const Tensor &>();
        if (grad.shape() != x.shape())
          throwError(Error::Kind::Runtime,
                     "assigned grad has data of a different size (grad shape " +
                         shapeString(grad.shape()) + ", tensor shape " +
                         shapeString(x.shape()) + ")");
        if (grad.dtype() != x.dtype())
          throwError(Error::Kind::Type,
                     "assigned grad has data of a different type");
        x.impl->grad = grad.impl;
      });
  cls.def("backward",
          [](const Tensor &x, py::handle gradient, py::handle retainGraph,
             bool createGraph) {
            std::optional<Tensor> seed;
            if (!gradient.is_none())
              seed = gradient.cast<Tensor>();
            bool retain = retainGraph.is_none() ? createGraph
                                                : retainGraph.cast<bool>();
            backward(x, seed, retain, createGraph);
          },
          py::arg("gradient") = py::none(), py::arg("retain_graph") = py::none(),
          py::arg("create_graph") = false);
  m.def("is_grad_enabled", [] { return gradEnabled(); });
  m.def("_set_grad_enabled", [](bool enabled) { setGradEnabled(enabled); });
  // ember.autograd.grad, bound in C++ so that its errors surface at the
  // caller's line.
  m.def(
      "_autograd_grad",
      [](py::handle outputs, py::handle inputs, py::handle gradOutputs,
         py::handle retainGraph, bool createGraph, bool allowUnused) {
        auto tensors = [](py::handle object) {
          std::vector<Tensor> result;
          if (py::isinstance<Tensor>(object))
            result.push_back(object.cast<Tensor>());
          else
            for (py::handle item : py::reinterpret_borrow<py::iterable>(object))
              result.push_back(item.cast<Tensor>());
          return result;
        };
        std::vector<Tensor> outs = tensors(outputs), ins = tensors(inputs);
        std::vector<std::optional<Tensor>> seeds(outs.size());
        if (!gradOutputs.is_none()) {
          std::vector<py::handle> items;
          if (py::isinstance<Tensor>(gradOutputs))
            items.push_back(gradOutputs);
          else
            for (py::handle item :
                 py::reinterpret_borrow<py::iterable>(gradOutputs))
              items.push_back(item);
          if (items.size() != outs.size())
            throwError(Error::Kind::Runtime,
                       "grad requires one grad_output per output: got " +
                           std::to_string(items.size()) + " for " +
                           std::to_string(outs.size()) + " outputs");
          for (size_t i = 0; i < items.size(); ++i)
            if (!items[i].is_none())
              seeds[i] = items[i].cast<Tensor>();
        }
        bool retain =
            retainGraph.is_none() ? createGraph : retainGraph.cast<bool>();
        py::tuple result(ins.size());
        std::vector<std::optional<Tensor>> grads =
            gradients(outs, ins, seeds, retain, createGraph, allowUnused);
        for (size_t i = 0; i < grads.size(); ++i)
          result[i] = grads[i] ? py::cast(*grads[i]) : py::none();
        return result;
      },
      py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs") = py::none(),
      py::arg("retain_graph") = py::none(), py::arg("create_graph") = false,
      py::arg("allow_unused") = false);
}

} // namespace ember::python
