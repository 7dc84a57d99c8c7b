#include "codedag/trace/resolved_tree.hpp"

#include <algorithm>
#include <map>

#include "codedag/common/error.hpp"
#include "codedag/trace/value_types.hpp"

namespace codedag::trace {

int64_t ResolvedTree::find(const std::string& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? -1 : it->second;
}

int64_t ResolvedTree::add(ResolvedContext context) {
  if (index_.count(context.key)) throw InputError("trace: context key '" + context.key + "' added twice");
  if (context.parent >= static_cast<int64_t>(contexts.size()))
    throw InputError("trace: context '" + context.key + "' names a parent that is not in the tree yet");
  const auto id = static_cast<int64_t>(contexts.size());
  index_.emplace(context.key, id);
  contexts.push_back(std::move(context));
  return id;
}

namespace {
void unite(std::vector<std::string>& into, const std::vector<std::string>& from) {
  for (const auto& s : from)
    if (std::find(into.begin(), into.end(), s) == into.end()) into.push_back(s);
}
}  // namespace

int64_t ResolvedTree::add_or_merge(ResolvedContext c) {
  const int64_t at = find(c.key);
  if (at < 0) return add(std::move(c));
  ResolvedContext& t = contexts[static_cast<size_t>(at)];
  t.calls += c.calls;
  t.total_ns += c.total_ns;
  t.cpu_ns += c.cpu_ns;
  t.out_bytes += c.out_bytes;
  t.arg_types |= c.arg_types;
  t.ret_types |= c.ret_types;
  t.covered = t.covered || c.covered;
  unite(t.lib_calls, c.lib_calls);
  unite(t.uncovered_calls, c.uncovered_calls);
  return at;
}

void ResolvedTree::add_flow(int64_t src, int64_t dst, double bytes, int64_t count) {
  const auto n = static_cast<int64_t>(contexts.size());
  if (src < 0 || src >= n || dst < 0 || dst >= n)
    throw InputError("trace: a flow names context " + std::to_string(src < 0 || src >= n ? src : dst) +
                     ", which is not in the tree");
  // flows is public: index what was appended to it directly since the last call.
  for (; flows_indexed_ < flows.size(); ++flows_indexed_)
    flow_index_.try_emplace({flows[flows_indexed_].src, flows[flows_indexed_].dst}, flows_indexed_);
  auto [it, added] = flow_index_.try_emplace({src, dst}, flows.size());
  if (added) {
    flows.push_back({src, dst, bytes, count});
    flows_indexed_ = flows.size();
  } else {
    flows[it->second].bytes += bytes;
    flows[it->second].count += count;
  }
}

void ResolvedTree::merge(const ResolvedTree& other, size_t max_spans) {
  std::vector<int64_t> map(other.contexts.size(), -1);
  for (size_t i = 0; i < other.contexts.size(); ++i) {
    ResolvedContext copy = other.contexts[i];
    copy.parent = copy.parent < 0 ? -1 : map[static_cast<size_t>(copy.parent)];
    map[i] = add_or_merge(std::move(copy));
  }
  for (const ResolvedFlow& f : other.flows)
    add_flow(map.at(static_cast<size_t>(f.src)), map.at(static_cast<size_t>(f.dst)), f.bytes, f.count);
  unite(diagnostics, other.diagnostics);
  for (const Span& s : other.spans) {
    if (spans.size() >= max_spans) {
      ++dropped_spans;
      continue;
    }
    Span copy = s;
    copy.ctx = map.at(static_cast<size_t>(s.ctx));
    spans.push_back(copy);
  }
  dropped_spans += other.dropped_spans;
}

void ResolvedTree::apply_coverage(const std::set<std::string>& registry_names) {
  auto covered = [&](const std::string& name) {
    return name.rfind("torch.", 0) == 0 || registry_names.count(name) != 0;
  };
  for (auto& c : contexts) {
    if (c.library) c.covered = c.covered || covered(c.qualname);
    c.uncovered_calls.clear();
    for (const auto& call : c.lib_calls)
      if (!covered(call)) c.uncovered_calls.push_back(call);
  }
}

json ResolvedTree::to_json() const {
  json cs = json::array();
  for (const auto& c : contexts)
    cs.push_back({{"key", c.key},
                  {"parent", c.parent},
                  {"qualname", c.qualname},
                  {"name", c.name},
                  {"module", c.module},
                  {"file", c.file},
                  {"line", c.line},
                  {"builtin", c.builtin},
                  {"library", c.library},
                  {"covered", c.covered},
                  {"depth", c.depth},
                  {"calls", c.calls},
                  {"total_ns", c.total_ns},
                  {"cpu_ns", c.cpu_ns},
                  {"out_bytes", c.out_bytes},
                  {"arg_types", value_type_names(c.arg_types)},
                  {"ret_types", value_type_names(c.ret_types)},
                  {"lib_calls", c.lib_calls},
                  {"uncovered_calls", c.uncovered_calls}});
  json fs = json::array();
  for (const auto& f : flows) fs.push_back({f.src, f.dst, f.bytes, f.count});
  json ss = json::array();
  for (const auto& s : spans) ss.push_back({s.ctx, s.start_ns, s.dur_ns, s.pid, s.tid});
  json out = {{"contexts", cs}, {"flows", fs}, {"spans", ss}, {"dropped_spans", dropped_spans}};
  if (!diagnostics.empty()) out["diagnostics"] = diagnostics;
  return out;
}

ResolvedTree ResolvedTree::from_json(const json& doc, const std::string& origin) {
  ResolvedTree tree;
  std::string where = origin;
  try {
    if (!doc.is_object()) throw FormatError("expected an object");
    const json& cs = doc.at("contexts");
    for (size_t i = 0; i < cs.size(); ++i) {
      where = origin + ": contexts[" + std::to_string(i) + "]";
      const json& j = cs[i];
      ResolvedContext c;
      c.key = j.at("key").get<std::string>();
      c.parent = j.at("parent").get<int64_t>();
      if (c.parent >= static_cast<int64_t>(i))
        throw FormatError("parent " + std::to_string(c.parent) + " does not precede it");
      c.qualname = j.at("qualname").get<std::string>();
      c.name = j.at("name").get<std::string>();
      c.module = j.at("module").get<std::string>();
      c.file = j.at("file").get<std::string>();
      c.line = j.at("line").get<int64_t>();
      c.builtin = j.at("builtin").get<bool>();
      c.library = j.at("library").get<bool>();
      c.covered = j.at("covered").get<bool>();
      c.depth = j.at("depth").get<int64_t>();
      c.calls = j.at("calls").get<int64_t>();
      c.total_ns = j.at("total_ns").get<double>();
      c.cpu_ns = j.at("cpu_ns").get<double>();
      c.out_bytes = j.at("out_bytes").get<double>();
      c.arg_types = value_type_mask(j.at("arg_types").get<std::vector<std::string>>());
      c.ret_types = value_type_mask(j.at("ret_types").get<std::vector<std::string>>());
      c.lib_calls = j.at("lib_calls").get<std::vector<std::string>>();
      c.uncovered_calls = j.at("uncovered_calls").get<std::vector<std::string>>();
      if (c.calls < 0 || c.total_ns < 0 || c.cpu_ns < 0 || c.out_bytes < 0) throw FormatError("negative number");
      tree.add(std::move(c));
    }
    const auto n = static_cast<int64_t>(tree.contexts.size());
    const json& fs = doc.at("flows");
    for (size_t i = 0; i < fs.size(); ++i) {
      where = origin + ": flows[" + std::to_string(i) + "]";
      ResolvedFlow f{fs[i].at(0).get<int64_t>(), fs[i].at(1).get<int64_t>(), fs[i].at(2).get<double>(),
                     fs[i].at(3).get<int64_t>()};
      if (f.src < 0 || f.src >= n || f.dst < 0 || f.dst >= n) throw FormatError("context index out of range");
      tree.flows.push_back(f);
    }
    const json& ss = doc.at("spans");
    for (size_t i = 0; i < ss.size(); ++i) {
      where = origin + ": spans[" + std::to_string(i) + "]";
      Span s{ss[i].at(0).get<int64_t>(), ss[i].at(1).get<int64_t>(), ss[i].at(2).get<int64_t>(),
             ss[i].at(3).get<int64_t>(), ss[i].at(4).get<int64_t>()};
      if (s.ctx < 0 || s.ctx >= n) throw FormatError("context index out of range");
      tree.spans.push_back(s);
    }
    tree.dropped_spans = doc.value("dropped_spans", int64_t{0});
    where = origin + ": diagnostics";
    if (doc.contains("diagnostics")) tree.diagnostics = doc.at("diagnostics").get<std::vector<std::string>>();
  } catch (const FormatError& e) {
    throw FormatError(where + ": " + e.what());
  } catch (const Error& e) {
    throw FormatError(where + ": " + e.what());
  } catch (const json::exception& e) {
    throw FormatError(where + ": " + e.what());
  }
  return tree;
}

}  // namespace codedag::trace
