#include "store/store_copy.h"

namespace allot::store {
namespace {

Result<std::vector<Object>> AllObjects(Store& store) {
  Result<std::vector<std::string>> kinds = store.Kinds();
  if (!kinds) return kinds.error();
  std::vector<Object> all;
  for (const std::string& kind : *kinds) {
    ListQuery query{kind, "", 1000, {}};
    for (;;) {
      Result<Page> page = store.List(query);
      if (!page) return page.error();
      for (Object& object : page->items) all.push_back(std::move(object));
      if (!page->more) break;
      query.after = all.back().name;
    }
  }
  return all;
}

Result<std::vector<AuditEntry>> AllAudit(Store& store) {
  std::vector<AuditEntry> all;
  AuditQuery query;
  query.limit = 10000;
  for (;;) {
    Result<std::vector<AuditEntry>> entries = store.ListAudit(query);
    if (!entries) return entries.error();
    if (entries->empty()) return all;
    query.after_id = entries->back().id;
    for (AuditEntry& entry : *entries) all.push_back(std::move(entry));
  }
}

bool Same(const AuditEntry& a, const AuditEntry& b) {
  return a.id == b.id && a.time_ms == b.time_ms && a.actor == b.actor && a.source == b.source &&
         a.method == b.method && a.path == b.path && a.allowed == b.allowed &&
         a.status == b.status && a.detail == b.detail;
}

Error Differs(const std::string& what) {
  return Error::Coded("internal", "store copy: the copy differs from the source: " + what +
                                      " (the target is incomplete: drop it and copy again)");
}

}  // namespace

Result<CopyReport> CopyStore(Store& from, Store& to) {
  Result<int64_t> revision = from.Revision();
  if (!revision) return revision.error();
  Result<std::vector<Object>> objects = AllObjects(from);
  if (!objects) return objects.error();
  Result<std::vector<AuditEntry>> audit = AllAudit(from);
  if (!audit) return audit.error();
  Result<int64_t> still = from.Revision();
  if (!still) return still.error();
  if (*still != *revision) {
    return Error::Coded("conflict",
                        "store copy: the source changed while it was read: stop its servers "
                        "and copy again",
                        "from");
  }
  if (Status restored = to.Restore(*objects, *audit, *revision); !restored) {
    return restored.error();
  }
  // Read back and compare.
  Result<std::vector<Object>> copied = AllObjects(to);
  if (!copied) return copied.error();
  if (copied->size() != objects->size()) {
    return Differs(std::to_string(copied->size()) + std::string(" objects instead of ") +
                   std::to_string(objects->size()));
  }
  CopyReport report;
  std::string last_kind;
  for (size_t i = 0; i < objects->size(); ++i) {
    const Object& a = (*objects)[i];
    const Object& b = (*copied)[i];
    if (a.kind != b.kind || a.name != b.name || a.revision != b.revision ||
        a.created_revision != b.created_revision || a.body != b.body) {
      return Differs(a.kind + " '" + a.name + "'");
    }
    if (a.kind != last_kind) ++report.kinds;
    last_kind = a.kind;
  }
  Result<std::vector<AuditEntry>> copied_audit = AllAudit(to);
  if (!copied_audit) return copied_audit.error();
  if (copied_audit->size() != audit->size()) return Differs("the audit log's length");
  for (size_t i = 0; i < audit->size(); ++i) {
    if (!Same((*audit)[i], (*copied_audit)[i])) {
      return Differs(std::string("audit entry ") + std::to_string((*audit)[i].id));
    }
  }
  Result<int64_t> copied_revision = to.Revision();
  if (!copied_revision) return copied_revision.error();
  if (*copied_revision != *revision) return Differs("the store's revision");
  report.objects = static_cast<int64_t>(objects->size());
  report.audit_entries = static_cast<int64_t>(audit->size());
  report.revision = *revision;
  return report;
}

}  // namespace allot::store
