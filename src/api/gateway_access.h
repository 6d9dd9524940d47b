// Who may reach a task through the gateway, and what of the request the
// task may see (docs/gateway.md §3). Pure: no store, no sockets.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/auth.h"
#include "wire/resources.h"

namespace allot::api {

// The cookie the page's login sets (POST /api/v1/session) and the gateway
// accepts: the user's token, HttpOnly and SameSite=Strict, so that the
// task's own scripts cannot read it and other sites cannot send it.
constexpr const char* kSessionCookie = "allot_token";

// "/workspaces/<project>/<name>[/rest]" split; nullopt for other paths.
struct WorkspaceTarget {
  std::string project;
  std::string name;
  bool bare = false;  // "/workspaces/p/n" without the slash: redirect to it
};
std::optional<WorkspaceTarget> ParseWorkspaceTarget(std::string_view target);

// "/serve/<project>/<name>[/rest][?query]" split; nullopt for other paths.
// The service sees `forward` ("/rest?query", "/" at least): the prefix is
// the gateway's, and goes in X-Forwarded-Prefix.
struct ServiceTarget {
  std::string project;
  std::string name;
  std::string forward;
  std::string prefix;  // "/serve/<project>/<name>"
};
std::optional<ServiceTarget> ParseServiceTarget(std::string_view target);

// The token a request carries: its bearer token, else the session cookie's
// value ("" when neither). `from_header` tells which.
std::string RequestToken(std::string_view authorization, std::string_view cookie,
                         bool& from_header);

// The Cookie header without allot's session cookie ("" when nothing is left).
std::string CookieWithoutSession(std::string_view cookie);

// Whether `user` may open (browse, port-forward, exec into) `workload`, whose
// project has `scope`: its owner, the project's admins, and, for a
// workspace that is not private, the project's members who may submit there.
bool MayOpen(const User& user, const wire::WorkloadResource& workload, const Scope& scope);

}  // namespace allot::api
