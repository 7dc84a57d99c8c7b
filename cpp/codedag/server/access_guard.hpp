#pragma once
// Who may talk to the panel (docs/panel.md, "Security"). Login nodes are shared, so even on
// loopback every request needs the panel's token:
//   - `Authorization: Bearer <token>`, or `?token=<token>` (the link printed at start-up), after
//     which the page gets an HttpOnly, SameSite=Strict cookie and the token leaves the URL;
//   - a Host header naming loopback (localhost, 127.0.0.1, [::1], any port) or a host allowed
//     with --allow-host; anything else is 403 (a DNS-rebinding page has its own host name);
//   - changes (POST) also need the `X-CodeDAG-Request: 1` header, which a cross-site form or
//     image cannot send and a cross-site script cannot either without a CORS grant, never given.
// Tokens are compared in constant time. Nothing here touches sockets: it is tested on plain values.
#include <optional>
#include <string>
#include <vector>

namespace codedag::server {

// 32 random bytes from getrandom(2), hex encoded.
std::string new_token();

// "localhost:8080" -> "localhost", "[::1]:80" -> "::1", "127.0.0.1" -> "127.0.0.1" (lower case).
std::string host_without_port(const std::string& host_header);

// Loopback names and addresses: localhost, *.localhost, 127.0.0.0/8, ::1.
bool is_loopback_host(const std::string& host);

bool tokens_equal(const std::string& a, const std::string& b);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), if any.
std::optional<std::string> cookie_value(const std::string& cookie_header, const std::string& name);

struct RequestFacts {
  std::string method;                      // GET, POST, ...
  std::string host;                        // Host header ("" when absent)
  std::string authorization;               // Authorization header
  std::string cookie;                      // Cookie header
  std::optional<std::string> token_param;  // ?token=
  std::string csrf_header;                 // X-CodeDAG-Request
};

struct AccessVerdict {
  int status = 200;         // 200: allowed; 401, 403, 405
  std::string reason;       // for the error body
  bool set_cookie = false;  // the token came in the URL: give the browser its cookie
};

class AccessGuard {
 public:
  // `allowed_hosts`: extra Host names accepted besides loopback (e.g. the node's name when the
  // panel listens on another interface on purpose).
  AccessGuard(std::string token, std::string cookie_name, std::vector<std::string> allowed_hosts = {});

  AccessVerdict check(const RequestFacts& request) const;
  const std::string& token() const { return token_; }
  const std::string& cookie_name() const { return cookie_name_; }
  // Browsers send a host's cookies to every port of it: each panel names its cookie after its port.
  void set_cookie_name(std::string name) { cookie_name_ = std::move(name); }
  // The Set-Cookie header value that carries the token.
  std::string cookie_header() const;

 private:
  std::string token_;
  std::string cookie_name_;
  std::vector<std::string> allowed_hosts_;
};

inline constexpr const char* kCsrfHeader = "X-CodeDAG-Request";

}  // namespace codedag::server
