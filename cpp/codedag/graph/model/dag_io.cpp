// Reading and writing codedag.dag/1. Every rejection names the file, the element and the field.
#include <cmath>
#include <set>

#include "codedag/common/error.hpp"
#include "codedag/graph/model/dag.hpp"

namespace codedag::graph {
namespace {

// Reads typed fields of one JSON object and reports errors at "<origin>: <where>: '<field>' ...".
class FieldReader {
 public:
  FieldReader(const json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw FormatError(where_ + ": '" + field + "' " + problem);
  }
  bool has(const char* field) const { return obj_.contains(field) && !obj_.at(field).is_null(); }

  double number(const char* field, std::optional<double> fallback = std::nullopt) const {
    if (!has(field)) {
      if (fallback) return *fallback;
      fail(field, "is missing");
    }
    const json& v = obj_.at(field);
    if (!v.is_number()) fail(field, std::string("must be a number, got ") + json_type_name(v));
    const double x = v.get<double>();
    if (!std::isfinite(x)) fail(field, "must be a finite number");
    if (x < 0) fail(field, "must not be negative, got " + v.dump());
    return x;
  }
  std::optional<double> optional_number(const char* field) const {
    if (!has(field)) return std::nullopt;
    return number(field);
  }
  int64_t integer(const char* field, std::optional<int64_t> fallback = std::nullopt,
                  bool allow_negative = false) const {
    if (!has(field)) {
      if (fallback) return *fallback;
      fail(field, "is missing");
    }
    const json& v = obj_.at(field);
    if (!v.is_number_integer()) fail(field, std::string("must be a whole number, got ") + v.dump());
    const int64_t x = v.get<int64_t>();
    if (x < 0 && !allow_negative) fail(field, "must not be negative, got " + v.dump());
    return x;
  }
  std::string string(const char* field, std::optional<std::string> fallback = std::nullopt) const {
    if (!has(field)) {
      if (fallback) return *fallback;
      fail(field, "is missing");
    }
    const json& v = obj_.at(field);
    if (!v.is_string()) fail(field, std::string("must be a string, got ") + json_type_name(v));
    return v.get<std::string>();
  }
  bool boolean(const char* field, bool fallback) const {
    if (!has(field)) return fallback;
    const json& v = obj_.at(field);
    if (!v.is_boolean()) fail(field, std::string("must be true or false, got ") + v.dump());
    return v.get<bool>();
  }
  std::vector<std::string> strings(const char* field) const {
    std::vector<std::string> out;
    if (!has(field)) return out;
    const json& v = obj_.at(field);
    if (!v.is_array()) fail(field, std::string("must be a list of strings, got ") + json_type_name(v));
    for (const json& s : v) {
      if (!s.is_string()) fail(field, "must hold only strings, found " + s.dump());
      out.push_back(s.get<std::string>());
    }
    return out;
  }

 private:
  const json& obj_;
  std::string where_;
};

const std::set<std::string> kKnownNodeFields = {
    "id",       "name",      "qualname",  "module",    "file",       "line",        "kind",         "parent",
    "depth",    "calls",     "cpu_ns",    "total_ns",  "out_bytes",  "alloc_bytes", "gpu_eligible", "gpu_ns",
    "batch_ns", "arg_types", "ret_types", "lib_calls", "blocked_by", "library",     "distribution"};

Node node_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": must be an object, got " + json_type_name(j));
  const FieldReader r(j, where);
  Node n;
  n.id = r.integer("id", std::nullopt, /*allow_negative=*/true);
  n.name = r.string("name");
  n.qualname = r.string("qualname", n.name);
  n.module = r.string("module", "");
  n.file = r.string("file", "");
  n.line = r.integer("line", 0);
  n.kind = r.string("kind", "python");
  if (n.kind != "python" && n.kind != "builtin")
    r.fail("kind", "must be \"python\" or \"builtin\", got \"" + n.kind + "\"");
  if (r.has("parent")) n.parent = r.integer("parent", std::nullopt, true);
  n.depth = r.integer("depth", 0);
  n.calls = r.integer("calls", 1);
  n.cpu_ns = r.number("cpu_ns", 0.0);
  n.total_ns = r.number("total_ns", n.cpu_ns);
  n.out_bytes = r.number("out_bytes", 0.0);
  // `alloc_bytes` was never measured (always 0) and is no longer part of the format: an old file
  // may still carry it; it is read as known and dropped, not kept among the unknown fields.
  if (r.has("alloc_bytes")) (void)r.number("alloc_bytes", 0.0);
  n.gpu_eligible = r.boolean("gpu_eligible", false);
  n.gpu_ns = r.optional_number("gpu_ns");
  n.batch_ns = r.optional_number("batch_ns");
  n.arg_types = r.strings("arg_types");
  n.ret_types = r.strings("ret_types");
  n.lib_calls = r.strings("lib_calls");
  n.blocked_by = r.strings("blocked_by");
  // Files written before the field existed: a builtin (C function) is library code, everything else
  // is the user's (the optimizer then plans it; the migrator still refuses library code at apply).
  n.library = r.boolean("library", n.kind == "builtin");
  if (r.has("distribution")) n.distribution = r.string("distribution");
  if (n.distribution && n.distribution->empty())
    r.fail("distribution", "must be a distribution name or null, not \"\"");
  for (const auto& [key, value] : j.items())
    if (!kKnownNodeFields.count(key)) n.extra[key] = value;
  return n;
}

