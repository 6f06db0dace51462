//===- EmberDialect.h - The ember dialect -----------------------*- C++ -*-===//

#ifndef EMBER_DIALECT_EMBERDIALECT_H
#define EMBER_DIALECT_EMBERDIALECT_H

#include "mlir/IR/Dialect.h"

#include "ember/Dialect/EmberDialect.h.inc"

#endif // EMBER_DIALECT_EMBERDIALECT_H
