// allot user create|list|delete and allot token create|list|revoke
// (docs/isolation.md §1, docs/api.md).
#include <iostream>
#include <sstream>

#include "cli/client_commands.h"
#include "cli/client_session.h"
#include "cli/output.h"

namespace allot::cli {
namespace {

using nlohmann::json;

std::string output = "table";

CLI::App* user_create = nullptr;
CLI::App* user_list = nullptr;
CLI::App* user_delete = nullptr;
std::string user_name;
std::vector<std::string> user_roles;
int64_t user_uid = -1;
int64_t user_gid = -1;
std::string user_groups;

CLI::App* token_create = nullptr;
CLI::App* token_list = nullptr;
CLI::App* token_revoke = nullptr;
std::string token_user;
std::string token_id;

// "researcher:vision", "department-admin:department/research", "admin",
// "viewer" (cluster-wide) -> a role binding.
Result<json> ParseRole(const std::string& text) {
  size_t colon = text.find(':');
  json binding = {{"role", text.substr(0, colon)}};
  if (colon == std::string::npos) return binding;
  std::string scope = text.substr(colon + 1);
  const std::string department = "department/";
  if (scope.rfind(department, 0) == 0) {
    binding["department"] = scope.substr(department.size());
  } else if (!scope.empty()) {
    binding["project"] = scope;
  } else {
    return Error::Coded(
        "invalid",
        "--role: '" + text + "' has an empty scope: give ROLE:PROJECT or ROLE:department/NAME",
        "role");
  }
  return binding;
}

Result<std::vector<int64_t>> ParseGroups(const std::string& text) {
  std::vector<int64_t> groups;
  std::stringstream parts(text);
  for (std::string part; std::getline(parts, part, ',');) {
    try {
      size_t used = 0;
      int64_t gid = std::stoll(part, &used);
      if (used != part.size() || gid < 0) throw std::invalid_argument(part);
      groups.push_back(gid);
    } catch (const std::exception&) {
      return Error::Coded("invalid",
                          "--groups: '" + part + "' is not a numeric gid: give gids like 44,107",
                          "groups");
    }
  }
  return groups;
}

std::string IdentityText(const json& identity) {
  if (!identity.is_object()) return "-";
  std::string out =
      std::to_string(identity.value("uid", -1)) + ":" + std::to_string(identity.value("gid", -1));
  std::string groups;
  for (const json& group : identity.value("groups", json::array())) {
    groups += (groups.empty() ? "" : ",") + std::to_string(group.get<int64_t>());
  }
  return groups.empty() ? out : out + " +" + groups;
}

int CreateUser() {
  Result<Session> session = Connect();
  if (!session) return ReportError("user create", session.error());
  json body = {{"name", user_name}, {"roles", json::array()}};
  for (const std::string& text : user_roles) {
    Result<json> binding = ParseRole(text);
    if (!binding) return ReportError("user create", binding.error());
    body["roles"].push_back(*binding);
  }
  if (user_uid >= 0) {
    json identity = {{"uid", user_uid}, {"gid", user_gid >= 0 ? user_gid : user_uid}};
    if (!user_groups.empty()) {
      Result<std::vector<int64_t>> groups = ParseGroups(user_groups);
      if (!groups) return ReportError("user create", groups.error());
      identity["groups"] = *groups;
    }
    body["identity"] = identity;
  } else if (user_gid >= 0 || !user_groups.empty()) {
    return ReportError("user create",
                       Error::Coded("invalid", "--gid and --groups need --uid", "uid"));
  }
  Result<json> created = session->http->Call("POST", "/api/v1/users", &body);
  if (!created) return ReportError("user create", created.error());
  if (PrintUnlessTable(std::cout, *created, output)) return 0;
  const json& identity =
      created->contains("identity") ? (*created)["identity"] : (*created)["assigned_identity"];
  std::cout << "user " << user_name << " created; its tasks run as uid:gid "
            << IdentityText(identity)
            << (created->contains("identity") ? "" : " (assigned by the server)")
            << "\ngive it a token with: allot token create --user " << user_name << "\n";
  return 0;
}

int ListUsers() {
  Result<Session> session = Connect();
  if (!session) return ReportError("user list", session.error());
  json items = json::array();
  std::string after;
  for (;;) {
    Result<json> page = session->http->Call(
        "GET", "/api/v1/users?limit=500" + (after.empty() ? "" : "&after=" + UrlEncode(after)));
    if (!page) return ReportError("user list", page.error());
    for (const json& item : (*page)["items"]) items.push_back(item);
    if (page->value("next", json()).is_null() || (*page)["items"].empty()) break;
    after = items.back()["name"].get<std::string>();
  }
  if (PrintUnlessTable(std::cout, {{"items", items}}, output)) return 0;
  std::vector<std::vector<std::string>> rows;
  for (const json& user : items) {
    std::string roles;
    for (const json& role : user.value("roles", json::array())) {
      std::string scope = role.contains("project") ? ":" + role["project"].get<std::string>()
                          : role.contains("department")
                              ? ":department/" + role["department"].get<std::string>()
                              : "";
      roles += (roles.empty() ? "" : ", ") + role["role"].get<std::string>() + scope;
    }
    bool own = user.contains("identity");
    rows.push_back({user["name"], roles.empty() ? "-" : roles,
                    IdentityText(own ? user["identity"] : user.value("assigned_identity", json())),
                    own ? "admin" : "assigned"});
  }
  PrintTable(std::cout, {"NAME", "ROLES", "UID:GID", "IDENTITY"}, rows);
  return 0;
}

int DeleteUser() {
  Result<Session> session = Connect();
  if (!session) return ReportError("user delete", session.error());
  Result<json> deleted = session->http->Call("DELETE", "/api/v1/users/" + UrlEncode(user_name));
  if (!deleted) return ReportError("user delete", deleted.error());
  std::cout << "user " << user_name << " deleted; " << (*deleted)["tokens_revoked"].get<int64_t>()
            << " token(s) revoked\n";
  return 0;
}

int CreateToken() {
  Result<Session> session = Connect();
  if (!session) return ReportError("token create", session.error());
  json body = json::object();
  if (!token_user.empty()) body["user"] = token_user;
  Result<json> created = session->http->Call("POST", "/api/v1/tokens", &body);
  if (!created) return ReportError("token create", created.error());
  if (PrintUnlessTable(std::cout, *created, output)) return 0;
  std::cout << (*created)["token"].get<std::string>() << "\n";
  std::cerr << "token " << (*created)["id"].get<std::string>() << " for "
            << (*created)["user"].get<std::string>()
            << " (shown once): allot login --token <token>; revoke it with allot token revoke "
            << (*created)["id"].get<std::string>() << "\n";
  return 0;
}

int ListTokens() {
  Result<Session> session = Connect();
  if (!session) return ReportError("token list", session.error());
  std::string path =
      "/api/v1/tokens" + (token_user.empty() ? "" : "?user=" + UrlEncode(token_user));
  Result<json> page = session->http->Call("GET", path);
  if (!page) return ReportError("token list", page.error());
  if (PrintUnlessTable(std::cout, *page, output)) return 0;
  std::vector<std::vector<std::string>> rows;
  int64_t now = NowMs();
  for (const json& token : (*page)["items"]) {
    rows.push_back({token["id"], token["user"], FormatAge(token["created_ms"], now),
                    token.value("current", false) ? "yes" : ""});
  }
  PrintTable(std::cout, {"ID", "USER", "AGE", "THIS"}, rows);
  return 0;
}

int RevokeToken() {
  Result<Session> session = Connect();
  if (!session) return ReportError("token revoke", session.error());
  Result<json> revoked = session->http->Call("DELETE", "/api/v1/tokens/" + UrlEncode(token_id));
  if (!revoked) return ReportError("token revoke", revoked.error());
  std::cout << "token " << token_id << " of " << (*revoked)["user"].get<std::string>()
            << " revoked: it stops working at once\n";
  return 0;
}

}  // namespace

void AddIdentityCommands(CLI::App& app) {
  CLI::App* user = app.add_subcommand("user", "Users, their roles and Unix identities (admins)");
  user->require_subcommand(1);
  user_create = user->add_subcommand("create", "Create a user");
  user_create->add_option("name", user_name, "User name")->required();
  user_create->add_option("--role", user_roles,
                          "ROLE[:PROJECT] or ROLE:department/NAME (repeatable), e.g. "
                          "researcher:vision");
  user_create->add_option("--uid", user_uid, "The Unix uid its tasks run as (default: assigned)")
      ->check(CLI::Range(int64_t{0}, int64_t{4294967294}));
  user_create->add_option("--gid", user_gid, "Its primary gid (default: the uid)")
      ->check(CLI::Range(int64_t{0}, int64_t{4294967294}));
  user_create->add_option("--groups", user_groups, "Supplementary gids, comma-separated");
  AddOutputOption(user_create, output);
  user_list = user->add_subcommand("list", "List users with their roles and identities");
  AddOutputOption(user_list, output);
  user_delete = user->add_subcommand("delete", "Delete a user and revoke its tokens");
  user_delete->add_option("name", user_name, "User name")->required();

  CLI::App* token = app.add_subcommand("token", "API tokens: create, list, revoke");
  token->require_subcommand(1);
  token_create = token->add_subcommand("create", "Create a token (shown once)");
  token_create->add_option("--user", token_user, "For this user (admins; default: you)");
  AddOutputOption(token_create, output);
  token_list = token->add_subcommand("list", "List tokens (yours; admins: everyone's)");
  token_list->add_option("--user", token_user, "Only this user's (admins)");
  AddOutputOption(token_list, output);
  token_revoke = token->add_subcommand("revoke", "Revoke a token: it stops working at once");
  token_revoke->add_option("id", token_id, "The token's id (allot token list)")->required();
}

int RunIdentityCommands() {
  if (user_create && *user_create) return CreateUser();
  if (user_list && *user_list) return ListUsers();
  if (user_delete && *user_delete) return DeleteUser();
  if (token_create && *token_create) return CreateToken();
  if (token_list && *token_list) return ListTokens();
  if (token_revoke && *token_revoke) return RevokeToken();
  return -1;
}

}  // namespace allot::cli
