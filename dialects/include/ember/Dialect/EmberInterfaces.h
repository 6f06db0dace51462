//===- EmberInterfaces.h - ember op interfaces ------------------*- C++ -*-===//

#ifndef EMBER_DIALECT_EMBERINTERFACES_H
#define EMBER_DIALECT_EMBERINTERFACES_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"

#include "ember/Dialect/EmberInterfaces.h.inc"

#endif // EMBER_DIALECT_EMBERINTERFACES_H
