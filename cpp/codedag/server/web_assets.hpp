#pragma once
// The panel's page, embedded at build time from web/ (cmake/embed_web.cmake): served from memory,
// so the binary needs no files beside it and the page fetches nothing from anywhere else.
#include <cstddef>
#include <string_view>

namespace codedag::server {

struct WebAsset {
  std::string_view path;  // "/index.html"
  std::string_view content_type;
  std::string_view body;
};

extern const WebAsset kWebAssets[];
extern const size_t kWebAssetCount;

// The asset at `path` ("/" is "/index.html"), or nullptr.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace codedag::server
