#include "codedag/project/scaffold.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "codedag/common/atomic_file.hpp"
#include "codedag/common/error.hpp"
#include "codedag/common/version.hpp"

namespace codedag::project {
namespace {
namespace fs = std::filesystem;

class ScaffoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("codedag_scaffold_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST(Templates, AreTheThreeOfTheIssue) {
  EXPECT_EQ(template_names(), (std::vector<std::string>{"audio", "image", "tabular"}));
}

TEST(Templates, EveryPlaceholderIsFilledInEveryTemplate) {
  for (const auto& t : template_names()) {
    std::map<std::string, std::string> files;
    for (auto& [path, content] : render_project("birdclef_2026", t)) files[path] = content;
    for (const char* f : {"README.md", "setup_environment.sh", "requirements.txt", "Dockerfile", "docker-compose.yml",
                          "experiment.py", "experiment_config.json", "pipeline.py", ".gitignore"})
      EXPECT_TRUE(files.count(f)) << t << ": " << f;
    for (const auto& [path, content] : files) EXPECT_EQ(content.find("{{"), std::string::npos) << t << "/" << path;
    EXPECT_NE(files["requirements.txt"].find(std::string("torch==") + kTestedTorchVersion), std::string::npos);
    EXPECT_NE(files["experiment.py"].find("Experiment(\"birdclef_2026\")"), std::string::npos);
    for (const char* api : {"ExperimentMonitor", "optimize_pipeline", "Experiment"})
      EXPECT_NE(files["experiment.py"].find(api), std::string::npos) << api;
  }
}

TEST(Templates, TheImageNameIsLowerCase) {
  bool seen = false;
  for (auto& [path, content] : render_project("BirdCLEF", "audio")) {
    if (path != "docker-compose.yml") continue;
    seen = true;
    EXPECT_NE(content.find("image: birdclef"), std::string::npos);
  }
  EXPECT_TRUE(seen);
}

TEST(Templates, BadNamesAndTemplatesAreRefused) {
  for (const char* bad : {"", "1abc", "a b", "a\"b", "../x", "a/b", "a$b"})
    EXPECT_THROW(render_project(bad, "audio"), InputError) << bad;
  EXPECT_THROW(render_project("ok", "video"), InputError);
  try {
    render_project("ok", "video");
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("audio, image, tabular"), std::string::npos);
  }
}

TEST_F(ScaffoldTest, WritesTheProjectWithAnExecutableSetupScript) {
  const CreatedProject p = create_project((dir_ / "kaggle_birds").string(), "image");
  EXPECT_EQ(p.name, "kaggle_birds");
  EXPECT_TRUE(fs::is_regular_file(dir_ / "kaggle_birds" / "pipeline.py"));
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "kaggle_birds" / "setup_environment.sh").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);
  // No staging directory is left beside it.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST_F(ScaffoldTest, NeverOverwrites) {
  fs::create_directories(dir_ / "taken");
  write_file_atomic((dir_ / "taken" / "experiment.py").string(), "mine");
  EXPECT_THROW(create_project((dir_ / "taken").string(), "audio"), InputError);
  EXPECT_EQ(read_file((dir_ / "taken" / "experiment.py").string()), "mine");
  fs::create_directories(dir_ / "empty");  // even an empty directory: it was not ours to fill
  EXPECT_THROW(create_project((dir_ / "empty").string(), "audio"), InputError);
  write_file_atomic((dir_ / "file").string(), "x");
  EXPECT_THROW(create_project((dir_ / "file").string(), "audio"), InputError);
}

TEST_F(ScaffoldTest, AMissingParentIsSaid) {
  EXPECT_THROW(create_project((dir_ / "no" / "such" / "proj").string(), "audio"), InputError);
  EXPECT_FALSE(fs::exists(dir_ / "no"));
}

TEST_F(ScaffoldTest, ATrailingSlashNamesTheSameProject) {
  const CreatedProject p = create_project((dir_ / "proj").string() + "/", "tabular");
  EXPECT_EQ(p.name, "proj");
  EXPECT_TRUE(fs::is_regular_file(dir_ / "proj" / "README.md"));
}

}  // namespace
}  // namespace codedag::project