Edge edge_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": must be an object, got " + json_type_name(j));
  const FieldReader r(j, where);
  Edge e;
  e.src = r.integer("src", std::nullopt, true);
  e.dst = r.integer("dst", std::nullopt, true);
  const std::string kind = r.string("kind", "data");
  if (kind == "data")
    e.kind = EdgeKind::data;
  else if (kind == "call")
    e.kind = EdgeKind::call;
  else
    r.fail("kind", "must be \"data\" or \"call\", got \"" + kind + "\"");
  e.bytes = r.number("bytes", 0.0);
  e.count = r.integer("count", 1);
  return e;
}

json number_json(double x) {
  // Whole numbers stay integers in the file, as people and other tools expect.
  if (std::nearbyint(x) == x && std::fabs(x) < 9e15) return static_cast<int64_t>(x);
  return x;
}

json optional_json(const std::optional<double>& x) { return x ? number_json(*x) : json(nullptr); }

}  // namespace

Dag Dag::from_json(const json& doc, const std::string& origin) {
  if (!doc.is_object()) throw FormatError(origin + ": a DAG file must be a JSON object, got " + json_type_name(doc));
  if (!doc.contains("schema"))
    throw FormatError(origin + ": no 'schema' field; expected \"" + std::string(kDagSchema) + "\"");
  if (doc.at("schema") != kDagSchema)
    throw FormatError(origin + ": unknown schema " + doc.at("schema").dump() + "; this version reads \"" +
                      std::string(kDagSchema) + "\"");
  Dag dag;
  if (doc.contains("meta")) {
    if (!doc.at("meta").is_object()) throw FormatError(origin + ": 'meta' must be an object");
    dag.meta = doc.at("meta");
    const FieldReader meta(dag.meta, origin + ": meta");
    if (meta.has("batches") && meta.integer("batches") == 0) meta.fail("batches", "must be at least 1");
  }
  for (const char* list : {"nodes", "edges"})
    if (!doc.contains(list) || !doc.at(list).is_array()) throw FormatError(origin + ": '" + list + "' must be a list");
  const json& nodes = doc.at("nodes");
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::string where = origin + ": nodes[" + std::to_string(i) + "]";
    Node n = node_from_json(nodes[i], where);
    if (dag.contains(n.id))
      throw FormatError(where + ": id " + std::to_string(n.id) + " is used twice (also nodes[" +
                        std::to_string(dag.index_of(n.id)) + "])");
    dag.add_node(std::move(n));
  }
  const json& edges = doc.at("edges");
  for (size_t i = 0; i < edges.size(); ++i) {
    const std::string where = origin + ": edges[" + std::to_string(i) + "]";
    const Edge e = edge_from_json(edges[i], where);
    for (const int64_t end : {e.src, e.dst})
      if (!dag.contains(end))
        throw FormatError(where + ": " + (end == e.src ? "src " : "dst ") + std::to_string(end) +
                          " is not the id of any node");
    dag.edges_.push_back(e);
  }
  dag.validate(origin);
  return dag;
}

json Dag::to_json() const {
  json nodes = json::array();
  for (const Node& n : nodes_) {
    json j = n.extra.is_object() ? n.extra : json::object();
    j["id"] = n.id;
    j["name"] = n.name;
    j["qualname"] = n.qualname;
    j["module"] = n.module;
    j["file"] = n.file;
    j["line"] = n.line;
    j["kind"] = n.kind;
    j["parent"] = n.parent ? json(*n.parent) : json(nullptr);
    j["depth"] = n.depth;
    j["calls"] = n.calls;
    j["cpu_ns"] = number_json(n.cpu_ns);
    j["total_ns"] = number_json(n.total_ns);
    j["out_bytes"] = number_json(n.out_bytes);
    j["gpu_eligible"] = n.gpu_eligible;
    j["gpu_ns"] = optional_json(n.gpu_ns);
    j["batch_ns"] = optional_json(n.batch_ns);
    j["arg_types"] = n.arg_types;
    j["ret_types"] = n.ret_types;
    j["lib_calls"] = n.lib_calls;
    if (!n.blocked_by.empty()) j["blocked_by"] = n.blocked_by;
    j["library"] = n.library;
    j["distribution"] = n.distribution ? json(*n.distribution) : json(nullptr);
    nodes.push_back(std::move(j));
  }
  json edges = json::array();
  for (const Edge& e : edges_)
    edges.push_back({{"src", e.src},
                     {"dst", e.dst},
                     {"kind", to_string(e.kind)},
                     {"bytes", number_json(e.bytes)},
                     {"count", e.count}});
  return {{"schema", kDagSchema}, {"meta", meta}, {"nodes", std::move(nodes)}, {"edges", std::move(edges)}};
}

Dag Dag::load(const std::string& path) { return from_json(load_json_file(path), path); }

void Dag::save(const std::string& path) const { save_json_file(path, to_json(), 1); }

}  // namespace codedag::graph
