#include "api/auth.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include "wire/json_reader.h"
#include "wire/resources.h"

namespace allot::api {

using wire::CheckName;
using wire::JsonReader;

namespace {

constexpr std::array<const char*, 5> kRoleNames = {"admin", "department-admin", "project-admin",
                                                   "researcher", "viewer"};

std::string Hex(const unsigned char* data, size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

// How much power a role has, for "the binding covers this access".
bool RoleGives(Role role, Access access) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kDepartmentAdmin:
      return access != Access::kAdminister;
    case Role::kProjectAdmin:
      return access == Access::kRead || access == Access::kSubmit || access == Access::kManageOwn ||
             access == Access::kManageOthers;
    case Role::kResearcher:
      return access == Access::kRead || access == Access::kSubmit || access == Access::kManageOwn;
    case Role::kViewer:
      return access == Access::kRead;
  }
  return false;
}

// Whether a binding's scope contains `scope`.
bool Covers(const RoleBinding& binding, const Scope& scope) {
  if (!binding.project.empty()) return binding.project == scope.project;
  if (!binding.department.empty()) return scope.WithinDepartment(binding.department);
  return true;  // cluster-wide
}

}  // namespace

bool Scope::WithinDepartment(const std::string& name) const {
  if (name.empty()) return false;
  return name == department || std::find(above.begin(), above.end(), name) != above.end();
}

const char* RoleName(Role role) {
  return kRoleNames[static_cast<size_t>(role)];
}

Result<User> DecodeUser(const nlohmann::json& body) {
  JsonReader reader(body);
  User user;
  if (Status s = reader.String("name", user.name, true); !s) return s.error();
  if (Status s = CheckName(user.name); !s) return s.error();
  const nlohmann::json* roles = reader.Find("roles");
  for (auto [key, out] : {std::pair{"identity", &user.identity},
                          std::pair{"assigned_identity", &user.assigned_identity}}) {
    if (const nlohmann::json* found = reader.Find(key)) {
      Result<wire::UnixIdentity> identity = wire::ReadIdentity(*found, key);
      if (!identity) return identity.error();
      *out = *identity;
    }
  }
  if (Status s = reader.Finish(); !s) return s.error();
  if (!roles) return user;
  if (!roles->is_array()) return Error::Coded("invalid", "roles: expected a list", "roles");
  for (size_t i = 0; i < roles->size(); ++i) {
    std::string prefix = "roles[" + std::to_string(i) + "].";
    if (!(*roles)[i].is_object()) return Error::Coded("invalid", prefix + ": expected an object");
    JsonReader role_reader((*roles)[i], prefix);
    std::string name;
    RoleBinding binding;
    if (Status s = role_reader.String("role", name, true); !s) return s.error();
    if (Status s = role_reader.String("department", binding.department); !s) return s.error();
    if (Status s = role_reader.String("project", binding.project); !s) return s.error();
    if (Status s = role_reader.Finish(); !s) return s.error();
    size_t at = 0;
    while (at < kRoleNames.size() && name != kRoleNames[at]) ++at;
    if (at == kRoleNames.size()) {
      return Error::Coded("invalid",
                          prefix + "role: '" + name +
                              "' is not a role: use admin, department-admin, project-admin, "
                              "researcher or viewer",
                          prefix + "role");
    }
    binding.role = static_cast<Role>(at);
    bool wants_department = binding.role == Role::kDepartmentAdmin;
    bool wants_project = binding.role == Role::kProjectAdmin || binding.role == Role::kResearcher;
    if (wants_department && binding.department.empty()) {
      return Error::Coded("invalid", prefix + "department is required for " + name,
                          prefix + "department");
    }
    if (wants_project && binding.project.empty()) {
      return Error::Coded("invalid", prefix + "project is required for " + name,
                          prefix + "project");
    }
    if (binding.role == Role::kAdmin && !(binding.department.empty() && binding.project.empty())) {
      return Error::Coded("invalid", prefix + "admin is cluster-wide: drop department and project",
                          prefix + "role");
    }
    if (!binding.department.empty() && !binding.project.empty()) {
      return Error::Coded("invalid", prefix + "give a department or a project, not both",
                          prefix + "project");
    }
    user.roles.push_back(binding);
  }
  return user;
}

