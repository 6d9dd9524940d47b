// The quota tree as stored (departments and projects, architecture.md §3),
// checked as a whole before a change to it is committed.
#pragma once

#include "common/result.h"
#include "core/queue.h"
#include "store/store.h"

namespace allot::server {

// Checks the stored tree with `changed` (a project when `is_project`, else
// a department) put in place, or taken out when `removed`, by the scheduler
// core's own validation: parents exist, no cycle, children's deserved fit
// in their parent's (per model too), limits at least deserved. An
// "invalid" error names the quota when it does not hold.
Status CheckQuotaTree(store::Store& store, const core::QueueSpec& changed, bool is_project,
                      bool removed);

}  // namespace allot::server
