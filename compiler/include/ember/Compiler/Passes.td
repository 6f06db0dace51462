//===- Passes.td - Ember compiler passes -------------------*- tablegen -*-===//
//
// Every Ember pass, by area; one generated Passes.h.inc (declarations,
// registration) and one pass reference for all of them.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_PASSES_TD
#define EMBER_COMPILER_PASSES_TD

include "TransformsPasses.td"
include "ConversionPasses.td"
include "CpuPasses.td"
include "GpuPasses.td"

#endif // EMBER_COMPILER_PASSES_TD
