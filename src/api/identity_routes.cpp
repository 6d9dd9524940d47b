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
    if (user->roles.empty() && !Allows(caller.user, Access::kAdminister, {})) {
      return Forbidden("creating users without roles");
    }
    json encoded = EncodeUser(*user);
    Result<int64_t> revision =
        ctx_.CommitAudited(caller, {{Op::kCreate, "users", user->name, encoded.dump(), 0}}, 201);
    if (!revision) return revision.error();
    return Reply{201, encoded};
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
    if (!store_.Get("users", user)) {
      return Error::Coded("not_found", "user '" + user + "' does not exist", "user");
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
