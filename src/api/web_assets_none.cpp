// The build had no Node.js: no dashboard files (see web_assets.h).
#include "api/web_assets.h"

namespace allot::api {

const std::vector<WebAsset>& WebAssets() {
  static const std::vector<WebAsset> none;
  return none;
}

}  // namespace allot::api
