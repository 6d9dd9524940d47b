#include "cli/sim_command.h"

#include <iostream>

#include "sim/pack/pack_experiment.h"
#include "sim/pack/pack_policy.h"

namespace allot::cli {
namespace {

struct SimArgs {
  CLI::App* sim = nullptr;
  CLI::App* pack = nullptr;
  sim::PackOptions pack_options;
  std::string pack_policy = "all";
  std::string pack_seeds = "42-51";
};

SimArgs& Args() {
  static SimArgs args;
  return args;
}

// "all" or "fgd,allot" -> the policy names.
std::vector<std::string> PolicyList(const std::string& text) {
  if (text == "all") return sim::PackPolicyNames();
  std::vector<std::string> names;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) names.push_back(item);
  return names;
}

int RunPack() {
  auto& args = Args();
  auto seeds = sim::ParseSeeds(args.pack_seeds);
  if (!seeds) {
    std::cerr << "allot sim pack: " << seeds.error().message << "\n";
    return 2;
  }
  args.pack_options.seeds = *seeds;
  args.pack_options.policies = PolicyList(args.pack_policy);
  auto status = sim::RunPackExperiment(args.pack_options, std::cout);
  if (!status) {
    std::cerr << "allot sim pack: " << status.error().message << "\n";
    return 1;
  }
  std::cout << "wrote " << args.pack_options.out_dir << "/curve.csv, summary.csv, allocation.svg\n";
  return 0;
}

}  // namespace

void AddSimCommand(CLI::App& app) {
  auto& args = Args();
  args.sim = app.add_subcommand("sim", "Trace simulator: packing experiment and cluster replay");
  args.sim->require_subcommand(1);

  args.pack = args.sim->add_subcommand(
      "pack", "The published GPU-sharing packing experiment on the openb trace");
  auto& po = args.pack_options;
  args.pack->add_option("--nodes", po.nodes_path, "Node list CSV (openb_node_list_gpu_node.csv)")
      ->required()
      ->check(CLI::ExistingFile);
  args.pack->add_option("--tasks", po.task_paths, "Task list CSV(s) (openb_pod_list_*.csv)")
      ->required()
      ->check(CLI::ExistingFile);
  args.pack->add_option("--policy", args.pack_policy,
                        "random, dotprod, gpuclustering, gpupacking, bestfit, fgd, allot; "
                        "a comma list, or all");
  args.pack->add_option("--seeds", args.pack_seeds, "Seeds: a range like 42-51 or a list");
  args.pack->add_option("--out", po.out_dir, "Directory for curve.csv, summary.csv, allocation.svg")
      ->required();
  args.pack->add_option("--threads", po.threads, "Parallel runs (default: one per CPU)");
}

int RunSimCommand() {
  auto& args = Args();
  if (!args.sim || !*args.sim) return -1;
  if (*args.pack) return RunPack();
  return 2;
}

}  // namespace allot::cli
