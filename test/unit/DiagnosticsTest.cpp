//===- DiagnosticsTest.cpp - the one MLIR diagnostics collector -----------===//
//
// What every compile entry point's error text is made of: locations as users
// read them, which severities are kept, notes, and the innermost collector
// taking the diagnostics.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Diagnostics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace ember;

namespace {

class Diagnostics : public ::testing::Test {
protected:
  MLIRContext context;
  Location source = FileLineColLoc::get(&context, "model.py", 12, 5);
  Location noColumn = FileLineColLoc::get(&context, "model.py", 3, 0);
};

TEST_F(Diagnostics, FormatLocationReadsSourceLocations) {
  EXPECT_EQ(formatLocation(source), "model.py:12:5");
  EXPECT_EQ(formatLocation(noColumn), "model.py:3");
  // Inside a named or fused location too.
  EXPECT_EQ(formatLocation(NameLoc::get(StringAttr::get(&context, "add"), source)),
            "model.py:12:5");
  EXPECT_EQ(formatLocation(FusedLoc::get(&context, {UnknownLoc::get(&context), noColumn})),
            "model.py:3");
  EXPECT_EQ(formatLocation(UnknownLoc::get(&context)), "loc(unknown)");
}

TEST_F(Diagnostics, CollectsErrorsAndWarningsAsLines) {
  DiagnosticCollector collector(&context);
  EXPECT_EQ(collector.text(), "");
  emitError(source, "shapes do not match");
  emitWarning(noColumn, "slow path");
  EXPECT_EQ(collector.text(), "model.py:12:5: shapes do not match\nmodel.py:3: slow path\n");
  EXPECT_EQ(collector.take(), "model.py:12:5: shapes do not match\nmodel.py:3: slow path\n");
  EXPECT_EQ(collector.text(), "");
}

TEST_F(Diagnostics, RemarksOnlyWhenAsked) {
  DiagnosticCollector quiet(&context);
  emitRemark(source, "converted");
  EXPECT_EQ(quiet.text(), "");
  DiagnosticCollector all(&context, {/*remarks=*/true});
  emitRemark(source, "converted");
  EXPECT_EQ(all.text(), "model.py:12:5: converted\n");
}

TEST_F(Diagnostics, NotesOnlyWhenAsked) {
  auto emitWithNote = [&] {
    InFlightDiagnostic diag = emitError(source, "cannot fuse");
    diag.attachNote(noColumn) << "the producer is here";
  };
  DiagnosticCollector plain(&context);
  emitWithNote();
  EXPECT_EQ(plain.text(), "model.py:12:5: cannot fuse\n");
  DiagnosticCollector withNotes(&context, {/*remarks=*/false, /*notes=*/true});
  emitWithNote();
  EXPECT_EQ(withNotes.text(), "model.py:12:5: cannot fuse\nmodel.py:3: note: the producer is here\n");
}

TEST_F(Diagnostics, MlirLocationsWhenAsked) {
  DiagnosticCollector collector(&context, {/*remarks=*/false, /*notes=*/false,
                                           /*mlirLocations=*/true});
  emitError(source, "malformed");
  EXPECT_EQ(collector.text(), "loc(\"model.py\":12:5): malformed\n");
}

TEST_F(Diagnostics, TheInnermostCollectorTakesThem) {
  DiagnosticCollector outer(&context);
  {
    DiagnosticCollector inner(&context);
    emitError(source, "inner");
    EXPECT_EQ(inner.text(), "model.py:12:5: inner\n");
  }
  EXPECT_EQ(outer.text(), "");
  emitError(source, "outer");
  EXPECT_EQ(outer.text(), "model.py:12:5: outer\n");
}

} // namespace
