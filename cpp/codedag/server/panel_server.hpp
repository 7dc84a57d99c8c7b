#pragma once
// `codedag panel`: the HTTP server over one store — the JSON API (docs/panel.md) and the page
// embedded from web/. Loopback and a token by default (see access_guard.hpp).
#include <memory>
#include <string>
#include <vector>

#include "codedag/server/http_server.hpp"
#include "codedag/server/panel_context.hpp"

namespace codedag::server {

struct PanelOptions {
  std::string home;  // store; empty: CODEDAG_HOME or ~/.codedag
  std::string host = "127.0.0.1";
  int port = 0;                            // 0: a free port
  std::string token;                       // empty: a new random one
  std::vector<std::string> allowed_hosts;  // Host names accepted besides loopback
};

class PanelServer {
 public:
  explicit PanelServer(PanelOptions options);
  ~PanelServer();

  // Binds and starts the event feed; returns the port.
  int start();
  // Serves until stop().
  void serve();
  void stop();

  const std::string& token() const { return token_; }
  int port() const { return port_; }
  // http://HOST:PORT/?token=TOKEN (IPv6 hosts in brackets).
  std::string url() const;
  PanelContext& context() { return *ctx_; }

 private:
  PanelOptions options_;
  std::string token_;
  int port_ = 0;
  std::unique_ptr<PanelContext> ctx_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace codedag::server
