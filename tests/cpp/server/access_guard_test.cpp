// Who may use the panel: token (header, link, cookie), Host allowlist, CSRF header on changes.
#include <gtest/gtest.h>

#include "codedag/common/error.hpp"
#include "codedag/server/access_guard.hpp"

using namespace codedag::server;

namespace {

const std::string kToken = "0123456789abcdef0123456789abcdef";

RequestFacts get(const std::string& host) {
  RequestFacts r;
  r.method = "GET";
  r.host = host;
  return r;
}

}  // namespace

TEST(AccessGuard, HostNames) {
  EXPECT_EQ(host_without_port("LocalHost:8080"), "localhost");
  EXPECT_EQ(host_without_port("[::1]:80"), "::1");
  EXPECT_EQ(host_without_port("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(host_without_port("localhost."), "localhost");
  for (const char* ok : {"localhost", "127.0.0.1", "127.1.2.3", "::1", "app.localhost"})
    EXPECT_TRUE(is_loopback_host(ok)) << ok;
  for (const char* bad : {"evil.com", "127.0.0.1.evil.com", "localhost.evil.com", "127.0.0", "127.0.0.256", "0.0.0.0",
                          "10.0.0.1", "", "127.0.0.1a"})
    EXPECT_FALSE(is_loopback_host(bad)) << bad;
}

TEST(AccessGuard, TokensAndCookies) {
  EXPECT_TRUE(tokens_equal(kToken, kToken));
  EXPECT_FALSE(tokens_equal(kToken, kToken + "0"));
  EXPECT_FALSE(tokens_equal("", ""));
  EXPECT_EQ(new_token().size(), 64u);
  EXPECT_NE(new_token(), new_token());
  EXPECT_EQ(cookie_value("a=1; codedag_panel_80=xyz; b=2", "codedag_panel_80"), "xyz");
  EXPECT_FALSE(cookie_value("xcodedag_panel_80=1", "codedag_panel_80").has_value());
  EXPECT_FALSE(cookie_value("", "a").has_value());
  EXPECT_THROW(AccessGuard("short", "c"), codedag::InputError);
}

TEST(AccessGuard, Verdicts) {
  const AccessGuard guard(kToken, "codedag_panel_80", {"node17.cluster"});
  RequestFacts r = get("127.0.0.1:80");
  EXPECT_EQ(guard.check(r).status, 401);
  r.authorization = "Bearer " + kToken;
  EXPECT_EQ(guard.check(r).status, 200);
  r.authorization = "Bearer wrong";
  EXPECT_EQ(guard.check(r).status, 401);

  RequestFacts link = get("localhost:80");
  link.token_param = kToken;
  const AccessVerdict v = guard.check(link);
  EXPECT_EQ(v.status, 200);
  EXPECT_TRUE(v.set_cookie);
  EXPECT_NE(guard.cookie_header().find("HttpOnly"), std::string::npos);
  EXPECT_NE(guard.cookie_header().find("SameSite=Strict"), std::string::npos);

  RequestFacts cookie = get("[::1]:80");
  cookie.cookie = "codedag_panel_80=" + kToken;
  EXPECT_EQ(guard.check(cookie).status, 200);
  EXPECT_FALSE(guard.check(cookie).set_cookie);

  // DNS rebinding: the right token from a page on another host name is still refused.
  RequestFacts rebound = cookie;
  rebound.host = "attacker.example:80";
  EXPECT_EQ(guard.check(rebound).status, 403);
  rebound.host = "";
  EXPECT_EQ(guard.check(rebound).status, 403);
  rebound.host = "node17.cluster:80";  // allowed on purpose
  EXPECT_EQ(guard.check(rebound).status, 200);

  RequestFacts post = cookie;
  post.method = "POST";
  EXPECT_EQ(guard.check(post).status, 403);
  post.csrf_header = "1";
  EXPECT_EQ(guard.check(post).status, 200);
  post.method = "DELETE";
  EXPECT_EQ(guard.check(post).status, 405);
}
