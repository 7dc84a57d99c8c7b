#pragma once
// The change journal, <home>/changes.log: one line "<name>/<test_name>\n" per write of a run.json,
// appended by every writer of the engine (run_file.cpp) with one O_APPEND write, once before the
// atomic rename (an intent: a crash between the two cannot hide the change) and once after it (so
// a listing that read the intent before the rename landed sees the run again). Listing reads only
// the lines added since its last sync instead of stat'ing every run (Store::sync).
//
// Its first line, "#codedag-changes <token>", is written by the reader that creates it (writers
// never create it: without a journal every listing does a full sync, which is always right); the
// random token tells a recreated journal from the one a reader was reading even when the file
// system gives the new file the old inode number.
//
// The journal is a hint, never the truth: everything read from it is untrusted (names validated,
// lines bounded, garbage skipped), and a journal that is missing, replaced, truncated or unreadable
// makes the next listing do a full sync of the files.
//
// It lives in the home (not next to the index): training processes never place the index, and on
// a network store every host's index reads the same journal.
#include <optional>
#include <string>
#include <vector>

#include "codedag/store/run_identity.hpp"

namespace codedag::store {

inline constexpr const char* kChangeJournalFile = "changes.log";
// Longest line accepted (a valid name is <= 100 bytes, a test_name <= 28): longer is garbage.
inline constexpr size_t kMaxJournalLine = 256;
// Past this size the reader rotates the journal under the index lock (Store::sync).
inline constexpr long long kJournalRotateBytes = 1 << 20;
// More unread bytes than this in one sync: a full sync is cheaper than reading them.
inline constexpr long long kJournalMaxReadBytes = 4 << 20;

std::string change_journal_path(const std::string& home);

// Appends "<name>/<test_name>\n" for the run whose info directory is `info_dir`
// (<home>/info/<name>/<test_name>); a directory outside that layout is not a store's run and is
// not journaled, and a missing journal is not created. Never throws: a journal that cannot be
// appended is removed (if it can be), so every listing falls back to the full sync instead of
// missing the change.
void journal_run_change(const std::string& info_dir);

// Where a reader stands in the journal: the file's identity and the offset just after the last
// complete line it has read.
struct JournalPosition {
  unsigned long long dev = 0, ino = 0;
  std::string token;  // of the header line
  long long offset = 0;
};

// What a reader found since `from`.
struct JournalRead {
  enum class Status { ok, missing, replaced, truncated, too_large, unreadable } status = Status::ok;
  std::vector<RunId> runs;  // valid lines, in order, duplicates kept
  size_t garbage = 0;       // lines skipped (not a run id, too long, not UTF-8 ...)
  JournalPosition end;      // after the last complete line read
};
const char* journal_status_name(JournalRead::Status s);

// Reads the complete lines after `from` (a partial last line is left for the next read).
JournalRead read_journal(const std::string& home, const JournalPosition& from);

// The current end of the journal (after its last complete line), creating a journal when there is
// none (or it has no valid header) and the home can be written. nullopt: no journal can be had
// (read-only store).
std::optional<JournalPosition> journal_end(const std::string& home);

// Rotates a journal grown past kJournalRotateBytes: under an exclusive flock on it (writers hold a
// shared one while appending, so none is mid-write), the lines after `from` are read into
// `pending`, the file is kept as changes.log.old and a new journal renamed over it (there is
// always a journal for writers to append to). Returns the
// position in the new journal, nullopt when the journal was not rotated (small, locked by a writer
// for too long, or gone). Call it holding the index's write lock.
std::optional<JournalPosition> rotate_journal(const std::string& home, const JournalPosition& from,
                                              JournalRead& pending);

}  // namespace codedag::store
