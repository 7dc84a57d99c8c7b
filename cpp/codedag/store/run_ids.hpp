#pragma once
// Allocating test_names (<yymmdd>.<nnn>.<rand>) with files only, so that a training process never
// opens the SQLite index (which cannot be shared over NFS, Lustre or GPFS) and a lost or rebuilt
// index can never hand out an id twice. Every step is an exclusive mkdir(2), atomic on local and
// network file systems alike:
//   info/<name>/.claims/<day>/<nnn>     the number: nnn counts <name>'s runs of that day
//   info/.ids/<day>/<nnn>.<rand>        the test_name, unique across every experiment name
//   info/<name>/<test_name>             the run directory itself
// Claims are never removed (gc erases runs, not claims), so numbers are never reused.
#include <string>

#include "codedag/store/layout.hpp"

namespace codedag::store {

// Claims a new run of `name` on the local day of `now` and creates its (empty) info directory.
RunId claim_run_id(const Layout& layout, const std::string& name, double now);

// "yymmdd" of a unix time, local time zone.
std::string day_stamp(double unix_seconds);

}  // namespace codedag::store
