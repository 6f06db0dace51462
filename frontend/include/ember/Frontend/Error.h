//===- Error.h - errors the eager API raises ---------------------*- C++ -*-===//
//
// One exception type with the Python class it maps to, so that the binding
// raises what torch raises (RuntimeError, IndexError, ...) without the
// frontend depending on Python.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_ERROR_H
#define EMBER_FRONTEND_ERROR_H

#include "llvm/ADT/ArrayRef.h"

#include <stdexcept>
#include <string>

namespace ember {

class Error : public std::runtime_error {
public:
  enum class Kind { Runtime, Value, Index, Type, NotImplemented };
  Error(Kind kind, const std::string &message)
      : std::runtime_error(message), kind(kind) {}
  Kind kind;
};

[[noreturn]] void throwError(Error::Kind kind, const std::string &message);
[[noreturn]] inline void runtimeError(const std::string &message) {
  throwError(Error::Kind::Runtime, message);
}
[[noreturn]] inline void indexError(const std::string &message) {
  throwError(Error::Kind::Index, message);
}
[[noreturn]] inline void valueError(const std::string &message) {
  throwError(Error::Kind::Value, message);
}
[[noreturn]] inline void typeError(const std::string &message) {
  throwError(Error::Kind::Type, message);
}
[[noreturn]] inline void notImplemented(const std::string &message) {
  throwError(Error::Kind::NotImplemented, message);
}

/// A shape as torch prints it in messages: `[2, 3]`.
std::string shapeString(llvm::ArrayRef<int64_t> shape);

/// Wraps a possibly negative `dim` into [0, rank) or raises IndexError the way
/// torch words it.
int64_t wrapDim(int64_t dim, int64_t rank);

} // namespace ember

#endif // EMBER_FRONTEND_ERROR_H
