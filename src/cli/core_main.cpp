// allot-core: every command. `up` and `server` (the control plane),
// `store`, `agent` (a node), `sim`, `scenario` and `bench`, `completion`,
// and the client commands and gpu-run that the quick `allot` holds too
// (cli/core_exec.h tells which `allot` hands over).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <sstream>

#include "bench/api_bench.h"
#include "bench/bench.h"
#include "cli/agent_command.h"
#include "cli/client_commands.h"
#include "cli/server_command.h"
#include "cli/sim_command.h"
#include "cli/store_command.h"
#include "scenario/runner.h"

namespace {

// "100,500,1000" -> {100, 500, 1000}.
bool ParseNodeList(const std::string& text, std::vector<int64_t>& out) {
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      long long value = std::stoll(item, &used);
      if (used != item.size() || value < 1) return false;
      out.push_back(value);
    } catch (const std::exception&) {
      return false;
    }
  }
  return !out.empty();
}

}  // namespace

int main(int argc, char** argv) {
  if (int status = allot::cli::RunTaskShimIfAsked(argc, argv); status >= 0) return status;
  CLI::App app{"allot: a GPU cluster orchestrator"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("allot ") + ALLOT_VERSION);

  std::vector<std::string> files;
  auto* scenario = app.add_subcommand(
      "scenario", "Run scenario files (see docs/scenarios.md); exit 1 if any fails");
  scenario->add_option("files", files, "Scenario YAML files")->required()->check(CLI::ExistingFile);

  allot::bench::BenchOptions bench_options;
  allot::bench::ApiBenchOptions api_bench_options;
  std::string nodes_text = "1000";
  std::vector<std::string> bench_names = allot::bench::BenchNames();
  for (const auto& name : allot::bench::ApiBenchNames()) bench_names.push_back(name);
  auto* bench = app.add_subcommand(
      "bench", "Run a benchmark (docs/benchmarks.md); one JSON line per configuration");
  bench
      ->add_option("name", bench_options.name,
                   "Scheduler: reclaim | cycle | place; control plane: api-submit | api-list | "
                   "submit-to-bound | loop-history")
      ->required()
      ->check(CLI::IsMember(bench_names));
  bench
      ->add_option("--clients", api_bench_options.clients,
                   "Concurrent HTTP clients (api-submit, submit-to-bound)")
      ->check(CLI::PositiveNumber);
  bench
      ->add_option("--rate", api_bench_options.rate,
                   "api-submit: offered submissions per second (default: as fast as possible)")
      ->check(CLI::NonNegativeNumber);
  bench
      ->add_option("--workloads", api_bench_options.workloads,
                   "Workloads submitted or listed (control-plane benchmarks)")
      ->check(CLI::PositiveNumber);
  bench->add_option("--postgres", api_bench_options.postgres,
                    "api-submit, submit-to-bound: also run on a fresh database of this "
                    "PostgreSQL server (libpq URL), beside SQLite");
  bench
      ->add_option("--history", api_bench_options.history,
                   "loop-history: finished workloads kept in the store")
      ->check(CLI::NonNegativeNumber);
  bench->add_option("--nodes", nodes_text, "Node counts, comma separated (e.g. 100,500,1000)");
  bench->add_option("--pending", bench_options.pending, "Pending workloads (cycle)");
  bench->add_option("--tasks", bench_options.tasks, "Tasks to place (place)");
  bench->add_option("--repeat", bench_options.repeat, "Timed cycles per configuration")
      ->check(CLI::PositiveNumber);
  bench->add_option("--seed", bench_options.seed, "Seed of the synthetic cluster");

  allot::cli::AddSimCommand(app);
  allot::cli::AddServerCommands(app);
  allot::cli::AddStoreCommands(app);
  allot::cli::AddAgentCommand(app);
  allot::cli::AddClientCommands(app);
  allot::cli::AddCompletionCommand(app);

  CLI11_PARSE(app, argc, argv);

  if (int status = allot::cli::RunSimCommand(); status >= 0) return status;
  if (int status = allot::cli::RunServerCommand(); status >= 0) return status;
  if (int status = allot::cli::RunStoreCommand(); status >= 0) return status;
  if (int status = allot::cli::RunAgentCommand(); status >= 0) return status;
  if (int status = allot::cli::RunClientCommands(); status >= 0) return status;
  if (int status = allot::cli::RunCompletionCommand(app); status >= 0) return status;

  if (*scenario) return allot::scenario::RunScenarioFiles(files, std::cout);
  if (*bench) {
    bool api_bench =
        std::find(allot::bench::ApiBenchNames().begin(), allot::bench::ApiBenchNames().end(),
                  bench_options.name) != allot::bench::ApiBenchNames().end();
    if (api_bench) {
      api_bench_options.name = bench_options.name;
      std::vector<int64_t> nodes;
      if (!ParseNodeList(nodes_text, nodes) || nodes.size() != 1) {
        std::cerr << "allot bench: --nodes: give one node count for " << bench_options.name << "\n";
        return 2;
      }
      api_bench_options.nodes = nodes[0];
      auto status = allot::bench::RunApiBench(api_bench_options, std::cout);
      if (!status) {
        std::cerr << "allot bench: " << status.error().message << "\n";
        return 1;
      }
      return 0;
    }
    if (!ParseNodeList(nodes_text, bench_options.nodes)) {
      std::cerr << "allot bench: --nodes: '" << nodes_text
                << "' is not a list of positive counts: use a form like 100,500,1000\n";
      return 2;
    }
    auto status = allot::bench::RunBench(bench_options, std::cout);
    if (!status) {
      std::cerr << "allot bench: " << status.error().message << "\n";
      return 1;
    }
  }
  return 0;
}
