//===- SharedMemoryBindings.cpp - shared tensors --------------------------===//
//
// Tensor.share_memory_() and is_shared(), and the two halves that
// ember.multiprocessing's reductions use to send a storage by descriptor.
//
//===----------------------------------------------------------------------===//

#include "TensorBindings.h"

#include "ember/Frontend/SharedStorage.h"
#include "ember/Runtime/SharedMemory.h"

#include <pybind11/stl.h>

namespace ember::python {

void bindSharedMemory(py::module_ &m, py::class_<Tensor> &cls) {
  cls.def("share_memory_",
          [](py::object self) {
            shareMemory(self.cast<const Tensor &>());
            return self;
          })
      .def("is_shared", &isShared)
      // (fd, bytes, dtype, storage shape); the fd stays the storage's.
      .def("_shared_storage_handle", [](const Tensor &x) {
        SharedStorageHandle handle = sharedStorageHandle(x);
        return py::make_tuple(
            handle.fd, handle.bytes, dtypeObject(handle.dtype),
            py::tuple(py::cast(std::vector<int64_t>(handle.shape.begin(),
                                                    handle.shape.end()))));
      });
  m.def(
      "_tensor_from_shared_fd",
      [](int fd, py::handle dtype, py::handle shape) {
        return tensorFromSharedMemory(fd, *parseDType(dtype),
                                      shapeFromObject(shape));
      },
      py::arg("fd"), py::arg("dtype"), py::arg("shape"));
  m.def("_live_shared_regions", &liveSharedMemoryRegions);
}

} // namespace ember::python
