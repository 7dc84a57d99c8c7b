#include "codedag/server/panel_context.hpp"

#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "codedag/common/error.hpp"
#include "codedag/store/run_file.hpp"

namespace codedag::server {

PanelContext::PanelContext(const std::string& home) : store_(home) {
  home_ = store_.layout().home();
  // Opening the index runs its migrations, so the run table finds the value tables it reads.
  const std::string index_path = store_.index().path();
  std::vector<std::string> warnings;
  store_.sync(&warnings);
  table_ = std::make_unique<store::RunTable>(index_path);
  events_ = std::make_unique<EventFeed>(home_, index_path);
}

std::string PanelContext::self_executable() const {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw_system_error("cannot find the codedag executable", "/proc/self/exe");
  return std::string(buf, static_cast<size_t>(n));
}

LoadedRun load_run_record(PanelContext& ctx, const std::string& id) {
  return ctx.with_store([&](store::Store& s, store::RunTable&) {
    LoadedRun r;
    r.ref = s.resolve(id);
    r.record = store::load_run(r.ref.info_dir);
    return r;
  });
}

std::string attachment_path(const LoadedRun& run, const std::string& kind) {
  const auto attachments = run.record.find("attachments");
  if (attachments == run.record.end() || !attachments->is_object()) return "";
  const auto list = attachments->find(kind);
  if (list == attachments->end() || !list->is_array() || list->empty() || !list->back().is_string()) return "";
  const std::string rel = list->back().get<std::string>();
  namespace fs = std::filesystem;
  const fs::path p = fs::path(rel).lexically_normal();
  if (rel.empty() || p.is_absolute() || p.empty() || *p.begin() == "..")
    throw FormatError(run.ref.info_dir + "/run.json: attachments." + kind + " names '" + rel +
                      "', outside the run's directory: not read");
  return run.ref.info_dir + "/" + p.string();
}

size_t size_param(const HttpRequest& req, const std::string& name, size_t fallback, size_t max) {
  const std::string text = req.param(name);
  if (text.empty()) return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (end != text.c_str() + text.size() || v < 0)
    throw InputError("parameter " + name + "='" + text + "' is not a whole number >= 0");
  return std::min(static_cast<size_t>(v), max);
}

std::optional<double> number_param(const HttpRequest& req, const std::string& name) {
  const std::string text = req.param(name);
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v))
    throw InputError("parameter " + name + "='" + text + "' is not a number");
  return v;
}

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

json number_or_null(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

}  // namespace codedag::server
