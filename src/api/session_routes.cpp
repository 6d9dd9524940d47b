// The page's session cookie (docs/gateway.md §3): POST /api/v1/session with
// a bearer token sets it, DELETE clears it. The gateway accepts it for the
// workspaces, so that a browser opens a notebook with no token in the URL.
#include "api/api_context.h"
#include "api/gateway_access.h"

namespace allot::api {
namespace {

constexpr int64_t kSessionSeconds = 12 * 3600;

}  // namespace

void AddSessionRoutes(ApiContext& /*ctx*/, const AddRoute& add) {
  add(
      "POST", "/api/v1/session",
      [](const httplib::Request& req, const Caller& caller) -> Result<Reply> {
        if (!caller.user.agent.empty() || !caller.user.join_token.empty()) {
          return Forbidden("a session for an agent's or a join token");
        }
        std::string token = req.get_header_value("Authorization").substr(7);
        Reply reply{200, {{"user", caller.user.name}, {"expires_in_s", kSessionSeconds}}};
        // HttpOnly: the workspaces' own scripts cannot read it; SameSite:
        // other sites cannot make the browser send it.
        reply.headers.push_back({"Set-Cookie", std::string(kSessionCookie) + "=" + token +
                                                   "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                                   std::to_string(kSessionSeconds)});
        return reply;
      },
      Record::kAudited);
  add(
      "DELETE", "/api/v1/session",
      [](const httplib::Request&, const Caller& caller) -> Result<Reply> {
        Reply reply{200, {{"user", caller.user.name}}};
        reply.headers.push_back({"Set-Cookie", std::string(kSessionCookie) +
                                                   "=; Path=/; HttpOnly; SameSite=Strict; "
                                                   "Max-Age=0"});
        return reply;
      },
      Record::kQuiet);
}

}  // namespace allot::api
