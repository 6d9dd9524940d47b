// Control-plane benchmarks (issue 4), each on a server started in-process
// on loopback with its SQLite store in a temporary directory, driven by a
// load generator of HTTP clients with kept-alive connections. With
// `postgres`, api-submit and submit-to-bound run again on PostgreSQL in the
// same run, and that line carries the ratio to SQLite's:
//
//   api-submit       submissions through the API from `clients` concurrent
//                    clients, as fast as they go or at an offered `rate`:
//                    sustained rate, p50/p99 latency. Baseline:
//                    the same submissions committed straight to the store
//                    from as many threads (what HTTP and JSON cost).
//   api-list         paging through `workloads` stored workloads, 1,000 a
//                    page: per-page latency. Baseline: the store's List of
//                    the same pages.
//   submit-to-bound  `nodes` simulated nodes, `workloads` half-GPU
//                    submissions through the API while the scheduling loop
//                    runs: workloads per second from the first submission
//                    to the last bound. Baseline: the submissions alone.
//   loop-history     one scheduling-loop cycle with `workloads` half-GPU
//                    workloads running on `nodes` nodes and `history`
//                    finished workloads kept in the store (as a server
//                    accumulates them): median of 5 cycles. Baseline: the
//                    same cycle before the finished ones were added.
//
// One JSON line per run; the caller repeats runs and takes medians.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "common/result.h"

namespace allot::bench {

struct ApiBenchOptions {
  std::string name;
  int64_t clients = 64;
  int64_t workloads = 20'000;
  int64_t nodes = 1'000;
  double rate = 0;            // api-submit: offered submissions per second; 0 = as fast as possible
  int64_t history = 100'000;  // loop-history: finished workloads in the store
  // api-submit, submit-to-bound: a PostgreSQL server (libpq URL) on which
  // each run also runs on a fresh database of its own, beside SQLite.
  std::string postgres;
};

const std::vector<std::string>& ApiBenchNames();
Status RunApiBench(const ApiBenchOptions& options, std::ostream& out);

}  // namespace allot::bench
