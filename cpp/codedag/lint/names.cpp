#include "codedag/lint/names.hpp"

#include <cctype>

namespace codedag::lint {

void ImportTable::add(Node statement, const SourceText& src) {
  if (statement.is("import_statement")) {
    // import a.b.c      binds a -> a;   import a.b as x   binds x -> a.b
    for (uint32_t i = 0; i < statement.named_child_count(); ++i) {
      const Node item = statement.named_child(i);
      if (item.is("dotted_name")) {
        const std::string full(item.text(src));
        const std::string head = full.substr(0, full.find('.'));
        names_[head] = head;
      } else if (item.is("aliased_import")) {
        const Node name = item.field("name"), alias = item.field("alias");
        if (name && alias) names_[std::string(alias.text(src))] = std::string(name.text(src));
      }
    }
    return;
  }
  if (!statement.is("import_from_statement")) return;
  const Node module = statement.field("module_name");
  if (!module || module.is("relative_import")) return;  // relative imports name this package's code
  const std::string base(module.text(src));
  for (uint32_t i = 0; i < statement.child_count(); ++i) {
    const char* field = statement.field_name_of_child(i);
    if (!field || std::string_view(field) != "name") continue;
    const Node item = statement.child(i);
    if (item.is("dotted_name")) {
      const std::string name(item.text(src));
      names_[name] = base + "." + name;
    } else if (item.is("aliased_import")) {
      const Node name = item.field("name"), alias = item.field("alias");
      if (name && alias) names_[std::string(alias.text(src))] = base + "." + std::string(name.text(src));
    }
  }
}

std::string ImportTable::resolve(std::string_view dotted) const {
  const size_t dot = dotted.find('.');
  const std::string head(dotted.substr(0, dot));
  const auto it = names_.find(head);
  if (it == names_.end()) return std::string(dotted);
  return dot == std::string_view::npos ? it->second : it->second + std::string(dotted.substr(dot));
}

std::string ImportTable::local_name_of(std::string_view qualified_module) const {
  for (const auto& [local, qualified] : names_)
    if (qualified == qualified_module) return local;
  return {};
}

std::string dotted_name(Node expr, const SourceText& src) {
  // Iterative: attribute chains in generated code can be long.
  std::string out;
  Node n = expr;
  for (int guard = 0; guard < 64 && n; ++guard) {
    if (n.is("identifier")) {
      const std::string_view t = n.text(src);
      return out.empty() ? std::string(t) : std::string(t) + "." + out;
    }
    if (!n.is("attribute")) return {};
    const Node attr = n.field("attribute");
    if (!attr) return {};
    out = out.empty() ? std::string(attr.text(src)) : std::string(attr.text(src)) + "." + out;
    n = n.field("object");
  }
  return {};
}

std::string_view last_component(std::string_view dotted) {
  const size_t dot = dotted.rfind('.');
  return dot == std::string_view::npos ? dotted : dotted.substr(dot + 1);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_under(std::string_view qualified, std::string_view prefix) {
  return qualified == prefix || (qualified.size() > prefix.size() && qualified.substr(0, prefix.size()) == prefix &&
                                 qualified[prefix.size()] == '.');
}

}  // namespace codedag::lint
