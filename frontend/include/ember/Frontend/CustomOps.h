//===- CustomOps.h - tracing C++ custom ops ---------------------*- C++ -*-===//
//
// A registered custom op (ember/Runtime/CustomOpRegistry.h) traced as one
// CustomCall node: ints = {the FNV-1a hash of its name, then the f64 bits
// of each declared attribute in order}, so the name and the attribute
// values are part of the compile cache key; the emitter finds the name
// again by the hash (customOpNameOfHash).
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
/// becomes a RuntimeError); ops with one output only.
Tensor customOp(const std::string &name, const std::vector<Tensor> &inputs,
                const std::vector<double> &attrs);

} // namespace ember

#endif // EMBER_FRONTEND_CUSTOMOPS_H
