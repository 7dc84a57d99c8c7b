// The C++ error hierarchy, translated once into Python exceptions with the same names.
#include <nanobind/nanobind.h>

#include "bindings.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/terminal.hpp"

namespace codedag::bindings {

void add_errors(nb::module_& m) {
  // Base classes first: each derived exception subclasses its C++ parent's Python class, and the
  // Python classes also subclass the matching builtin (ValueError, FileNotFoundError, OSError...)
  // so ordinary `except ValueError` code keeps working.
  static nb::object error = nb::borrow(
      PyErr_NewExceptionWithDoc("codedag.Error", "Base class of every CodeDAG error.", PyExc_RuntimeError, nullptr));
  auto derive = [&m](const char* name, const char* doc, std::initializer_list<nb::handle> bases) {
    nb::tuple base_tuple = nb::steal<nb::tuple>(PyTuple_New(static_cast<Py_ssize_t>(bases.size())));
    Py_ssize_t i = 0;
    for (nb::handle b : bases) PyTuple_SET_ITEM(base_tuple.ptr(), i++, nb::borrow(b).release().ptr());
    const std::string qualified = std::string("codedag.") + name;
    nb::object cls = nb::steal(PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base_tuple.ptr(), nullptr));
    m.attr(name) = cls;
    return cls;
  };
  m.attr("Error") = error;
  static nb::object input =
      derive("InputError", "Unusable input: an argument, option or name.", {error, PyExc_ValueError});
  static nb::object format = derive("FormatError", "A file's content does not match its format.", {input});
  static nb::object infeasible =
      derive("InfeasiblePlanError", "A plan breaks a constraint of the cost model.", {error, PyExc_ValueError});
  static nb::object not_found =
      derive("NotFoundError", "Something asked for does not exist.", {error, PyExc_LookupError});
  static nb::object state = derive("StateError", "An operation was used in the wrong state.", {error});
  static nb::object system =
      derive("SystemCallError", "The operating system refused an operation.", {error, PyExc_OSError});

  // One translator for the whole hierarchy: the most derived class wins. Messages quote ids, paths
  // and file contents: escaped (valid UTF-8, no control characters but newlines), so raising one can
  // neither fail with UnicodeDecodeError nor drive the terminal that prints the traceback.
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    const auto set = [](const nb::object& type, const std::exception& e) {
      PyErr_SetString(type.ptr(), term::printable(e.what(), /*keep_newlines=*/true).c_str());
    };
    try {
      std::rethrow_exception(p);
    } catch (const FormatError& e) {
      set(format, e);
    } catch (const InputError& e) {
      set(input, e);
    } catch (const InfeasiblePlanError& e) {
      set(infeasible, e);
    } catch (const NotFoundError& e) {
      set(not_found, e);
    } catch (const StateError& e) {
      set(state, e);
    } catch (const SystemCallError& e) {
      set(system, e);
    } catch (const Error& e) {
      set(error, e);
    }
  });
}

}  // namespace codedag::bindings
