//===- GraphDebug.h - what pictures of the lazy graph need -----*- C++ -*-===//
//
// Where the trace was cut and why, and which kernels a graph compiles to.
//
// A graph ends where a value is needed on the host (.item(), print), at
// ember.sync() or at the size limit; the values it computed become inputs of
// later graphs. The frontend remembers, per computed buffer, why its graph
// was cut and at which user line, so that pictures of a later graph
// (ember.debug.draw, EMBER_DUMP_GRAPHS) can draw the cut with its reason.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_GRAPHDEBUG_H
#define EMBER_FRONTEND_GRAPHDEBUG_H

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ember {

struct Buffer;
struct Node;

struct GraphCut {
  std::string reason; ///< "a value was read (...)", "ember.sync()", ...
  std::string where;  ///< the user's file:line where the cut happened, or ""
};

/// Why the graph that computed `buffer` was cut, when a graph cut computed
/// it and the buffer is still alive; nullopt otherwise (the user's data).
std::optional<GraphCut> graphCutOf(const Buffer *buffer);

/// The CPU kernels the graph behind `roots` compiles to, each named by its
/// symbol (the name of its profiler span) with the graph's nodes whose ops
/// it computes, read back from the lowered code. Compiles the graph now
/// (kernels come from and go to the kernel cache) and runs nothing; the
/// graph stays pending. Graphs of GPU tensors are compiled for the CPU.
std::vector<std::pair<std::string, std::vector<const Node *>>>
compiledKernelsOf(const std::vector<Node *> &roots);

} // namespace ember

#endif // EMBER_FRONTEND_GRAPHDEBUG_H
