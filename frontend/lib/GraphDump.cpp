//===- GraphDump.cpp - EMBER_DUMP_GRAPHS=dir: a picture per compiled graph -===//
//
// With EMBER_DUMP_GRAPHS naming a folder (a value with a '/', or a folder
// that exists), each graph compile writes graph-<pid>-<n>.dot there, and
// graph-<pid>-<n>.svg when Graphviz's `dot` is on PATH: one box per op,
// each edge labelled with the value's dtype and shape, inputs computed by an
// earlier graph (where the trace was cut) or given by the
// user as grey "computed value" ellipses with a dashed note saying why the
// trace was cut there, and each kernel the compile made (read back from the
// lowered code: GraphObjects::kernelNodes) as a cluster named by its symbol,
// the name of its profiler span. Any other value keeps its old meaning
// (print the IR).
//
//===----------------------------------------------------------------------===//

#include "GraphCompiler.h"

#include "ember/Frontend/Error.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ember {
namespace {

std::string typeLabel(const Node &node) {
  std::string text = elementTypeName(node.dtype);
  text += "[";
  for (size_t d = 0; d < node.shape.size(); ++d)
    text += (d ? ", " : "") + std::to_string(node.shape[d]);
  return text + "]";
}

std::string escape(const std::string &text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

std::string baseName(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

} // namespace

const std::string &graphDumpDir() {
  static const std::string dir = [] {
    const char *value = std::getenv("EMBER_DUMP_GRAPHS");
    if (!value || !*value)
      return std::string();
    struct stat info;
    bool folder = stat(value, &info) == 0 && S_ISDIR(info.st_mode);
    if (!folder && !std::strchr(value, '/'))
      return std::string();
    std::string path = value;
    if (!folder)
      (void)std::system(("mkdir -p '" + path + "'").c_str());
    return path;
  }();
  return dir;
}

std::string graphToDot(const GraphPlan &plan,
                       const std::vector<std::pair<std::string, std::vector<size_t>>> &kernels) {
  size_t n = plan.nodes.size();
  std::ostringstream os;
  os << "digraph ember {\n  rankdir=TB;\n"
     << "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#e8f0fe\", "
        "fontname=\"Helvetica\", fontsize=11];\n"
     << "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n";
  std::vector<bool> placed(n, false);
  auto nodeLine = [&](const Node *node, const char *indent) {
    os << indent << "n" << node->index << " [label=\"";
    if (node->op == OpCode::Input) {
      os << "computed value\", shape=ellipse, fillcolor=\"#eeeeee\"];\n";
      return;
    }
    if (node->op == OpCode::Constant) {
      os << "constant\", shape=plain, style=\"\"];\n";
      return;
    }
    os << opName(node->op);
    if (node->loc.file)
      os << "\\n" << escape(baseName(*node->loc.file)) << ":" << node->loc.line;
    os << "\"];\n";
  };
  // The kernels the compiler made, each a cluster named by its symbol (the
  // name of its profiler span). A node whose ops several kernels compute
  // is drawn in the first and named in the others' labels.
  for (const auto &[symbol, members] : kernels) {
    std::vector<const Node *> own, shared;
    for (size_t index : members) {
      const Node *node = index < n ? plan.nodes[index] : nullptr;
      if (!node || node->op == OpCode::Input)
        continue;
      if (!placed[index])
        own.push_back(node);
      else if (node->op != OpCode::Constant)
        shared.push_back(node);
      placed[index] = true;
    }
    if (own.empty() && shared.empty())
      continue;
    // Constants are drawn inside but not counted as ops.
    size_t ops = shared.size() + std::count_if(own.begin(), own.end(), [](const Node *node) {
                   return node->op != OpCode::Constant;
                 });
    os << "  subgraph \"cluster_" << symbol << "\" {\n    label=\"kernel " << symbol << " ("
       << ops << " ops";
    for (const Node *node : shared)
      os << ", also " << opName(node->op);
    os << ")\"; style=\"dashed\"; color=\"#1a73e8\"; fontname=\"Helvetica\"; "
          "fontsize=10;\n";
    for (const Node *node : own)
      nodeLine(node, "    ");
    os << "  }\n";
  }
  for (const Node *node : plan.nodes)
    if (!placed[node->index])
      nodeLine(node, "  ");
  for (const Node *node : plan.nodes)
    for (const NodeRef &input : node->inputs)
      os << "  n" << input->index << " -> n" << node->index << " [label=\""
         << typeLabel(*input) << "\"];\n";
  // Where the trace was cut: a dashed note with the reason beside each
  // input an earlier graph computed.
  for (const Node *node : plan.nodes) {
    if (node->op != OpCode::Input || !node->buffer)
      continue;
    std::string reason, where;
    if (!graphCutOf(node->buffer.get(), &reason, &where))
      continue;
    os << "  cut" << node->index << " [label=\"cut: " << escape(reason);
    if (!where.empty())
      os << "\\nat " << escape(baseName(where));
    os << "\", shape=note, style=\"dashed\", color=\"#d93025\", fontcolor=\"#d93025\"];\n"
       << "  cut" << node->index << " -> n" << node->index
       << " [style=dashed, arrowhead=none, color=\"#d93025\"];\n";
  }
  for (size_t k = 0; k < plan.outputs.size(); ++k)
    os << "  out" << k << " [label=\"output " << k
       << "\", shape=ellipse, fillcolor=\"#fde7c8\"];\n  n" << plan.outputs[k]->index
       << " -> out" << k << " [label=\"" << typeLabel(*plan.outputs[k]) << "\"];\n";
  os << "}\n";
  return os.str();
}

std::vector<std::pair<std::string, std::vector<const Node *>>>
compiledKernelsOf(const std::vector<Node *> &roots, Backend device) {
  GraphPlan plan;
  collectGraph(roots, plan);
  for (Node *root : roots)
    if (std::find(plan.outputs.begin(), plan.outputs.end(), root) == plan.outputs.end())
      plan.outputs.push_back(root);
  if (std::all_of(plan.nodes.begin(), plan.nodes.end(),
                  [](const Node *node) { return node->op == OpCode::Input; }))
    return {};
  GraphObjects parts;
  parts.recordKernelNodes = true;
  std::string error;
  bool compiled = device == Backend::Cpu
                      ? compileGraph(plan, &error, /*disk=*/nullptr, &parts) != nullptr
                      : compileGraphForGpu(plan, device, &error, &parts.kernelNodes) != nullptr;
  if (!compiled)
    runtimeError(std::string("ember.debug: the graph does not compile for ") +
                 backendDeviceType(device) + ":\n" + error);
  std::vector<std::pair<std::string, std::vector<const Node *>>> kernels;
  for (const auto &[symbol, members] : parts.kernelNodes) {
    kernels.push_back({symbol, {}});
    for (size_t index : members)
      if (index < plan.nodes.size())
        kernels.back().second.push_back(plan.nodes[index]);
  }
  return kernels;
}

void dumpGraphPicture(const GraphPlan &plan, uint64_t graphNumber,
                      const std::vector<std::pair<std::string, std::vector<size_t>>> &kernels) {
  const std::string &dir = graphDumpDir();
  if (dir.empty())
    return;
  std::string stem = dir + "/graph-" + std::to_string(getpid()) + "-" +
                     std::to_string(graphNumber);
  {
    std::ofstream out(stem + ".dot");
    out << graphToDot(plan, kernels);
    if (!out) {
      fprintf(stderr, "[ember] EMBER_DUMP_GRAPHS: cannot write %s.dot\n", stem.c_str());
      return;
    }
  }
  // The picture, when Graphviz is installed (quiet when it is not).
  std::string command = "command -v dot >/dev/null 2>&1 && dot -Tsvg -o '" + stem +
                        ".svg' '" + stem + ".dot'";
  if (dir.find('\'') == std::string::npos)
    (void)std::system(command.c_str());
}

} // namespace ember
