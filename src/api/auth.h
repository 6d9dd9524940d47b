// Who may do what (architecture.md §5). Users hold role bindings scoped to the
// quota tree; requests carry a bearer token that names one user.
//
//   admin             everything
//   department-admin  its department: projects, their quotas within the
//                     department's, their workloads and members
//   project-admin     its project: members, workloads and their priorities
//   researcher        its project: submits and manages own workloads
//   viewer            reads, cluster-wide or in its department or project
//
// Tokens look like "allot_<id>_<secret>". The store keeps the id, the user
// and the SHA-256 of the secret; the secret is shown once, at creation.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "wire/isolation.h"

namespace allot::api {

enum class Role { kAdmin, kDepartmentAdmin, kProjectAdmin, kResearcher, kViewer };
const char* RoleName(Role role);

struct RoleBinding {
  Role role = Role::kViewer;
  std::string department;  // set for department-admin; optional for viewer
  std::string project;     // set for project-admin and researcher; optional for viewer
};

struct User {
  std::string name;
  std::vector<RoleBinding> roles;
  // Set for a node agent's credential (no roles): the agent's id. Agents
  // act only on the nodes they registered (docs/agent-protocol.md).
  std::string agent;
  // Set for a join token presented to register: the token's id.
  std::string join_token;
  // Set on a request's caller: the id of the token it presented (a watch
  // ends when that token is revoked). Not stored.
  std::string token;
  // The Unix identity the user's tasks run as, set by an admin; without
  // one, the project's default identity, else `assigned_identity`, which
  // the server gives every user at creation (docs/isolation.md).
  wire::UnixIdentity identity;
  wire::UnixIdentity assigned_identity;
};
Result<User> DecodeUser(const nlohmann::json& body);
nlohmann::json EncodeUser(const User& user);

// Where a request acts: the whole cluster, a department, or a project (and
// its department). Departments nest, so a scope also lists the departments
// above its own: a department binding covers its whole subtree.
struct Scope {
  std::string department;          // empty: cluster-wide
  std::string project;             // empty: the department (or cluster) itself
  std::vector<std::string> above;  // the departments above `department`, nearest first
  // Whether `name` is this scope's department or one above it.
  bool WithinDepartment(const std::string& name) const;
};

enum class Access {
  kRead,          // see it
  kSubmit,        // create workloads in a project
  kManageOwn,     // change or delete a workload one owns
  kManageOthers,  // change or delete anyone's workload, set priorities, add members
  kSetQuota,      // create, change or delete projects (and their quotas)
  kAdminister,    // departments, nodes, audit, users beyond one's own scope
};

// Whether `user` may have `access` at `scope`. A binding applies to its own
// scope and everything below it.
bool Allows(const User& user, Access access, const Scope& scope);

// Whether `granter` may hand out `binding`, which acts at `binding_scope` (a
// user may only grant roles that it holds power over: an admin any, a
// department admin roles in its subtree, a project admin researcher or
// viewer in its project).
bool MayGrant(const User& granter, const RoleBinding& binding, const Scope& binding_scope);

struct TokenRecord {
  std::string id;
  std::string user;
  std::string secret_hash;  // hex SHA-256 of the secret
  int64_t created_ms = 0;
};
nlohmann::json EncodeToken(const TokenRecord& token);
Result<TokenRecord> DecodeToken(const std::string& body);

// A new random token for `user`: the record to store and the text to show.
struct NewToken {
  TokenRecord record;
  std::string text;
};
Result<NewToken> IssueToken(const std::string& user, int64_t now_ms);

// The user name an agent's token carries: "agent:<id>".
std::string AgentUserName(const std::string& agent_id);
// The agent id of such a name, or "" for any other.
std::string AgentIdOf(const std::string& user_name);

// A join token admits `uses` agents until `expires_ms`; its text is
// "allot_join_<id>_<secret>" and the store keeps the SHA-256 of the secret.
struct JoinTokenRecord {
  std::string id;
  std::string secret_hash;
  int32_t uses = 1;
  int32_t used = 0;
  int64_t expires_ms = 0;  // 0: never
  std::string pool;        // forced on the nodes it admits; empty: theirs
  std::string created_by;
  int64_t created_ms = 0;
};
nlohmann::json EncodeJoinToken(const JoinTokenRecord& token);
Result<JoinTokenRecord> DecodeJoinToken(const std::string& body);
constexpr const char* kJoinTokenPrefix = "allot_join_";

// Splits "allot_<id>_<secret>"; nullopt when malformed.
std::optional<std::pair<std::string, std::string>> SplitToken(const std::string& text);

// Hex SHA-256.
std::string Sha256Hex(const std::string& data);
// Compares in time independent of where the strings differ.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace allot::api
