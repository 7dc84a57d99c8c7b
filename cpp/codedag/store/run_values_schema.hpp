#pragma once
// Index migration 5: typed key-value tables that let the panel filter, sort and page 100k runs in
// SQLite (docs/panel.md, "The run table"). As shipped it kept them with triggers; migration 6 drops
// the triggers (they re-parsed every summary with json_tree: 30x the cost of writing the row, on
// every rebuild and sync) and RunIndex writes the values itself (run_values.hpp), so what follows
// describes the tables and the schema-5 triggers an older index may still carry until it migrates.
// Migration 7 (run_index.cpp) re-keys run_values by the run's integer id: run_values(run_id, key_id,
// num, txt); the test_name column below is schema 5's and 6's.
//   value_keys(id, kind, key)            kind: 'p' param (info, flattened with dots: "params.lr"),
//                                        'b' best metric (dump_metric), 'l' last metric (log_metric),
//                                        's' sweep (properties.sweep, flattened: "sweep.cell")
//   run_values(test_name, key_id, num, txt)
//       numbers: num; booleans: num 1/0 and txt 'true'/'false'; strings: txt; arrays: txt (JSON);
//       null: both NULL. Indexed by (key_id, num, txt) for range filters and sorted pages.
// Conflict clauses (OR IGNORE) inside a trigger are overridden by the writing statement's (the
// store's upsert aborts), so new keys are added with NOT EXISTS and each key once (GROUP BY).
// Triggers on `runs` keep them in step with each row's summary, whoever writes the row (a training
// process, `codedag ls`, `index rebuild`, the sqlite3 shell), so no writer has to know about them;
// the migration fills them for existing rows by touching every summary. A summary that is not
// valid JSON (codedag never writes one) contributes no values instead of failing the write.
// Values inside arrays are not flattened (the array is one value); keys containing ']' after a
// '[' are skipped (json_tree's paths cannot tell them from array elements).

