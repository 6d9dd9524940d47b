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

std::optional<ServiceTarget> ParseServiceTarget(std::string_view target) {
  size_t mark = target.find('?');
  std::string_view path = target.substr(0, mark);
  std::string_view query = mark == std::string_view::npos ? "" : target.substr(mark);
  const std::string_view prefix = "/serve/";
  if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
  path.remove_prefix(prefix.size());
  size_t slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  ServiceTarget out;
  out.project = std::string(path.substr(0, slash));
  std::string_view rest = path.substr(slash + 1);
  size_t end = rest.find('/');
  out.name = std::string(rest.substr(0, end));
  if (out.name.empty()) return std::nullopt;
  std::string_view forward = end == std::string_view::npos ? "/" : rest.substr(end);
  out.forward = std::string(forward) + std::string(query);
  out.prefix = "/serve/" + out.project + "/" + out.name;
  return out;
}

namespace {

// Calls `visit` with each "name=value" pair of a Cookie header, trimmed.
template <typename Visit>
void ForEachCookie(std::string_view cookie, Visit visit) {
  while (!cookie.empty()) {
    size_t end = cookie.find(';');
    std::string_view pair = cookie.substr(0, end);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (!pair.empty()) visit(pair);
    if (end == std::string_view::npos) break;
    cookie.remove_prefix(end + 1);
  }
}

bool IsSessionCookie(std::string_view pair) {
  std::string_view name = kSessionCookie;
  return pair.size() > name.size() && pair.substr(0, name.size()) == name &&
         pair[name.size()] == '=';
}

}  // namespace

std::string RequestToken(std::string_view authorization, std::string_view cookie,
                         bool& from_header) {
  const std::string_view bearer = "Bearer ";
  from_header = authorization.substr(0, bearer.size()) == bearer;
  if (from_header) return std::string(authorization.substr(bearer.size()));
  std::string token;
  ForEachCookie(cookie, [&](std::string_view pair) {
    if (token.empty() && IsSessionCookie(pair)) {
      token = pair.substr(std::string_view(kSessionCookie).size() + 1);
    }
  });
  return token;
}

std::string CookieWithoutSession(std::string_view cookie) {
  std::string kept;
  ForEachCookie(cookie, [&](std::string_view pair) {
    if (IsSessionCookie(pair)) return;
    if (!kept.empty()) kept += "; ";
    kept += pair;
  });
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
