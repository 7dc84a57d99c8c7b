#pragma once
// The panel's HTTP layer: cpp-httplib (Debian's libcpp-httplib-dev, 0.11.4; plain HTTP only, its
// TLS is never used) behind a small interface, so only http_server.cpp includes it and the rest
// of the panel deals in plain request/response values. Every request passes
// the AccessGuard before any handler runs; handlers' codedag errors become JSON error bodies
// (InputError 400, NotFoundError 404, StateError 409, anything else 500), never a dropped
// connection.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "codedag/server/access_guard.hpp"

namespace codedag::server {

struct HttpRequest {
  std::string method;
  std::string path;                          // decoded
  std::vector<std::string> captures;         // the route pattern's groups
  std::map<std::string, std::string> query;  // first value of each parameter
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case

  // The parameter's value, or `fallback` when absent.
  std::string param(const std::string& name, const std::string& fallback = "") const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse json_body(const std::string& text, int status = 200);
  static HttpResponse error(int status, const std::string& message);
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpLimits {
  size_t max_body_bytes = 1 << 20;
  int read_timeout_s = 10;
  int write_timeout_s = 60;
  size_t threads = 16;  // long polls hold one each
};

class HttpServer {
 public:
  explicit HttpServer(AccessGuard guard, HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes: `pattern` is an ECMAScript regex matched against the whole decoded path.
  void get(const std::string& pattern, HttpHandler handler);
  void post(const std::string& pattern, HttpHandler handler);

  // Binds (port 0: a free port is chosen) and returns the port. SystemCallError when it cannot.
  int bind(const std::string& host, int port);
  AccessGuard& guard();
  // Serves until stop() (from another thread or a signal handler's thread).
  void serve();
  void stop();
  bool running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace codedag::server
