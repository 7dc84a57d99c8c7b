// The change journal (change_journal.hpp): what writers append, what readers accept, and that
// concurrent writers and a rotation lose no line.
#include "codedag/store/change_journal.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "store_test_util.hpp"

namespace codedag::store {
namespace {

std::string run_dir(const std::string& home, const std::string& name, const std::string& test_name) {
  return home + "/info/" + name + "/" + test_name;
}

JournalPosition start_of(const std::string& home) {
  const auto p = journal_end(home);  // creates the journal: writers never do
  EXPECT_TRUE(p.has_value());
  return *p;
}

void append(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::app) << text; }

}  // namespace

TEST(ChangeJournal, WritersNameRunsOfTheLayoutOnly) {
  const std::string home = fresh_home("journal_names");
  journal_run_change(run_dir(home, "exp", "240101.001.abc"));  // no journal yet: none is created
  EXPECT_FALSE(std::filesystem::exists(change_journal_path(home)));
  const JournalPosition from = start_of(home);
  journal_run_change(run_dir(home, "exp", "240101.001.abc"));
  journal_run_change(run_dir(home, "exp", "240101.001.abc") + "/");
  journal_run_change(home + "/elsewhere/exp/240101.001.abc");   // not under info/
  journal_run_change(run_dir(home, "../x", "240101.001.abc"));  // not a name
  journal_run_change(run_dir(home, "exp", "not-a-test-name"));
  journal_run_change("/nonexistent-home/info/exp/240101.001.abc");  // no home: nothing, no error
  EXPECT_EQ(read_text(change_journal_path(home)).substr(static_cast<size_t>(from.offset)),
            "exp/240101.001.abc\nexp/240101.001.abc\n");
  EXPECT_EQ(read_text(change_journal_path(home)).rfind("#codedag-changes " + from.token + "\n", 0), 0u);
  EXPECT_FALSE(std::filesystem::exists("/nonexistent-home"));
}

TEST(ChangeJournal, ReadersTakeCompleteValidLinesAndCountTheRest) {
  const std::string home = fresh_home("journal_read");
  const JournalPosition from = start_of(home);
  append(change_journal_path(home),
         "a/240101.001.abc\n../b/240101.001.abc\na/" + std::string(300, '1') + "\n\xff\xfe\nb/240101.002.def\nc/2401");
  JournalRead r = read_journal(home, from);
  ASSERT_EQ(r.status, JournalRead::Status::ok);
  ASSERT_EQ(r.runs.size(), 2u);
  EXPECT_EQ(r.runs[0].str(), "a/240101.001.abc");
  EXPECT_EQ(r.runs[1].str(), "b/240101.002.def");
  EXPECT_EQ(r.garbage, 3u);
  // The partial last line is read once it is complete.
  const long long partial = r.end.offset;
  EXPECT_EQ(partial + 6, static_cast<long long>(std::filesystem::file_size(change_journal_path(home))));
  append(change_journal_path(home), "01.001.xyz\n");
  r = read_journal(home, r.end);
  ASSERT_EQ(r.runs.size(), 1u);
  EXPECT_EQ(r.runs[0].str(), "c/240101.001.xyz");
  // Truncated, replaced (even by a file with the same inode number), missing: the reader says so.
  std::filesystem::resize_file(change_journal_path(home), static_cast<uintmax_t>(from.offset));
  EXPECT_EQ(read_journal(home, r.end).status, JournalRead::Status::truncated);
  write_text(change_journal_path(home), "#codedag-changes " + std::string(32, 'a') + "\n" + std::string(10000, '\n'));
  EXPECT_EQ(read_journal(home, r.end).status, JournalRead::Status::replaced);
  std::filesystem::remove(change_journal_path(home));
  EXPECT_EQ(read_journal(home, r.end).status, JournalRead::Status::missing);
  write_text(change_journal_path(home), std::string(10000, '\n'));
  EXPECT_EQ(read_journal(home, r.end).status, JournalRead::Status::replaced);
}

TEST(ChangeJournal, ProcessesAppendingAtOnceLoseNoLineEvenAcrossARotation) {
  const std::string home = fresh_home("journal_concurrent");
  JournalPosition from = start_of(home);
  constexpr int kWriters = 4, kLines = 3000;
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const std::string dir = run_dir(home, "w" + std::to_string(w), "240101.001.abc");
      for (int i = 0; i < kLines; ++i) journal_run_change(dir);
      ::_exit(0);
    }
    children.push_back(pid);
  }
  // A reader reads and rotates while they write (the rotation threshold is 1 MiB; the writers'
  // lines add up to ~230 KB, so the journal is made large first).
  std::string padding;
  while (padding.size() < static_cast<size_t>(kJournalRotateBytes)) padding += "pad/240101.001.abc\n";
  append(change_journal_path(home), padding);
  std::map<std::string, int> seen;
  bool rotated = false;
  auto take = [&](const JournalRead& r) {
    for (const RunId& id : r.runs) ++seen[id.name];
  };
  for (int round = 0; round < 100000; ++round) {
    JournalRead r = read_journal(home, from);
    ASSERT_EQ(r.status, JournalRead::Status::ok) << journal_status_name(r.status);
    EXPECT_EQ(r.garbage, 0u);
    take(r);
    from = r.end;
    if (!rotated && from.offset >= kJournalRotateBytes) {
      JournalRead pending;
      if (auto fresh = rotate_journal(home, from, pending)) {
        take(pending);
        from = *fresh;
        rotated = true;
      }
    }
    int done = 0;
    for (pid_t c : children) done += ::waitpid(c, nullptr, WNOHANG) == c ? 1 : 0;
    if (done) {
      for (pid_t c : children) ::waitpid(c, nullptr, 0);
      break;
    }
  }
  take(read_journal(home, from));
  EXPECT_TRUE(rotated);
  EXPECT_EQ(seen["pad"], static_cast<int>(padding.size() / 19));
  for (int w = 0; w < kWriters; ++w) EXPECT_EQ(seen["w" + std::to_string(w)], kLines) << w;
}

TEST(ChangeJournal, AJournalThatCannotBeAppendedIsRemoved) {
  const std::string home = fresh_home("journal_give_up");
  const std::string path = change_journal_path(home);
  start_of(home);
  std::filesystem::remove(path);
  write_text(home + "/elsewhere", "");
  std::filesystem::create_symlink(home + "/elsewhere", path);  // never followed: the append fails
  journal_run_change(run_dir(home, "exp", "240101.001.abc"));
  EXPECT_FALSE(std::filesystem::is_symlink(path));  // removed: readers find no journal and do a full sync
  EXPECT_EQ(read_text(home + "/elsewhere"), "");
}

}  // namespace codedag::store