namespace codedag::store {

// clang-format off
// A summary that is not valid JSON reads as {} (json_tree would fail the write).
#define SUMMARY(ROW) "(CASE WHEN json_valid(" ROW ".summary) THEN " ROW ".summary ELSE '{}' END)"
#define CODEDAG_RUN_VALUES_INSERT(ROW)                                                                       \
  "INSERT INTO value_keys(kind, key) SELECT DISTINCT 'p', substr(fullkey, 8) FROM json_tree(" SUMMARY(ROW) ", '$.info')" \
  "  WHERE type != 'object' AND typeof(key) = 'text' AND path NOT GLOB '*]' AND path NOT GLOB '*].*' AND path NOT GLOB '*][*'" \
  "  AND NOT EXISTS (SELECT 1 FROM value_keys v WHERE v.kind = 'p' AND v.key = substr(fullkey, 8));" \
  "INSERT INTO run_values(test_name, key_id, num, txt)"                                              \
  "  SELECT " ROW ".test_name, k.id,"                                                                          \
  "    CASE WHEN t.type IN ('integer', 'real') THEN t.atom WHEN t.type = 'true' THEN 1 WHEN t.type = 'false' THEN 0 END," \
  "    CASE WHEN t.type = 'text' THEN t.atom WHEN t.type IN ('true', 'false') THEN t.type WHEN t.type = 'array' THEN t.value END" \
  "  FROM json_tree(" SUMMARY(ROW) ", '$.info') t CROSS JOIN value_keys k ON k.kind = 'p' AND k.key = substr(t.fullkey, 8)" \
  "  WHERE t.type != 'object' AND typeof(t.key) = 'text' AND t.path NOT GLOB '*]' AND t.path NOT GLOB '*].*' AND t.path NOT GLOB '*][*' GROUP BY k.id;" \
  "INSERT INTO value_keys(kind, key) SELECT DISTINCT 's', substr(fullkey, 14) FROM json_tree(" SUMMARY(ROW) ", '$.properties.sweep')" \
  "  WHERE type != 'object' AND typeof(key) = 'text' AND path NOT GLOB '*]' AND path NOT GLOB '*].*' AND path NOT GLOB '*][*'" \
  "  AND NOT EXISTS (SELECT 1 FROM value_keys v WHERE v.kind = 's' AND v.key = substr(fullkey, 14));" \
  "INSERT INTO run_values(test_name, key_id, num, txt)"                                              \
  "  SELECT " ROW ".test_name, k.id,"                                                                          \
  "    CASE WHEN t.type IN ('integer', 'real') THEN t.atom WHEN t.type = 'true' THEN 1 WHEN t.type = 'false' THEN 0 END," \
  "    CASE WHEN t.type = 'text' THEN t.atom WHEN t.type IN ('true', 'false') THEN t.type WHEN t.type = 'array' THEN t.value END" \
  "  FROM json_tree(" SUMMARY(ROW) ", '$.properties.sweep') t CROSS JOIN value_keys k ON k.kind = 's' AND k.key = substr(t.fullkey, 14)" \
  "  WHERE t.type != 'object' AND typeof(t.key) = 'text' AND t.path NOT GLOB '*]' AND t.path NOT GLOB '*].*' AND t.path NOT GLOB '*][*' GROUP BY k.id;" \
  "INSERT INTO value_keys(kind, key) SELECT DISTINCT 'b', key FROM json_each(" SUMMARY(ROW) ", '$.metrics') m WHERE type = 'object'" \
  "  AND NOT EXISTS (SELECT 1 FROM value_keys v WHERE v.kind = 'b' AND v.key = m.key);" \
  "INSERT INTO run_values(test_name, key_id, num, txt)"                                              \
  "  SELECT " ROW ".test_name, k.id, CASE WHEN json_type(m.value, '$.value') IN ('integer', 'real') THEN json_extract(m.value, '$.value') END, NULL" \
  "  FROM json_each(" SUMMARY(ROW) ", '$.metrics') m CROSS JOIN value_keys k ON k.kind = 'b' AND k.key = m.key WHERE m.type = 'object' GROUP BY k.id;" \
  "INSERT INTO value_keys(kind, key) SELECT DISTINCT 'l', key FROM json_each(" SUMMARY(ROW) ", '$.last') m WHERE type = 'object'" \
  "  AND NOT EXISTS (SELECT 1 FROM value_keys v WHERE v.kind = 'l' AND v.key = m.key);" \
  "INSERT INTO run_values(test_name, key_id, num, txt)"                                              \
  "  SELECT " ROW ".test_name, k.id, CASE WHEN json_type(m.value, '$.value') IN ('integer', 'real') THEN json_extract(m.value, '$.value') END, NULL" \
  "  FROM json_each(" SUMMARY(ROW) ", '$.last') m CROSS JOIN value_keys k ON k.kind = 'l' AND k.key = m.key WHERE m.type = 'object' GROUP BY k.id;"

inline constexpr const char* kRunValuesMigration =
    "CREATE TABLE value_keys(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, UNIQUE(kind, key));"
    "CREATE TABLE run_values(test_name TEXT NOT NULL, key_id INTEGER NOT NULL, num REAL, txt TEXT,"
    "  PRIMARY KEY(test_name, key_id)) WITHOUT ROWID;"
    "CREATE INDEX run_values_by_value ON run_values(key_id, num, txt);"
    "CREATE INDEX runs_by_start ON runs(deleted, started_at);"
    "CREATE INDEX runs_by_change ON runs(file_mtime);"
    "CREATE TRIGGER runs_values_insert AFTER INSERT ON runs BEGIN "
    CODEDAG_RUN_VALUES_INSERT("NEW")
    " END;"
    "CREATE TRIGGER runs_values_update AFTER UPDATE OF summary ON runs BEGIN "
    "DELETE FROM run_values WHERE test_name = OLD.test_name;"
    CODEDAG_RUN_VALUES_INSERT("NEW")
    " END;"
    "CREATE TRIGGER runs_values_delete AFTER DELETE ON runs BEGIN "
    "DELETE FROM run_values WHERE test_name = OLD.test_name;"
    " END;"
    // Fills the tables for the rows already there, through the update triggers.
    "UPDATE runs SET summary = summary;";
// clang-format on

#undef CODEDAG_RUN_VALUES_INSERT
#undef SUMMARY

}  // namespace codedag::store
