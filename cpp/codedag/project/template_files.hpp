#pragma once
// The files of templates/project/, compiled in by cmake/embed_templates.cmake: "common/<file>" go
// into every project, "<template>/<file>" into that template's.
#include <cstddef>
#include <string_view>

namespace codedag::project {

struct TemplateFile {
  std::string_view path;  // relative to templates/project/
  std::string_view content;
};

extern const TemplateFile kTemplateFiles[];
extern const size_t kTemplateFileCount;

}  // namespace codedag::project
