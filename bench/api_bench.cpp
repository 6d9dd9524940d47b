#include "bench/api_bench.h"

#include <httplib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/http_api.h"
#include "bench/bench_server.h"
#include "bench/bench_store.h"
#include "bench/cli_bench.h"
#include "server/scheduling_loop.h"
#include "wire/resources.h"

namespace allot::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t at = static_cast<size_t>(p / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(at, values.size() - 1)];
}

double PeakRssMib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// The stores a run compares: SQLite, and PostgreSQL when --postgres names one.
std::vector<std::string> StoresOf(const ApiBenchOptions& o) {
  std::vector<std::string> stores = {""};
  if (!o.postgres.empty()) stores.push_back(o.postgres);
  return stores;
}

json Submission(int64_t i, const char* gpu) {
  return {{"name", "w" + std::to_string(i)},
          {"project", "default"},
          {"gpu", gpu},
          {"cpu", "100m"},
          {"memory", "256Mi"},
          {"command", {"python", "train.py"}}};
}

struct LoadResult {
  double seconds = 0;
  std::vector<double> latencies_ms;
  int64_t failures = 0;
  std::string first_failure;

  // A run that lost submissions measured something else: it fails.
  Status AllAcknowledged() const {
    if (failures == 0) return Status::Ok();
    return Error{std::to_string(failures) + " submissions failed, first: " + first_failure};
  }
};

