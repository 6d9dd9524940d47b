#include "api/gateway_access.h"

#include <vector>

namespace allot::api {

std::optional<WorkspaceTarget> ParseWorkspaceTarget(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  const std::string_view prefix = "/workspaces/";
  if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
  path.remove_prefix(prefix.size());
  size_t slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  WorkspaceTarget out;
  out.project = std::string(path.substr(0, slash));
  std::string_view rest = path.substr(slash + 1);
  size_t end = rest.find('/');
  out.name = std::string(rest.substr(0, end));
  if (out.name.empty()) return std::nullopt;
  out.bare = end == std::string_view::npos;
  return out;
}

std::string RequestToken(std::string_view authorization, std::string_view cookie,
                         bool& from_header) {
  const std::string_view bearer = "Bearer ";
  from_header = false;
  if (authorization.substr(0, bearer.size()) == bearer) {
    from_header = true;
    return std::string(authorization.substr(bearer.size()));
  }
  std::string name = std::string(kSessionCookie) + "=";
  size_t at = 0;
  while (at < cookie.size()) {
    size_t end = cookie.find(';', at);
    std::string_view pair = cookie.substr(at, end == std::string_view::npos ? end : end - at);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.substr(0, name.size()) == name) return std::string(pair.substr(name.size()));
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return {};
}

std::string CookieWithoutSession(std::string_view cookie) {
  std::string name = std::string(kSessionCookie) + "=";
  std::string kept;
  size_t at = 0;
  while (at < cookie.size()) {
    size_t end = cookie.find(';', at);
    std::string_view pair = cookie.substr(at, end == std::string_view::npos ? end : end - at);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (!pair.empty() && pair.substr(0, name.size()) != name) {
      if (!kept.empty()) kept += "; ";
      kept += pair;
    }
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return kept;
}

bool MayOpen(const User& user, const wire::WorkloadResource& workload, const Scope& scope) {
  if (!user.agent.empty()) return false;
  if (workload.owner == user.name) return true;
  if (Allows(user, Access::kManageOthers, scope)) return true;
  return workload.workspace.IsSet() && workload.workspace.shared &&
         Allows(user, Access::kSubmit, scope);
}

}  // namespace allot::api
