#include "api/gateway_access.h"

#include <vector>

namespace allot::api {

namespace {

// "<prefix><project>/<name>[/rest]" of a path without its query: the
// project, the name, and the rest ("/..." or empty when the path ends at
// the name). False for other paths.
bool SplitGatewayPath(std::string_view path, std::string_view prefix, std::string& project,
                      std::string& name, std::string_view& rest, bool& bare) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  path.remove_prefix(prefix.size());
  size_t slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  project = std::string(path.substr(0, slash));
  std::string_view after = path.substr(slash + 1);
  size_t end = after.find('/');
  name = std::string(after.substr(0, end));
  bare = end == std::string_view::npos;
  rest = bare ? std::string_view() : after.substr(end);
  return !name.empty();
}

}  // namespace

std::optional<WorkspaceTarget> ParseWorkspaceTarget(std::string_view target) {
  WorkspaceTarget out;
  std::string_view rest;
  if (!SplitGatewayPath(target.substr(0, target.find('?')), "/workspaces/", out.project, out.name,
                        rest, out.bare)) {
    return std::nullopt;
  }
  return out;
}

std::optional<ServiceTarget> ParseServiceTarget(std::string_view target) {
  size_t mark = target.find('?');
  std::string_view query = mark == std::string_view::npos ? "" : target.substr(mark);
  ServiceTarget out;
  std::string_view rest;
  bool bare = false;
  if (!SplitGatewayPath(target.substr(0, mark), "/serve/", out.project, out.name, rest, bare)) {
    return std::nullopt;
  }
  out.forward = std::string(bare ? "/" : rest) + std::string(query);
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
