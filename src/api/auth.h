// Who may do what (design.md §5). Users hold role bindings scoped to the
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
};
Result<User> DecodeUser(const nlohmann::json& body);
nlohmann::json EncodeUser(const User& user);

// Where a request acts: the whole cluster, a department, or a project (and
// its department).
struct Scope {
  std::string department;  // empty: cluster-wide
  std::string project;     // empty: the department (or cluster) itself
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

// Whether `granter` may hand out `binding` (a user may only grant roles
// that it holds power over: an admin any, a department admin roles in its
// department, a project admin researcher or viewer in its project).
bool MayGrant(const User& granter, const RoleBinding& binding,
              const std::string& binding_department);

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

// Splits "allot_<id>_<secret>"; nullopt when malformed.
std::optional<std::pair<std::string, std::string>> SplitToken(const std::string& text);

// Hex SHA-256.
std::string Sha256Hex(const std::string& data);
// Compares in time independent of where the strings differ.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace allot::api
