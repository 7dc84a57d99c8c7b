#include "codedag/server/access_guard.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cctype>

#include "codedag/common/error.hpp"

namespace codedag::server {

std::string new_token() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) throw_system_error("cannot draw a random panel token", "getrandom");
    got += static_cast<size_t>(n);
  }
  static const char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char b : bytes) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

std::string host_without_port(const std::string& header) {
  std::string h = header;
  for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!h.empty() && h[0] == '[') {  // [::1]:8080
    const size_t close = h.find(']');
    return close == std::string::npos ? h : h.substr(1, close - 1);
  }
  const size_t colon = h.find(':');
  if (colon != std::string::npos && h.find(':', colon + 1) == std::string::npos) h = h.substr(0, colon);
  if (!h.empty() && h.back() == '.') h.pop_back();  // "localhost." is the same name
  return h;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  if (host.size() > 10 && host.compare(host.size() - 10, 10, ".localhost") == 0) return true;
  // 127.x.y.z, each part a number 0-255.
  if (host.rfind("127.", 0) != 0) return false;
  int parts = 0;
  size_t i = 0;
  while (i <= host.size()) {
    size_t j = i;
    int value = 0;
    while (j < host.size() && std::isdigit(static_cast<unsigned char>(host[j])) && j - i < 3)
      value = value * 10 + (host[j++] - '0');
    if (j == i || value > 255) return false;
    ++parts;
    if (j == host.size()) break;
    if (host[j] != '.') return false;
    i = j + 1;
  }
  return parts == 4;
}

bool tokens_equal(const std::string& a, const std::string& b) {
  // Constant time in the content: every byte of the longer string is looked at.
  unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0 && !b.empty();
}

std::optional<std::string> cookie_value(const std::string& header, const std::string& name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    size_t a = pos;
    while (a < end && header[a] == ' ') ++a;
    const size_t eq = header.find('=', a);
    if (eq != std::string::npos && eq < end && header.compare(a, eq - a, name) == 0 && eq - a == name.size())
      return header.substr(eq + 1, end - eq - 1);
    pos = end + 1;
  }
  return std::nullopt;
}

AccessGuard::AccessGuard(std::string token, std::string cookie_name, std::vector<std::string> allowed_hosts)
    : token_(std::move(token)), cookie_name_(std::move(cookie_name)), allowed_hosts_(std::move(allowed_hosts)) {
  if (token_.size() < 16)
    throw InputError("the panel token must have at least 16 characters (leave --token out to get a random one)");
  for (std::string& h : allowed_hosts_) h = host_without_port(h);
}

std::string AccessGuard::cookie_header() const {
  return cookie_name_ + "=" + token_ + "; HttpOnly; SameSite=Strict; Path=/";
}

AccessVerdict AccessGuard::check(const RequestFacts& r) const {
  const std::string host = host_without_port(r.host);
  if (host.empty() || (!is_loopback_host(host) &&
                       std::find(allowed_hosts_.begin(), allowed_hosts_.end(), host) == allowed_hosts_.end()))
    return {403,
            "Host '" + r.host +
                "' is not this panel's (open it as http://127.0.0.1:<port>/ or allow the name "
                "with --allow-host)",
            false};
  bool set_cookie = false;
  bool ok = false;
  if (r.authorization.rfind("Bearer ", 0) == 0) ok = tokens_equal(r.authorization.substr(7), token_);
  if (!ok && r.token_param) {
    ok = tokens_equal(*r.token_param, token_);
    set_cookie = ok;
  }
  if (!ok)
    if (const auto c = cookie_value(r.cookie, cookie_name_)) ok = tokens_equal(*c, token_);
  if (!ok)
    return {401,
            "a token is needed: open the link `codedag panel` printed (it carries ?token=...) or send "
            "Authorization: Bearer <token>",
            false};
  if (r.method != "GET" && r.method != "HEAD" && r.method != "POST")
    return {405, "only GET and POST are served", false};
  if (r.method == "POST" && r.csrf_header != "1")
    return {403, std::string("changes need the header ") + kCsrfHeader + ": 1", false};
  return {200, "", set_cookie};
}

}  // namespace codedag::server
