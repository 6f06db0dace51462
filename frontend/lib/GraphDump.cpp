//===- GraphDump.cpp - EMBER_DUMP_GRAPHS=dir: a picture per compiled graph -===//
//
// With EMBER_DUMP_GRAPHS naming a folder (a value with a '/', or a folder
// that exists), each graph compile writes graph-<pid>-<n>.dot there, and
// graph-<pid>-<n>.svg when Graphviz's `dot` is on PATH: one box per op,
// each edge labelled with the value's dtype and shape, inputs computed by an
// earlier graph (where the trace was cut) or given by the
// user as grey "computed value" ellipses, and the chains of
// element-wise ops that ember-fuse-elementwise merges into one kernel as
// clusters (the fusion rule applied to the graph, as python/ember/debug.py
// draws it). Any other value keeps its old meaning (print the IR).
//
//===----------------------------------------------------------------------===//

#include "GraphCompiler.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

namespace ember {
namespace {

bool isElementwise(OpCode op) {
  switch (op) {
#define EMBER_UNARY_OP(Name, Mnemonic, Types, TorchNames) case OpCode::Name:
#define EMBER_BINARY_OP(Name, Mnemonic, Types, TorchNames) case OpCode::Name:
#define EMBER_OTHER_OP(Name, Mnemonic)
#include "ember/Dialect/EmberVocabulary.inc"
    return true;
  default:
    return false;
  }
}

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

std::string graphToDot(const GraphPlan &plan) {
  size_t n = plan.nodes.size();
  std::vector<size_t> users(n, 0), onlyUser(n, 0);
  for (const Node *node : plan.nodes)
    for (const NodeRef &input : node->inputs) {
      ++users[input->index];
      onlyUser[input->index] = node->index;
    }
  std::vector<size_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](size_t i) {
    while (parent[i] != i)
      i = parent[i] = parent[parent[i]];
    return i;
  };
  for (const Node *node : plan.nodes)
    if (isElementwise(node->op) && users[node->index] == 1 &&
        isElementwise(plan.nodes[onlyUser[node->index]]->op))
      parent[find(node->index)] = find(onlyUser[node->index]);
  std::vector<std::vector<const Node *>> groups(n);
  for (const Node *node : plan.nodes)
    if (node->op != OpCode::Input && node->op != OpCode::Constant)
      groups[find(node->index)].push_back(node);

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
  int kernel = 0;
  for (auto &group : groups) {
    if (group.size() < 2)
      continue;
    os << "  subgraph cluster_k" << kernel << " {\n    label=\"fused kernel " << kernel
       << " (" << group.size()
       << " element-wise ops)\"; style=\"dashed\"; color=\"#1a73e8\"; "
          "fontname=\"Helvetica\"; fontsize=10;\n";
    for (const Node *node : group) {
      nodeLine(node, "    ");
      placed[node->index] = true;
    }
    os << "  }\n";
    ++kernel;
  }
  for (const Node *node : plan.nodes)
    if (!placed[node->index])
      nodeLine(node, "  ");
  for (const Node *node : plan.nodes)
    for (const NodeRef &input : node->inputs)
      os << "  n" << input->index << " -> n" << node->index << " [label=\""
         << typeLabel(*input) << "\"];\n";
  for (size_t k = 0; k < plan.outputs.size(); ++k)
    os << "  out" << k << " [label=\"output " << k
       << "\", shape=ellipse, fillcolor=\"#fde7c8\"];\n  n" << plan.outputs[k]->index
       << " -> out" << k << " [label=\"" << typeLabel(*plan.outputs[k]) << "\"];\n";
  os << "}\n";
  return os.str();
}

void dumpGraphPicture(const GraphPlan &plan, uint64_t graphNumber) {
  const std::string &dir = graphDumpDir();
  if (dir.empty())
    return;
  std::string stem = dir + "/graph-" + std::to_string(getpid()) + "-" +
                     std::to_string(graphNumber);
  {
    std::ofstream out(stem + ".dot");
    out << graphToDot(plan);
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
