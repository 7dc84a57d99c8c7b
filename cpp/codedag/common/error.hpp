#pragma once
// The one exception hierarchy of the engine. The bindings translate each class once into a
// Python exception of the same name (codedag.Error, codedag.FormatError, ...), and the CLI prints
// what() after a ✗. Messages say what went wrong, where, and what to do about it.
#include <stdexcept>
#include <string>

namespace codedag {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The caller passed something unusable (an argument, an option, a name).
class InputError : public Error {
 public:
  using Error::Error;
};

// A file's content is not what its format says (bad JSON, wrong schema, dangling id...).
// The message names the file and the position or element.
class FormatError : public InputError {
 public:
  using InputError::InputError;
};

// A plan breaks a constraint of the cost model; the message names the constraint.
class InfeasiblePlanError : public Error {
 public:
  using Error::Error;
};

// Something asked for does not exist (a run id, a file, a node).
class NotFoundError : public Error {
 public:
  using Error::Error;
};

// An operation was used in the wrong state (a tracer started twice, a run ended twice).
class StateError : public Error {
 public:
  using Error::Error;
};

// The operating system refused (open, write, rename, fork ...); the message carries errno's text.
class SystemCallError : public Error {
 public:
  using Error::Error;
};

// Builds a SystemCallError from the current errno: "<what> '<path>': <strerror>".
[[noreturn]] void throw_system_error(const std::string& what, const std::string& path);

}  // namespace codedag
