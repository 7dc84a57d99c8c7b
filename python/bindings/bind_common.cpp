// Version and terminal helpers shared by the Python modules.
#include <nanobind/stl/string.h>

#include <nanobind/stl/pair.h>
#include <nanobind/stl/vector.h>
#include "bindings.hpp"

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/terminal.hpp"
#include "codedag/common/version.hpp"

namespace codedag::bindings {

namespace {

// Renders with the C++ habits into a string that Python writes to its own sys.stdout, so output
// of the two languages never interleaves out of order.
class TextPrinter {
 public:
  explicit TextPrinter(bool is_tty) : style_(term::detect_style(is_tty)), printer_(&text_, style_) {}
  template <class F>
  std::string render(F f) {
    text_.clear();
    f(printer_);
    return text_;
  }
  const term::Style& style() const { return style_; }

 private:
  std::string text_;
  term::Style style_;
  term::Printer printer_;
};

// A progress bar rendered to text (for codedag._term.Terminal.progress): its own printer, so the
// bar's state (last drawn quarter, redraw clock) lives as long as the bar.
class TextProgress {
 public:
  TextProgress(bool is_tty, std::string label, size_t total)
      : style_(term::detect_style(is_tty)), printer_(&text_, style_), bar_(printer_, std::move(label), total) {}
  std::string update(size_t done) {
    text_.clear();
    bar_.update(done);
    return text_;
  }
  std::string finish() {
    text_.clear();
    bar_.finish();
    return text_;
  }

 private:
  std::string text_;
  term::Style style_;
  term::Printer printer_;
  term::ProgressBar bar_;
};

}  // namespace

void add_common(nb::module_& m) {
  nb::class_<TextProgress>(m, "TextProgress", "A progress bar rendered to text (see codedag._term).")
      .def(nb::init<bool, std::string, size_t>(), nb::arg("is_tty"), nb::arg("label"), nb::arg("total"))
      .def("update", &TextProgress::update, nb::arg("done"))
      .def("finish", &TextProgress::finish);
  using Fields = std::vector<std::pair<std::string, std::string>>;
  using Rows = std::vector<std::vector<std::string>>;
  nb::class_<TextPrinter>(m, "TextPrinter", "Terminal habits rendered to text (see codedag._term).")
      .def(nb::init<bool>(), nb::arg("is_tty"))
      .def_prop_ro("colour", [](const TextPrinter& p) { return p.style().colour; })
      .def_prop_ro("silent", [](const TextPrinter& p) { return p.style().silent; })
      .def("ok", [](TextPrinter& p, const std::string& s) { return p.render([&](term::Printer& t) { t.ok(s); }); })
      .def("fail", [](TextPrinter& p, const std::string& s) { return p.render([&](term::Printer& t) { t.fail(s); }); })
      .def("warn", [](TextPrinter& p, const std::string& s) { return p.render([&](term::Printer& t) { t.warn(s); }); })
      .def("info", [](TextPrinter& p, const std::string& s) { return p.render([&](term::Printer& t) { t.info(s); }); })
      .def("header", [](TextPrinter& p, const std::string& title,
                        const Fields& fields) { return p.render([&](term::Printer& t) { t.header(title, fields); }); })
      .def(
          "summary",
          [](TextPrinter& p, const std::string& what, int passed, int failed, double seconds) {
            return p.render([&](term::Printer& t) { t.summary(what, passed, failed, seconds); });
          },
          nb::arg("what"), nb::arg("passed"), nb::arg("failed"), nb::arg("seconds") = -1.0)
      .def("table", [](TextPrinter& p, const std::vector<std::string>& headers,
                       const Rows& rows) { return p.render([&](term::Printer& t) { t.table(headers, rows); }); })
      .def("bold",
           [](TextPrinter& p, const std::string& s) { return p.render([&](term::Printer& t) { t.raw(t.bold(s)); }); })
      .def("green",
           [](TextPrinter& p, const std::string& s) { return p.render([&](term::Printer& t) { t.raw(t.green(s)); }); })
      .def("red",
           [](TextPrinter& p, const std::string& s) { return p.render([&](term::Printer& t) { t.raw(t.red(s)); }); });
  m.def("format_ns", &term::format_ns, nb::arg("ns"));
  m.def("format_bytes", &term::format_bytes, nb::arg("bytes"));

  m.attr("__version__") = kVersion;
  m.def(
      "write_file_atomic",
      [](const std::string& path, nb::bytes content) {
        write_file_atomic(path, std::string_view(content.c_str(), content.size()));
      },
      nb::arg("path"), nb::arg("content"), "Write bytes to path atomically (temporary file, fsync, rename).");
  m.def(
      "save_json",
      [](const std::string& path, nb::handle value, int indent) { save_json_file(path, to_json(value), indent); },
      nb::arg("path"), nb::arg("value"), nb::arg("indent") = 2, "Write a JSON value atomically.");
  m.def(
      "load_json", [](const std::string& path) { return from_json(load_json_file(path)); }, nb::arg("path"),
      "Read a JSON file; errors name the file, line and column.");
}

}  // namespace codedag::bindings
