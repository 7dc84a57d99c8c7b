// The panel over HTTP on loopback (a real server, a real client, a real store): the access rules,
// the JSON API's answers and errors, the page, and changes through POST.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "codedag/graph/model/dag.hpp"
#include "codedag/server/panel_server.hpp"
#include "codedag/store/experiment.hpp"

namespace fs = std::filesystem;
using namespace codedag;
using namespace codedag::server;

namespace {

const std::string kToken = "test-token-0123456789abcdef";

std::string fresh_home() {
  const fs::path dir = fs::temp_directory_path() / ("codedag_panel_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

class PanelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    home_ = fresh_home();
    for (int i = 0; i < 3; ++i) {
      store::Experiment e("demo", home_);
      store::StartOptions o;
      o.argv = {"python", "train.py"};
      o.heartbeat = false;
      e.start(o);
      e.dump_info("params", json{{"lr", 0.1 * (i + 1)}, {"model", "mlp"}});
      for (int s = 0; s < 2000; ++s) e.log_metric("loss", 1.0 / (s + 1) + (s == 1234 ? 50.0 : 0.0), s);
      e.flush_metrics();
      if (i == 0) {  // a pipeline DAG attached, as the tracer does
        graph::Dag d;
        graph::Node n;
        n.id = 1;
        n.name = "load";
        n.qualname = "pkg.load";
        d.add_node(n);
        const std::string dag_path = home_ + "/dag.json";
        d.save(dag_path);
        e.attach("dag", dag_path);
      }
      e.end("finished");
      ids_.push_back(e.test_name());
    }
    PanelOptions po;
    po.home = home_;
    po.token = kToken;
    server_ = new PanelServer(po);
    port_ = server_->start();
    thread_ = new std::thread([] { server_->serve(); });
    for (int i = 0; i < 200 && !client().Get("/api/info"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  static void TearDownTestSuite() {
    server_->stop();
    thread_->join();
    delete thread_;
    delete server_;
    fs::remove_all(home_);
  }
  static httplib::Client client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    return c;
  }
  static httplib::Headers auth() { return {{"Authorization", "Bearer " + kToken}}; }
  static json get_json(const std::string& path, int expect = 200) {
    auto r = client().Get(path, auth());
    EXPECT_TRUE(r) << path;
    if (!r) return json();
    EXPECT_EQ(r->status, expect) << path << ": " << r->body;
    return json::parse(r->body);
  }
  static inline std::string home_;
  static inline std::vector<std::string> ids_;
  static inline PanelServer* server_ = nullptr;
  static inline std::thread* thread_ = nullptr;
  static inline int port_ = 0;
};

}  // namespace

TEST_F(PanelTest, RefusesWithoutTokenOrWithAForeignHost) {
  auto r = client().Get("/api/runs");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find("token"), std::string::npos);
  r = client().Get("/", httplib::Headers{{"Host", "evil.example.com"}, {"Authorization", "Bearer " + kToken}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = client().Get("/api/runs", httplib::Headers{{"Authorization", "Bearer nope"}});
  EXPECT_EQ(r->status, 401);
  EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
}

TEST_F(PanelTest, TheLinkSetsACookieAndLeavesTheTokenOutOfTheUrl) {
  auto r = client().Get("/?token=" + kToken);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 303);
  EXPECT_EQ(r->get_header_value("Location"), "/");
  const std::string cookie = r->get_header_value("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  const std::string pair = cookie.substr(0, cookie.find(';'));
  r = client().Get("/", httplib::Headers{{"Cookie", pair}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("<script src=\"/app.js\">"), std::string::npos);
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  r = client().Get("/app.js", httplib::Headers{{"Cookie", pair}});
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/javascript", 0), 0u);
}

TEST_F(PanelTest, RunsPageAndRun) {
  const json page = get_json("/api/runs?limit=2&sort=-params.lr");
  EXPECT_EQ(page["total"], 3);
  ASSERT_EQ(page["runs"].size(), 2u);
  EXPECT_EQ(page["runs"][0]["test_name"], ids_[2]);
  EXPECT_EQ(page["constant"]["params.model"], "mlp");
  const json filtered = get_json("/api/runs?q=params.lr%3E0.25");
  EXPECT_EQ(filtered["total"], 1);
  const json bad = get_json("/api/runs?q=%3D3", 400);
  EXPECT_NE(bad["error"].get<std::string>().find("no key"), std::string::npos);
  get_json("/api/runs?limit=ten", 400);
  const json run = get_json("/api/runs/" + ids_[0]);
  EXPECT_EQ(run["test_name"], ids_[0]);
  EXPECT_EQ(run["values"]["params.lr"], 0.1);
  EXPECT_EQ(run["metric_series"]["keys"][0]["points"], 2000);
  EXPECT_TRUE(run["artifacts"]["dag"].get<bool>());
  get_json("/api/runs/999999.999.zzz", 404);
}

TEST_F(PanelTest, MetricBucketsKeepTheSpike) {
  const json m = get_json("/api/runs/" + ids_[1] + "/metrics/loss?points=100");
  EXPECT_EQ(m["raw_points"], 2000);
  EXPECT_LE(m["buckets"].size(), 100u);
  double max = 0;
  for (const auto& b : m["buckets"]) max = std::max(max, b[3].get<double>());
  EXPECT_GT(max, 50);
  const json zoom = get_json("/api/runs/" + ids_[1] + "/metrics/loss?points=100&from=1200&to=1250");
  EXPECT_EQ(zoom["points_in_range"], 51);
  EXPECT_EQ(zoom["buckets"].size(), 51u);
  const json overlay = get_json("/api/metrics?key=loss&points=50&runs=" + ids_[0] + "," + ids_[1]);
  EXPECT_EQ(overlay["series"].size(), 2u);
  const json missing = get_json("/api/runs/" + ids_[1] + "/metrics/nothing");
  EXPECT_FALSE(missing["present"].get<bool>());
}

TEST_F(PanelTest, DagDiffAndEvents) {
  const json dag = get_json("/api/runs/" + ids_[0] + "/dag");
  EXPECT_TRUE(dag["present"].get<bool>());
  EXPECT_EQ(dag["nodes"][0]["executor"], "cpu");
  auto svg = client().Get("/api/runs/" + ids_[0] + "/dag.svg", auth());
  EXPECT_EQ(svg->status, 200);
  EXPECT_EQ(svg->body.rfind("<svg", 0), 0u);
  const json none = get_json("/api/runs/" + ids_[1] + "/dag");
  EXPECT_FALSE(none["present"].get<bool>());
  const json diff = get_json("/api/diff?a=" + ids_[0] + "&b=" + ids_[1]);
  EXPECT_EQ(diff["params"]["params.lr"][0], 0.1);
  EXPECT_TRUE(diff.contains("plan"));
  get_json("/api/diff?a=" + ids_[0], 400);
  const json events = get_json("/api/events?since=0&wait=0");
  EXPECT_TRUE(events.contains("seq"));
}

TEST_F(PanelTest, ChangesNeedPostAndTheHeader) {
  httplib::Headers h = auth();
  auto r = client().Post("/api/runs/" + ids_[2] + "/tag", h, "{\"tag\":\"best\"}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);  // no X-CodeDAG-Request
  h.emplace(kCsrfHeader, "1");
  r = client().Post("/api/runs/" + ids_[2] + "/tag", h, "not json", "application/json");
  EXPECT_EQ(r->status, 400);
  // A tag for real runs the panel's own executable (`codedag tag`), which this test binary is not:
  // that is tested through the CLI (tests/python/integration/test_panel.py). Here: a missing label.
  r = client().Post("/api/runs/" + ids_[2] + "/tag", h, "{}", "application/json");
  EXPECT_EQ(r->status, 400);
}
