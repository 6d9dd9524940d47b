// `allot bench cli-submit` (docs/benchmarks.md): submissions made by the
// CLI, one `allot submit` process each, against the same submissions as
// bare HTTP requests on a new connection each, in the same run, from as
// many parallel clients, to a server on loopback (bench/bench_server.h)
// with no scheduling loop (the workloads stay pending, as held jobs).
// Also the start of the executables alone (`--version`): `allot` and
// allot-core, which `allot` hands its other commands to.
#pragma once

#include <ostream>

#include "bench/api_bench.h"

namespace allot::bench {

// `o.workloads` submissions each way from `o.clients` parallel clients;
// one JSON line. The CLI is the `allot` beside this executable.
Status CliSubmit(const ApiBenchOptions& o, std::ostream& out);

}  // namespace allot::bench
