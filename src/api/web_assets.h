// The dashboard's files (web/, built by esbuild), compiled into the server
// by cmake/EmbedFiles.cmake. Empty when the build had no Node.js to build
// them; the server then answers / with how to get the dashboard.
#pragma once

#include <string_view>
#include <vector>

namespace allot::api {

struct WebAsset {
  const char* path;          // "/app.js"
  const char* content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
};

const std::vector<WebAsset>& WebAssets();

}  // namespace allot::api
