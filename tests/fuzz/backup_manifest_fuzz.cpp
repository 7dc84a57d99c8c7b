// Fuzz target: the backup manifest alone (codedag-backup.json), for a denser search of its checks.
#include "codedag/store/archive.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return codedag::fuzz::accept_or_reject(data, size, [](const std::string& text) {
    std::vector<codedag::store::ArchiveMember> members;
    (void)codedag::store::parse_backup_manifest(text, "codedag-backup.json", members);
  });
}
