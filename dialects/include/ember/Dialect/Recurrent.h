//===- Recurrent.h - cells and workspace layout of recurrent ops -*- C++ -*-===//
//
// The `cell` attribute of ember.recurrent_sequence and its backward, and
// where each value sits in a row of their workspaces. The verifier, the VJP,
// the CPU lowering and the frontend's shape rule all read the layout here,
// so they cannot disagree.
//
// Forward workspace row (width W):  h (P) | c (H) | 4 gate values (4H)
//   (c and the gates for LSTM; the gates but no c for GRU; only h for RNN).
// Backward result row (width V): d input (G*H) | d hh (G*H, GRU) | d h (P,
//   with a projection); row 0: d h0 (P) | d c0 (H, LSTM).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_DIALECT_RECURRENT_H
#define EMBER_DIALECT_RECURRENT_H

#include <cstdint>

namespace ember {

enum class RecurrentCell : int64_t { RnnTanh = 0, RnnRelu = 1, Lstm = 2, Gru = 3 };

inline bool isValidRecurrentCell(int64_t cell) { return cell >= 0 && cell <= 3; }

/// Gates per step: the rows of weight_hh are gateCount * H.
inline int64_t recurrentGateCount(RecurrentCell cell) {
  switch (cell) {
  case RecurrentCell::Lstm:
    return 4;
  case RecurrentCell::Gru:
    return 3;
  default:
    return 1;
  }
}

/// Column offsets of a forward workspace row, for hidden size H and state
/// size P (P < H only for an LSTM with a projection).
struct RecurrentLayout {
  RecurrentCell cell;
  bool projected;

  bool hasCell() const { return cell == RecurrentCell::Lstm; }
  /// Saved gate values (4 per hidden unit for LSTM and GRU).
  bool hasGates() const {
    return cell == RecurrentCell::Lstm || cell == RecurrentCell::Gru;
  }
  int64_t gates() const { return recurrentGateCount(cell); }
  // Forward workspace: in units of (P, H) -> offset = p * P + h * H.
  /// Offset of c, in H units after P.
  int64_t cOffsetH() const { return 0; }
  /// Offset of saved gate k, in H units after P.
  int64_t gateOffsetH(int64_t k) const { return (hasCell() ? 1 : 0) + k; }
  /// Width W = P + widthH() * H.
  int64_t widthH() const {
    return (hasCell() ? 1 : 0) + (hasGates() ? 4 : 0);
  }
  // Backward result: V = backwardWidthGH() * (G*H) + (projected ? P : 0).
  int64_t backwardWidthGH() const { return cell == RecurrentCell::Gru ? 2 : 1; }
};

} // namespace ember

#endif // EMBER_DIALECT_RECURRENT_H
