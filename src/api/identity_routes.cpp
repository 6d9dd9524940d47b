// Users, their tokens and who the caller is (docs/api.md, roles in api/auth.h).
#include <mutex>

#include "api/api_context.h"

namespace allot::api {
namespace {

using nlohmann::json;
using Op = store::Write::Op;
using wire::JsonReader;

class IdentityRoutes : public ResourceRoutes {
 public:
  using ResourceRoutes::ResourceRoutes;

  Result<Reply> CreateUser(const httplib::Request& req, const Caller& caller) {
    Result<json> body = ApiContext::Body(req);
    if (!body) return body.error();
    Result<User> user = DecodeUser(*body);
    if (!user) return user.error();
    for (const auto& binding : user->roles) {
      Result<Scope> scope = !binding.project.empty()
                                ? ctx_.ProjectScope(binding.project, caller.user)
                            : !binding.department.empty() ? ctx_.DepartmentScope(binding.department)
                                                          : Result<Scope>(Scope{});
      if (!scope) return scope.error();
      if (!MayGrant(caller.user, binding, *scope)) {
        return Forbidden(std::string("granting the role ") + RoleName(binding.role) + " there");
      }
    }
    bool admin = Allows(caller.user, Access::kAdminister, {});
    if (user->roles.empty() && !admin) return Forbidden("creating users without roles");
    if (user->identity.IsSet() && !admin) {
      return Forbidden("setting a user's Unix identity (admins map users to host accounts)");
    }
    // Every user gets a uid of the server's range, which its tasks run as
    // when neither it nor its project has an identity set.
    user->assigned_identity = {};
    Result<int64_t> revision = ctx_.CommitWithAssignedIdentity(&caller, *user, true, 201);
    if (!revision) return revision.error();
    json encoded = EncodeUser(*user);
    encoded["revision"] = *revision;
    return Reply{201, encoded};
  }
  // Deletes a user and its tokens at once (its workloads stay, with their owner).
  Result<Reply> DeleteUser(const httplib::Request& req, const Caller& caller) {
    std::string name = PathName(req);
    if (!Allows(caller.user, Access::kAdminister, {})) return Forbidden("deleting users");
    if (name == caller.user.name) {
      return Error::Coded("invalid", "you cannot delete your own user: ask another admin", "name");
    }
    Result<store::Object> stored = store_.Get("users", name);
    if (!stored) return stored.error();
    std::vector<store::Write> writes = {{Op::kDelete, "users", name, "", stored->revision}};
    Result<std::vector<TokenRecord>> tokens = TokensOf(name);
    if (!tokens) return tokens.error();
    for (const TokenRecord& token : *tokens)
      writes.push_back({Op::kDelete, "tokens", token.id, "", 0});
    Result<int64_t> revision = ctx_.CommitAudited(caller, writes, 200);
    if (!revision) return revision.error();
    return Reply{200,
                 {{"deleted", name}, {"tokens_revoked", tokens->size()}, {"revision", *revision}}};
  }
  // The tokens of `user` (every user's when empty), without their secrets.
  Result<std::vector<TokenRecord>> TokensOf(const std::string& user) {
    std::vector<TokenRecord> out;
    std::string after;
    for (;;) {
      store::ListQuery query{"tokens", after, 500, {}};
      if (!user.empty()) query.equals = {{"user", user}};
      Result<store::Page> page = store_.List(query);
      if (!page) return page.error();
      for (const auto& item : page->items) {
        if (Result<TokenRecord> token = DecodeToken(item.body)) out.push_back(*token);
      }
      if (!page->more || page->items.empty()) return out;
      after = page->items.back().name;
    }
  }
  Result<Reply> ListTokens(const httplib::Request& req, const Caller& caller) {
    bool admin = Allows(caller.user, Access::kAdminister, {});
    std::string user = req.has_param("user") ? req.get_param_value("user") : "";
    if (!admin && !user.empty() && user != caller.user.name) {
      return Forbidden("listing other users' tokens");
    }
    if (!admin) user = caller.user.name;
    Result<std::vector<TokenRecord>> tokens = TokensOf(user);
    if (!tokens) return tokens.error();
    json items = json::array();
    for (const TokenRecord& token : *tokens) {
      if (!AgentIdOf(token.user).empty()) continue;  // agents' credentials: allot nodes
      items.push_back({{"id", token.id},
                       {"user", token.user},
                       {"created_ms", token.created_ms},
                       {"current", token.id == caller.user.token}});
    }
    return Reply{200, {{"items", items}}};
  }
  // Revokes a token: the next request with it, and any watch it holds, is refused.
  Result<Reply> RevokeToken(const httplib::Request& req, const Caller& caller) {
    std::string id = PathName(req);
    Result<store::Object> stored = store_.Get("tokens", id);
    Error missing =
        Error::Coded("not_found", "token '" + id + "' does not exist (allot token list)", "id");
    if (!stored) return MissingOr(stored.error(), missing);
    Result<TokenRecord> token = DecodeToken(stored->body);
    if (!token || !AgentIdOf(token->user).empty()) return missing;
    if (token->user != caller.user.name && !Allows(caller.user, Access::kAdminister, {})) {
      return missing;  // others' tokens are not even confirmed to exist
    }
    Result<int64_t> revision =
        ctx_.CommitAudited(caller, {{Op::kDelete, "tokens", id, "", stored->revision}}, 200);
    if (!revision) return revision.error();
    return Reply{200, {{"revoked", id}, {"user", token->user}, {"revision", *revision}}};
  }
  Result<Reply> CreateToken(const httplib::Request& req, const Caller& caller) {
    Result<json> body = ApiContext::Body(req);
    if (!body) return body.error();
    JsonReader reader(*body);
    std::string user = caller.user.name;
    if (Status s = reader.String("user", user); !s) return s.error();
    if (Status s = reader.Finish(); !s) return s.error();
    if (user != caller.user.name && !Allows(caller.user, Access::kAdminister, {})) {
      return Forbidden("issuing tokens for other users");
    }
    if (Result<store::Object> found = store_.Get("users", user); !found) {
      return MissingOr(found.error(),
                       Error::Coded("not_found", "user '" + user + "' does not exist", "user"));
    }
    Result<NewToken> token = IssueToken(user, options_.now_ms());
    if (!token) return token.error();
    Result<int64_t> revision = ctx_.CommitAudited(
        caller, {{Op::kCreate, "tokens", token->record.id, EncodeToken(token->record).dump(), 0}},
        201);
    if (!revision) return revision.error();
    return Reply{201,
                 {{"id", token->record.id},
                  {"user", user},
                  {"token", token->text},
                  {"note", "shown once: store it now (allot login --token)"}}};
  }
};

}  // namespace

void AddIdentityRoutes(ApiContext& ctx, const AddRoute& add) {
  auto routes = std::make_shared<IdentityRoutes>(ctx);
  add(
      "GET", "/api/v1/users",
      [&ctx](const auto& req, const Caller& caller) {
        if (!Allows(caller.user, Access::kAdminister, {})) {
          return Result<Reply>(Forbidden("listing users"));
        }
        return ctx.List(req, "users", {}, nullptr);
      },
      Record::kAudited);
  add(
      "GET", "/api/v1/users/([^/]+)",
      [&ctx](const auto& req, const Caller& caller) {
        std::string name = PathName(req);
        if (name != caller.user.name && !Allows(caller.user, Access::kAdminister, {})) {
          return Result<Reply>(Forbidden("reading other users"));
        }
        return ctx.GetOne("users", name);
      },
      Record::kAudited);
  add(
      "POST", "/api/v1/users",
      [routes](const auto& req, const Caller& caller) { return routes->CreateUser(req, caller); },
      Record::kAudited);
  add(
      "DELETE", "/api/v1/users/([^/]+)",
      [routes](const auto& req, const Caller& caller) { return routes->DeleteUser(req, caller); },
      Record::kAudited);
  add(
      "GET", "/api/v1/tokens",
      [routes](const auto& req, const Caller& caller) { return routes->ListTokens(req, caller); },
      Record::kAudited);
  add(
      "DELETE", "/api/v1/tokens/([^/]+)",
      [routes](const auto& req, const Caller& caller) { return routes->RevokeToken(req, caller); },
      Record::kAudited);
  add(
      "POST", "/api/v1/tokens",
      [routes](const auto& req, const Caller& caller) { return routes->CreateToken(req, caller); },
      Record::kAudited);
  add(
      "GET", "/api/v1/whoami",
      [](const auto&, const Caller& caller) -> Result<Reply> {
        return Reply{200, EncodeUser(caller.user)};
      },
      Record::kAudited);
}

}  // namespace allot::api
