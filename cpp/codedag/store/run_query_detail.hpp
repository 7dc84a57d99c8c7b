#pragma once
// What run_query.cpp (filters, pages) and run_query_columns.cpp (which columns vary, groups) share.
#include <string>

namespace codedag::store::detail {

inline const char* kind_name(char kind) {
  switch (kind) {
    case 'b':
      return "best";
    case 'l':
      return "last";
    case 's':
      return "sweep";
    default:
      return "param";
  }
}

// A value identical for every matching run: the first and last of an ordered scan agree.
struct Bound {
  bool num_null = true, txt_null = true;
  double num = 0;
  std::string txt;
  bool operator==(const Bound& o) const {
    return num_null == o.num_null && txt_null == o.txt_null && (num_null || num == o.num) && (txt_null || txt == o.txt);
  }
};

}  // namespace codedag::store::detail
