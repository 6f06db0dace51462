//===- TensorConv.cpp - the convolution ops' bindings ---------------------===//

#include "TensorBindings.h"

#include <pybind11/stl.h>

namespace ember::python {

void bindConv(py::module_ &m) {
  // ember.nn.functional.conv*d / conv_transpose*d check the arguments with
  // torch's messages and resolve 'same' padding first.
  m.def(
      "_conv",
      [](const Tensor &input, const Tensor &weight,
         const std::vector<int64_t> &stride, const std::vector<int64_t> &padLow,
         const std::vector<int64_t> &padHigh,
         const std::vector<int64_t> &dilation, int64_t groups) {
        return conv(input, weight, stride, padLow, padHigh, dilation, groups);
      },
      py::arg("input"), py::arg("weight"), py::arg("stride"),
      py::arg("padding_low"), py::arg("padding_high"), py::arg("dilation"),
      py::arg("groups"));
  m.def(
      "_conv_transpose",
      [](const Tensor &input, const Tensor &weight,
         const std::vector<int64_t> &stride, const std::vector<int64_t> &padding,
         const std::vector<int64_t> &outputPadding,
         const std::vector<int64_t> &dilation, int64_t groups) {
        return convTranspose(input, weight, stride, padding, outputPadding,
                             dilation, groups);
      },
      py::arg("input"), py::arg("weight"), py::arg("stride"), py::arg("padding"),
      py::arg("output_padding"), py::arg("dilation"), py::arg("groups"));
}

} // namespace ember::python
