#include "codedag/server/http_server.hpp"

#include <httplib.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "codedag/common/error.hpp"
#include "codedag/common/json_file.hpp"

namespace codedag::server {

std::string HttpRequest::param(const std::string& name, const std::string& fallback) const {
  const auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

HttpResponse HttpResponse::json_body(const std::string& text, int status) {
  HttpResponse r;
  r.status = status;
  r.body = text;
  return r;
}

HttpResponse HttpResponse::error(int status, const std::string& message) {
  return json_body(json{{"error", message}, {"status", status}}.dump(-1, ' ', false, json::error_handler_t::replace),
                   status);
}

struct HttpServer::Impl {
  explicit Impl(AccessGuard g) : guard(std::move(g)) {}
  AccessGuard guard;
  httplib::Server server;
};

namespace {

RequestFacts facts_of(const httplib::Request& req) {
  RequestFacts f;
  f.method = req.method;
  f.host = req.get_header_value("Host");
  f.authorization = req.get_header_value("Authorization");
  f.cookie = req.get_header_value("Cookie");
  if (req.has_param("token")) f.token_param = req.get_param_value("token");
  f.csrf_header = req.get_header_value(kCsrfHeader);
  return f;
}

void send(httplib::Response& res, const HttpResponse& r) {
  res.status = r.status;
  for (const auto& [name, value] : r.headers) res.set_header(name, value);
  res.set_content(r.body, r.content_type);
}

HttpRequest convert(const httplib::Request& req) {
  HttpRequest r;
  r.method = req.method;
  r.path = req.path;
  for (size_t i = 1; i < req.matches.size(); ++i) r.captures.push_back(req.matches[i].str());
  for (const auto& [name, value] : req.params) r.query.emplace(name, value);  // multimap: first wins
  r.body = req.body;
  for (const auto& [name, value] : req.headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace(lower, value);
  }
  return r;
}

// Runs a handler; what it throws becomes a JSON error with the status its class stands for.
HttpResponse guarded(const HttpHandler& handler, const HttpRequest& req) {
  try {
    return handler(req);
  } catch (const NotFoundError& e) {
    return HttpResponse::error(404, e.what());
  } catch (const InputError& e) {
    return HttpResponse::error(400, e.what());
  } catch (const StateError& e) {
    return HttpResponse::error(409, e.what());
  } catch (const std::exception& e) {
    return HttpResponse::error(500, e.what());
  }
}

}  // namespace

HttpServer::HttpServer(AccessGuard guard, HttpLimits limits) : impl_(std::make_unique<Impl>(std::move(guard))) {
  httplib::Server& s = impl_->server;
  const size_t threads = limits.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_payload_max_length(limits.max_body_bytes);
  s.set_read_timeout(limits.read_timeout_s, 0);
  s.set_write_timeout(limits.write_timeout_s, 0);
  s.set_keep_alive_max_count(1000);
  // Without TCP_NODELAY (cpp-httplib's default is off) a response written as headers then body
  // waits for the client's delayed ACK: 40 ms and more added to every answer.
  s.set_tcp_nodelay(true);
  // SO_REUSEADDR only: cpp-httplib's default, SO_REUSEPORT, would let a second panel (or any
  // process of this user) bind the same port and take half of the requests, tokens included.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // The guard runs before routing: a request without the token or with a foreign Host never
  // reaches a handler (or learns which paths exist).
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const AccessVerdict v = impl_->guard.check(facts_of(req));
    if (v.status != 200) {
      HttpResponse r = HttpResponse::error(v.status, v.reason);
      if (v.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
      send(res, r);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (v.set_cookie) res.set_header("Set-Cookie", impl_->guard.cookie_header());
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
    if (!res.has_header("Cache-Control")) res.set_header("Cache-Control", "no-store");
  });
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler's own error body
    const std::string msg = res.status == 404 ? "no such page or API: " + req.path : "request failed";
    send(res, HttpResponse::error(res.status, msg));
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send(res, HttpResponse::error(500, what));
  });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::get(const std::string& pattern, HttpHandler handler) {
  impl_->server.Get(pattern, [h = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    send(res, guarded(h, convert(req)));
  });
}

void HttpServer::post(const std::string& pattern, HttpHandler handler) {
  impl_->server.Post(pattern, [h = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    send(res, guarded(h, convert(req)));
  });
}

int HttpServer::bind(const std::string& host, int port) {
  if (port < 0 || port > 65535) throw InputError("--port " + std::to_string(port) + " is not a port (0-65535)");
  errno = 0;
  const int got =
      port == 0 ? impl_->server.bind_to_any_port(host) : (impl_->server.bind_to_port(host, port) ? port : -1);
  if (got < 0)
    throw SystemCallError("cannot listen on " + host + ":" + std::to_string(port) +
                          (errno ? std::string(": ") + std::strerror(errno) : std::string()) +
                          " (is the port taken? --port 0 picks a free one)");
  return got;
}

AccessGuard& HttpServer::guard() { return impl_->guard; }

void HttpServer::serve() { impl_->server.listen_after_bind(); }

void HttpServer::stop() {
  if (impl_ && impl_->server.is_running()) impl_->server.stop();
}

bool HttpServer::running() const { return impl_->server.is_running(); }

}  // namespace codedag::server
