//===- TensorAttention.cpp - the attention op's binding -------------------===//

#include "TensorBindings.h"

namespace ember::python {

void bindAttention(py::module_ &m) {
  // ember.nn.functional.scaled_dot_product_attention broadcasts the batch
  // dims, turns a bool mask into 0/-inf and picks the scale first.
  m.def(
      "_attention",
      [](const Tensor &q, const Tensor &k, const Tensor &v, py::handle mask,
         bool causal, double scale) {
        std::optional<Tensor> m;
        if (!mask.is_none())
          m = mask.cast<Tensor>();
        return attention(q, k, v, m ? &*m : nullptr, causal, scale);
      },
      py::arg("query"), py::arg("key"), py::arg("value"), py::arg("mask"),
      py::arg("is_causal"), py::arg("scale"));
}

} // namespace ember::python