nlohmann::json EncodeUser(const User& user) {
  nlohmann::json roles = nlohmann::json::array();
  for (const auto& binding : user.roles) {
    nlohmann::json role = {{"role", RoleName(binding.role)}};
    if (!binding.department.empty()) role["department"] = binding.department;
    if (!binding.project.empty()) role["project"] = binding.project;
    roles.push_back(role);
  }
  nlohmann::json out = {{"name", user.name}, {"roles", roles}};
  if (user.identity.IsSet()) out["identity"] = wire::EncodeIdentity(user.identity);
  if (user.assigned_identity.IsSet()) {
    out["assigned_identity"] = wire::EncodeIdentity(user.assigned_identity);
  }
  return out;
}

bool Allows(const User& user, Access access, const Scope& scope) {
  for (const auto& binding : user.roles) {
    if (!RoleGives(binding.role, access)) continue;
    if (binding.role == Role::kAdmin || Covers(binding, scope)) return true;
  }
  return false;
}

bool MayGrant(const User& granter, const RoleBinding& binding, const Scope& binding_scope) {
  for (const auto& held : granter.roles) {
    if (held.role == Role::kAdmin) return true;
    if (held.role == Role::kDepartmentAdmin && binding.role != Role::kAdmin &&
        binding_scope.WithinDepartment(held.department)) {
      return true;
    }
    if (held.role == Role::kProjectAdmin && !binding.project.empty() &&
        held.project == binding.project &&
        (binding.role == Role::kResearcher || binding.role == Role::kViewer)) {
      return true;
    }
  }
  return false;
}

nlohmann::json EncodeToken(const TokenRecord& token) {
  return {{"id", token.id},
          {"user", token.user},
          {"secret_hash", token.secret_hash},
          {"created_ms", token.created_ms}};
}

Result<TokenRecord> DecodeToken(const std::string& body) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (!parsed.is_object()) return Error::Coded("internal", "stored token is not an object");
  TokenRecord token;
  token.id = parsed.value("id", "");
  token.user = parsed.value("user", "");
  token.secret_hash = parsed.value("secret_hash", "");
  token.created_ms = parsed.value("created_ms", int64_t{0});
  return token;
}

Result<NewToken> IssueToken(const std::string& user, int64_t now_ms) {
  std::array<unsigned char, 8> id{};
  std::array<unsigned char, 24> secret{};
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1 ||
      RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
    return Error::Coded("internal", "no random bytes for a token");
  }
  NewToken issued;
  issued.record.id = Hex(id.data(), id.size());
  issued.record.user = user;
  std::string secret_text = Hex(secret.data(), secret.size());
  issued.record.secret_hash = Sha256Hex(secret_text);
  issued.record.created_ms = now_ms;
  issued.text = "allot_" + issued.record.id + "_" + secret_text;
  return issued;
}

std::string AgentUserName(const std::string& agent_id) {
  return "agent:" + agent_id;
}

std::string AgentIdOf(const std::string& user_name) {
  return user_name.rfind("agent:", 0) == 0 ? user_name.substr(6) : std::string();
}

nlohmann::json EncodeJoinToken(const JoinTokenRecord& token) {
  return {{"id", token.id},
          {"secret_hash", token.secret_hash},
          {"uses", token.uses},
          {"used", token.used},
          {"expires_ms", token.expires_ms},
          {"pool", token.pool},
          {"created_by", token.created_by},
          {"created_ms", token.created_ms}};
}

Result<JoinTokenRecord> DecodeJoinToken(const std::string& body) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (!parsed.is_object()) return Error::Coded("internal", "stored join token is not an object");
  JoinTokenRecord token;
  token.id = parsed.value("id", "");
  token.secret_hash = parsed.value("secret_hash", "");
  token.uses = parsed.value("uses", 1);
  token.used = parsed.value("used", 0);
  token.expires_ms = parsed.value("expires_ms", int64_t{0});
  token.pool = parsed.value("pool", "");
  token.created_by = parsed.value("created_by", "");
  token.created_ms = parsed.value("created_ms", int64_t{0});
  return token;
}

std::optional<std::pair<std::string, std::string>> SplitToken(const std::string& text) {
  if (text.rfind("allot_", 0) != 0) return std::nullopt;
  size_t split = text.find('_', 6);
  if (split == std::string::npos || split == 6 || split + 1 >= text.size()) return std::nullopt;
  return std::make_pair(text.substr(6, split - 6), text.substr(split + 1));
}

std::string Sha256Hex(const std::string& data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return Hex(digest.data(), size);
}

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace allot::api
