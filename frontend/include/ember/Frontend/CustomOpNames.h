//===- CustomOpNames.h - traced custom ops' names by hash --------*- C++ -*-===//
//
// A CustomCall node carries its op's name as a hash (CustomOps.h); the
// emitter finds the name again here. Separate from CustomOps.h so that the
// emitter does not see the tracer's op functions (ember::cast would hide
// llvm::cast).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_CUSTOMOPNAMES_H
#define EMBER_FRONTEND_CUSTOMOPNAMES_H

#include <cstdint>
#include <string>

namespace ember {

/// The name of the custom op whose hash is `hash` (a traced op's).
const std::string &customOpNameOfHash(int64_t hash);

} // namespace ember

#endif // EMBER_FRONTEND_CUSTOMOPNAMES_H
