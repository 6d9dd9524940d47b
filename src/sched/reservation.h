// Reservation and backfill, so that large gangs do not starve behind a
// stream of small work. A gang that has waited longer than
// SchedulerConfig::reservation_after and still does not fit holds whole GPUs
// on the nodes where it will fit soonest: free GPUs there stay free, and GPUs
// that free up are kept, until it fits. Other work may use held GPUs only if
// it declares a maximum runtime that ends before the reservation is needed
// (the time the held GPUs are expected to suffice, from the running work's
// declared runtimes; unknown when some of it declares none).
//
// The core keeps no state between cycles: reservations are derived anew from
// each snapshot, and the choice is stable (the same nodes stay the best).
#pragma once

#include "sched/session.h"

namespace allot::sched {

// Places each starving gang if it fits, else reserves for it (at most
// config.max_reservations), recording them in session.reservations.
void ReserveForStarvingGangs(Session& session);

}  // namespace allot::sched