// `clients` threads, each with one kept-alive connection, submit workloads
// [0, count) between them: as fast as they can (rate 0), or paced to `rate`
// submissions per second in all, each client on a fixed schedule, with
// latency measured from when a request was due (so a stall counts against
// every request it delays, as in wrk2).
LoadResult SubmitLoad(const Server& server, int64_t clients, int64_t count, const char* gpu,
                      double rate = 0) {
  std::vector<std::vector<double>> latencies(static_cast<size_t>(clients));
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> failures{0};
  std::mutex first_failure_mutex;
  std::string first_failure;
  std::vector<std::thread> threads;
  auto start = Clock::now() + std::chrono::milliseconds(100);  // all connected by then
  for (int64_t c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", server.port());
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(std::chrono::seconds(60));
      httplib::Headers headers{{"Authorization", "Bearer " + server.token()}};
      auto interval = rate > 0
                          ? std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(static_cast<double>(clients) / rate))
                          : Clock::duration::zero();
      auto due = start + interval * c / clients;
      for (int64_t i = next++; i < count; i = next++) {
        std::string body = Submission(i, gpu).dump();
        if (rate > 0) {
          std::this_thread::sleep_until(due);
        } else {
          due = Clock::now();
        }
        auto sent = due;
        due += interval;
        auto res = client.Post("/api/v1/workloads", headers, body, "application/json");
        latencies[static_cast<size_t>(c)].push_back(Ms(Clock::now() - sent));
        if (!res || res->status != 201) {
          if (failures++ == 0) {
            std::lock_guard lock(first_failure_mutex);
            first_failure = res ? std::to_string(res->status) + " " + res->body
                                : "no reply: " + httplib::to_string(res.error());
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  LoadResult result;
  result.seconds = Ms(Clock::now() - start) / 1000.0;
  for (auto& list : latencies) {
    result.latencies_ms.insert(result.latencies_ms.end(), list.begin(), list.end());
  }
  result.failures = failures;
  result.first_failure = first_failure;
  return result;
}

// The same submissions straight into the store, from as many threads.
double StoreOnlySeconds(store::Store& store, int64_t threads_count, int64_t count) {
  std::atomic<int64_t> next{0};
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int64_t c = 0; c < threads_count; ++c) {
    threads.emplace_back([&] {
      for (int64_t i = next++; i < count; i = next++) {
        auto workload = wire::DecodeWorkloadSubmission(Submission(i, "1"));
        (void)store.Commit({{store::Write::Op::kCreate, "workloads", workload->spec.name,
                             wire::EncodeWorkload(*workload).dump(), 0}});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return Ms(Clock::now() - start) / 1000.0;
}

// One store's api-submit line; `sqlite`, for PostgreSQL's, is SQLite's
// line of the same run (the ratio between the stores).
Result<json> ApiSubmitOn(const ApiBenchOptions& o, const std::string& postgres) {
  LoadResult load;
  std::string kind;
  {
    auto server = Server::Start(false, postgres);
    if (!server) return server.error();
    kind = (*server)->store_kind();
    load = SubmitLoad(**server, o.clients, o.workloads, "1", o.rate);
  }
  double baseline_seconds;
  {
    auto server = Server::Start(false, postgres);
    if (!server) return server.error();
    baseline_seconds = StoreOnlySeconds((*server)->store(), o.clients, o.workloads);
  }
  if (Status ok = load.AllAcknowledged(); !ok) return ok.error();
  double rate = static_cast<double>(o.workloads) / load.seconds;
  double baseline_rate = static_cast<double>(o.workloads) / baseline_seconds;
  return json{{"name", "api-submit"},
              {"store", kind},
              {"clients", o.clients},
              {"offered_per_second", o.rate > 0 ? json(o.rate) : json("max")},
              {"workloads", o.workloads},
              {"per_second", rate},
              {"p50_ms", Percentile(load.latencies_ms, 50)},
              {"p99_ms", Percentile(load.latencies_ms, 99)},
              {"baseline_store_per_second", baseline_rate},
              {"ratio_to_baseline", rate / baseline_rate},
              {"peak_rss_mib", PeakRssMib()}};
}

// Prints each store's line; PostgreSQL's also carries SQLite's figures of
// the same run and the ratio (`key` per second) between the two.
Status EachStore(const ApiBenchOptions& o, std::ostream& out,
                 const std::function<Result<json>(const std::string&)>& run) {
  json sqlite;
  for (const std::string& postgres : StoresOf(o)) {
    Result<json> line = run(postgres);
    if (!line) return line.error();
    if (postgres.empty()) {
      sqlite = *line;
    } else {
      (*line)["sqlite_per_second"] = sqlite["per_second"];
      (*line)["ratio_to_sqlite"] = line->value("per_second", 0.0) / sqlite.value("per_second", 1.0);
    }
    out << line->dump() << "\n";
  }
  return Status::Ok();
}

Status ApiSubmit(const ApiBenchOptions& o, std::ostream& out) {
  return EachStore(o, out, [&](const std::string& postgres) { return ApiSubmitOn(o, postgres); });
}

// `count` nodes of 8 simulated GPUs, straight through the store.
Status AddNodes(store::Store& store, int64_t count) {
  for (int64_t n = 0; n < count;) {
    std::vector<store::Write> writes;
    for (int64_t b = 0; b < 1000 && n < count; ++b, ++n) {
      std::string name = "node-" + std::to_string(n);
      auto node = wire::DecodeNode(json{
          {"name", name}, {"cpu", 128}, {"memory", "1024Gi"}, {"simulate_gpus", "8xA100-80GB"}});
      writes.push_back(
          {store::Write::Op::kCreate, "nodes", name, wire::EncodeNode(*node).dump(), 0});
    }
    if (auto committed = store.Commit(writes); !committed) return committed.error();
  }
  return Status::Ok();
}

// Workloads [first, first + count) of `gpu` each, straight through the
// store, with `status`.
Status AddWorkloads(store::Store& store, int64_t first, int64_t count, const char* gpu,
                    wire::WorkloadStatus status) {
  for (int64_t i = first; i < first + count;) {
    std::vector<store::Write> writes;
    for (int64_t b = 0; b < 1000 && i < first + count; ++b, ++i) {
      auto workload = wire::DecodeWorkloadSubmission(Submission(i, gpu));
      if (!workload) return workload.error();
      workload->owner = "admin";
      workload->status = status;
      writes.push_back({store::Write::Op::kCreate, "workloads", workload->spec.name,
                        wire::EncodeWorkload(*workload).dump(), 0});
    }
    if (auto committed = store.Commit(writes); !committed) return committed.error();
  }
  return Status::Ok();
}

Status ApiList(const ApiBenchOptions& o, std::ostream& out) {
  auto started = Server::Start(false, "");
  if (!started) return started.error();
  Server& server = **started;
  // Filled straight through the store in batches: the list is measured.
  if (Status added =
          AddWorkloads(server.store(), 0, o.workloads, "1", wire::WorkloadStatus::kPending);
      !added) {
    return added;
  }
  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  client.set_read_timeout(std::chrono::seconds(60));
  httplib::Headers headers{{"Authorization", "Bearer " + server.token()}};
  std::vector<double> pages_ms;
  std::string after;
  int64_t seen = 0;
  for (;;) {
    std::string path = "/api/v1/workloads?limit=1000";
    if (!after.empty()) path += "&after=" + after;
    auto sent = Clock::now();
    auto res = client.Get(path, headers);
    double ms = Ms(Clock::now() - sent);
    if (!res || res->status != 200) return Error{"list failed", ""};
    json page = json::parse(res->body);
    pages_ms.push_back(ms);
    seen += static_cast<int64_t>(page["items"].size());
    if (!page["next"].is_string()) break;
    after = page["next"];
  }
  if (seen != o.workloads) {
    return Error{"listed " + std::to_string(seen) + " of " + std::to_string(o.workloads), ""};
  }
  std::vector<double> store_ms;
  store::ListQuery query{"workloads", "", 1000, {}};
  for (;;) {
    auto sent = Clock::now();
    auto page = server.store().List(query);
    store_ms.push_back(Ms(Clock::now() - sent));
    if (!page || !page->more) break;
    query.after = page->items.back().name;
  }
  double median = Percentile(pages_ms, 50);
  double baseline = Percentile(store_ms, 50);
  out << json{{"name", "api-list"},
              {"workloads", o.workloads},
              {"page_size", 1000},
              {"pages", pages_ms.size()},
              {"page_median_ms", median},
              {"page_p99_ms", Percentile(pages_ms, 99)},
              {"page_max_ms", Percentile(pages_ms, 100)},
              {"baseline_store_page_ms", baseline},
              {"ratio_to_baseline", median / baseline},
              {"peak_rss_mib", PeakRssMib()}}
             .dump()
      << "\n";
  return Status::Ok();
}

Result<json> SubmitToBoundOn(const ApiBenchOptions& o, const std::string& postgres) {
  auto started = Server::Start(true, postgres);
  if (!started) return started.error();
  Server& server = **started;
  if (Status added = AddNodes(server.store(), o.nodes); !added) return added.error();
  server.StartLoop();
  auto start = Clock::now();
  LoadResult load = SubmitLoad(server, o.clients, o.workloads, "0.5");
  if (Status ok = load.AllAcknowledged(); !ok) return ok.error();
  // Bound: the loop has written every workload as running.
  int64_t running = 0;
  int64_t cycles_seen = 0;
  auto deadline = Clock::now() + std::chrono::minutes(5);
  while (running < o.workloads && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto status = server.store().Get("status", "cluster");
    if (!status) continue;
    json body = json::parse(status->body);
    running = body["workloads"].value("running", int64_t{0});
    ++cycles_seen;
  }
  double seconds = Ms(Clock::now() - start) / 1000.0;
  if (running < o.workloads) {
    return Error{"only " + std::to_string(running) + " of " + std::to_string(o.workloads) +
                     " workloads bound within 5 minutes",
                 ""};
  }
  return json{{"name", "submit-to-bound"},
              {"store", server.store_kind()},
              {"nodes", o.nodes},
              {"clients", o.clients},
              {"workloads", o.workloads},
              {"per_second", static_cast<double>(o.workloads) / seconds},
              {"seconds", seconds},
              {"baseline_submit_per_second", static_cast<double>(o.workloads) / load.seconds},
              {"ratio_to_baseline", load.seconds / seconds},
              {"submit_p99_ms", Percentile(load.latencies_ms, 99)},
              {"peak_rss_mib", PeakRssMib()}};
}

Status SubmitToBound(const ApiBenchOptions& o, std::ostream& out) {
  return EachStore(o, out,
                   [&](const std::string& postgres) { return SubmitToBoundOn(o, postgres); });
}

// The scheduling loop's steady cycle (everything already bound), timed
// `kCycles` times: the median in milliseconds.
Result<double> SteadyCycleMs(server::SchedulingLoop& loop) {
  constexpr int kCycles = 5;
  std::vector<double> ms;
  for (int i = 0; i < kCycles; ++i) {
    auto sent = Clock::now();
    Result<server::CycleOutcome> outcome = loop.RunCycle();
    ms.push_back(Ms(Clock::now() - sent));
    if (!outcome) return outcome.error();
    if (outcome->binds != 0 || outcome->evictions != 0) {
      return Error{"a steady cycle changed the plan: " + std::to_string(outcome->binds) +
                   " binds, " + std::to_string(outcome->evictions) + " evictions"};
    }
  }
  return Percentile(ms, 50);
}

Status LoopHistory(const ApiBenchOptions& o, std::ostream& out) {
  auto started = Server::Start(true, "");
  if (!started) return started.error();
  Server& server = **started;
  if (Status added = AddNodes(server.store(), o.nodes); !added) return added;
  if (Status added =
          AddWorkloads(server.store(), 0, o.workloads, "0.5", wire::WorkloadStatus::kPending);
      !added) {
    return added;
  }
  Result<server::CycleOutcome> first = server.loop().RunCycle();
  if (!first) return first.error();
  if (first->binds != o.workloads) {
    return Error{"the first cycle bound " + std::to_string(first->binds) + " of " +
                 std::to_string(o.workloads) + " workloads: give more --nodes"};
  }
  Result<double> baseline = SteadyCycleMs(server.loop());
  if (!baseline) return baseline.error();
  if (Status added = AddWorkloads(server.store(), o.workloads, o.history, "0.5",
                                  wire::WorkloadStatus::kSucceeded);
      !added) {
    return added;
  }
  Result<double> with_history = SteadyCycleMs(server.loop());
  if (!with_history) return with_history.error();
  out << json{{"name", "loop-history"},
              {"nodes", o.nodes},
              {"workloads", o.workloads},
              {"history", o.history},
              {"cycle_ms", *with_history},
              {"baseline_cycle_ms", *baseline},
              {"ratio_to_baseline", *with_history / *baseline},
              {"peak_rss_mib", PeakRssMib()}}
             .dump()
      << "\n";
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& ApiBenchNames() {
  static const std::vector<std::string> names = {"api-submit", "api-list", "submit-to-bound",
                                                 "loop-history", "cli-submit"};
  return names;
}

Status RunApiBench(const ApiBenchOptions& options, std::ostream& out) {
  if (options.name == "api-submit") return ApiSubmit(options, out);
  if (options.name == "api-list") return ApiList(options, out);
  if (options.name == "submit-to-bound") return SubmitToBound(options, out);
  if (options.name == "loop-history") return LoopHistory(options, out);
  if (options.name == "cli-submit") return CliSubmit(options, out);
  return Error{"unknown benchmark '" + options.name + "'", "name"};
}

}  // namespace allot::bench
