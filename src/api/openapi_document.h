// The OpenAPI 3 document of the API, docs/api/openapi.json, compiled in.
#pragma once

namespace allot::api {

extern const char* const kOpenApiDocument;

}  // namespace allot::api
