#include "codedag/server/panel_server.hpp"

#include "codedag/server/web_assets.hpp"

namespace codedag::server {

PanelServer::PanelServer(PanelOptions options) : options_(std::move(options)) {
  token_ = options_.token.empty() ? new_token() : options_.token;
  ctx_ = std::make_unique<PanelContext>(options_.home);
}

PanelServer::~PanelServer() { stop(); }

int PanelServer::start() {
  http_ = std::make_unique<HttpServer>(AccessGuard(token_, "codedag_panel", options_.allowed_hosts));
  add_run_routes(*http_, *ctx_);
  add_artifact_routes(*http_, *ctx_);
  add_diff_routes(*http_, *ctx_);
  add_action_routes(*http_, *ctx_);
  http_->get("/(|[A-Za-z0-9_-]+\\.(html|css|js))", [](const HttpRequest& req) {
    // The link with ?token= has set the cookie (AccessGuard): send the page to a clean URL so the
    // token does not stay in the address bar or the history.
    if (req.query.count("token") && (req.path == "/" || req.path == "/index.html")) {
      HttpResponse r;
      r.status = 303;
      r.content_type = "text/plain";
      r.body = "see /";
      r.headers.emplace_back("Location", "/");
      return r;
    }
    const WebAsset* asset = find_web_asset(req.path);
    if (!asset) return HttpResponse::error(404, "no such page: " + req.path);
    HttpResponse r;
    r.content_type = std::string(asset->content_type);
    r.body = std::string(asset->body);
    // Only our own script and style; no inline script, no frames, no other origin.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    return r;
  });
  port_ = http_->bind(options_.host, options_.port);
  // The cookie name carries the port: two panels on one machine keep their tokens apart.
  http_->guard().set_cookie_name("codedag_panel_" + std::to_string(port_));
  ctx_->events().start();
  return port_;
}

void PanelServer::serve() { http_->serve(); }

void PanelServer::stop() {
  if (http_) http_->stop();
  if (ctx_) ctx_->events().stop();
}

std::string PanelServer::url() const {
  const bool v6 = options_.host.find(':') != std::string::npos;
  const std::string host = options_.host == "0.0.0.0" || options_.host == "::" ? "127.0.0.1"
                           : v6                                                ? "[" + options_.host + "]"
                                                                               : options_.host;
  return "http://" + host + ":" + std::to_string(port_) + "/?token=" + token_;
}

}  // namespace codedag::server
