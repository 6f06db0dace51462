//===- CustomOps.h - tracing C++ custom ops ---------------------*- C++ -*-===//
//
// A registered custom op (ember/Runtime/CustomOpRegistry.h) traced as one
// CustomCall node: ints = {the FNV-1a hash of its name, then the f64 bits
// of each declared attribute in order}, so the name and the attribute
// values are part of the compile cache key; the emitter finds the name
// again by the hash (customOpNameOfHash). The node's value is output 0.
// An op with several outputs appends, per output k >= 1, its dtype, rank
// and a mask of its dims of size 1 (the emitter's result types), and each
// output k >= 1 is a CustomVjpResult node (ints = {k}) reading the
// CustomCall node, as an autograd.Function's outputs read their CustomVjp.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_CUSTOMOPS_H
#define EMBER_FRONTEND_CUSTOMOPS_H

#include "ember/Frontend/CustomOpNames.h"
#include "ember/Frontend/Tensor.h"

#include <string>
#include <vector>

namespace ember {

/// Traces custom op `name` on `inputs` with `attrs` (one value per declared
/// attribute, in order; the caller fills in defaults). Checks the inputs'
/// count and device and runs the op's shape function at once (its message
/// becomes a RuntimeError); one tensor per output. Inputs on a GPU need the
/// op to have a kernel for that device.
std::vector<Tensor> customOp(const std::string &name, const std::vector<Tensor> &inputs,
                const std::vector<double> &attrs);

} // namespace ember

#endif // EMBER_FRONTEND_CUSTOMOPS_H
