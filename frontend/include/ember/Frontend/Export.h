//===- Export.h - tracing a function into a portable program -----*- C++ -*-===//
//
// `ember.export` calls the user's function on example inputs with tracing
// only (nothing may be computed: see setExporting), then turns the lazy
// graph of its outputs into a standalone `ember` dialect function whose
// arguments are the inputs, the named weights, and any other tensor the
// graph reads (a "constant", e.g. one created inside the function).
//
// Sizes that the graph needs besides its arguments' dims (reshape targets,
// broadcasts) are affine functions of the symbolic input dims; the Python
// side finds them by tracing with several sizes (see python/ember/_export.py)
// and passes them in.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_EXPORT_H
#define EMBER_FRONTEND_EXPORT_H

#include "ember/Frontend/Tensor.h"

#include <string>
#include <vector>

namespace ember {

/// While set, computing any value raises (the function being exported reads
/// data), and the graph is not computed when it grows large.
void setExporting(bool exporting);
bool exporting();

/// What one trace produced, to compare traces at different sizes.
struct ExportTrace {
  /// The program's structure: equal for traces of the same program.
  std::vector<int64_t> key;
  /// The size vector (see GraphPlan): what varies with the sizes.
  std::vector<int64_t> sizes;
  std::vector<Shape> outputShapes;
  std::vector<DType> outputDTypes;
  /// Tensors the graph reads that are neither inputs nor weights, in the
  /// order they become arguments after the weights.
  std::vector<Tensor> constants;
  /// Per node (plan order): a hash of its part of `key` and what it is
  /// ("reshape at model.py:12"), to name the op where two traces differ.
  std::vector<uint64_t> nodeHashes;
  std::vector<std::string> nodeNames;
  /// Per `sizes` slot: the name of the node that reads it, and whether it
  /// holds a float constant's bits rather than a size.
  std::vector<std::string> slotOwners;
  std::vector<bool> slotIsScalar;
};

/// Describes the graph behind `outputs`. Every input and weight must be a
/// computed, contiguous base tensor.
ExportTrace describeExportTrace(const std::vector<Tensor> &outputs,
                                const std::vector<Tensor> &inputs,
                                const std::vector<Tensor> &weights);

/// One dim of an argument or output: a size, or -1 for a symbolic dim.
/// One size-vector slot: `constant + sum(coefficient * inputs[input].dim)`.
struct ExportSizeTerm {
  int input;
  int dim;
  int64_t coefficient;
};
struct ExportSizeExpr {
  int64_t constant = 0;
  std::vector<ExportSizeTerm> terms;
};

/// The portable program (MLIR bytecode) of the graph behind `outputs`: a
/// public function `name`(inputs..., weights..., constants...) -> outputs.
/// `inputDims`/`outputDims` give each dim's size or -1 (symbolic).
std::string exportProgram(const std::vector<Tensor> &outputs,
                          const std::vector<Tensor> &inputs,
                          const std::vector<Tensor> &weights,
                          const std::vector<Shape> &inputDims,
                          const std::vector<ExportSizeExpr> &sizes,
                          const std::vector<Shape> &outputDims,
                          const std::string &name);

/// The program as MLIR text.
std::string programText(const std::string &bytecode);

} // namespace ember

#endif // EMBER_FRONTEND_EXPORT_H
