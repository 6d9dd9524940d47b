#include "cli/sim_command.h"

#include <iostream>
#include <sstream>

#include "common/quantity.h"
#include "sim/pack/pack_experiment.h"
#include "sim/pack/pack_policy.h"
#include "sim/replay/make_trace.h"
#include "sim/replay/replay.h"
#include "sim/variant/make_variant.h"

namespace allot::cli {
namespace {

struct SimArgs {
  CLI::App* sim = nullptr;
  CLI::App* pack = nullptr;
  sim::PackOptions pack_options;
  std::string pack_policy = "all";
  std::string pack_seeds = "42-51";
  CLI::App* replay = nullptr;
  sim::ReplayOptions replay_options;
  std::string replay_policy = "all";
  std::string replay_reservation_after;
  std::string replay_min_runtime;
  CLI::App* make_trace = nullptr;
  sim::MakeTraceOptions trace_options;
  CLI::App* make_variant = nullptr;
  std::string variant_nodes, variant_tasks, variant_out;
  sim::VariantKnobs variant_knobs;
  double gpushare = 0, multigpu = 0, gpuspec = 0;
  CLI::Option* gpushare_option = nullptr;
  CLI::Option* multigpu_option = nullptr;
  CLI::Option* gpuspec_option = nullptr;
};

SimArgs& Args() {
  static SimArgs args;
  return args;
}

// "all" or "fgd,allot" -> the policy names.
std::vector<std::string> PolicyList(const std::string& text, const std::vector<std::string>& all) {
  if (text == "all") return all;
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
  args.pack_options.policies = PolicyList(args.pack_policy, sim::PackPolicyNames());
  auto status = sim::RunPackExperiment(args.pack_options, std::cout);
  if (!status) {
    std::cerr << "allot sim pack: " << status.error().message << "\n";
    return 1;
  }
  std::cout << "wrote " << args.pack_options.out_dir
            << "/curve.csv, summary.csv, ceiling.csv, allocation.svg\n";
  return 0;
}

// Reads a duration flag's text (when given) into `target`; false, with the
// error printed, when it is not a duration.
bool ReadDurationFlag(const char* flag, const std::string& text, core::Duration& target) {
  if (text.empty()) return true;
  auto ms = ParseDurationMs(text);
  if (!ms) {
    std::cerr << "allot sim replay: " << flag << ": " << ms.error().message << "\n";
    return false;
  }
  target = *ms;
  return true;
}

int RunReplay() {
  auto& args = Args();
  auto& settings = args.replay_options.settings;
  args.replay_options.policies = PolicyList(args.replay_policy, sim::ReplayPolicyNames());
  if (!ReadDurationFlag("--reservation-after", args.replay_reservation_after,
                        settings.reservation_after) ||
      !ReadDurationFlag("--min-runtime", args.replay_min_runtime, settings.min_runtime)) {
    return 1;
  }
  auto status = sim::RunReplayExperiment(args.replay_options, std::cout);
  if (!status) {
    std::cerr << "allot sim replay: " << status.error().message << "\n";
    return 1;
  }
  return 0;
}

int RunMakeTrace() {
  auto status = sim::MakeTrace(Args().trace_options, std::cout);
  if (!status) {
    std::cerr << "allot sim make-trace: " << status.error().message << "\n";
    return 1;
  }
  return 0;
}

int RunMakeVariant() {
  auto& args = Args();
  sim::VariantKnobs knobs = args.variant_knobs;
  if (args.gpushare_option->count() > 0) knobs.gpushare = args.gpushare;
  if (args.multigpu_option->count() > 0) knobs.multigpu = args.multigpu;
  if (args.gpuspec_option->count() > 0) knobs.gpuspec = args.gpuspec;
  if (knobs.name_prefix.empty()) knobs.name_prefix = sim::WorkloadName(args.variant_out);
  auto cluster = sim::LoadOpenbNodes(args.variant_nodes);
  if (!cluster) {
    std::cerr << "allot sim make-variant: " << cluster.error().message << "\n";
    return 1;
  }
  auto base = sim::LoadOpenbTasks(args.variant_tasks, *cluster);
  if (!base) {
    std::cerr << "allot sim make-variant: " << base.error().message << "\n";
    return 1;
  }
  auto variant = sim::MakeVariant(*base, *cluster, knobs);
  if (!variant) {
    std::cerr << "allot sim make-variant: " << variant.error().message << "\n";
    return 2;
  }
  if (Status written = sim::WriteOpenbTasks(args.variant_out, *variant); !written) {
    std::cerr << "allot sim make-variant: " << written.error().message << "\n";
    return 1;
  }
  sim::VariantMeasure m = sim::MeasureVariant(*variant);
  std::cout << "wrote " << args.variant_out << ": " << variant->size() << " tasks ("
            << m.cpu_only_tasks << " CPU-only); of the GPU request " << m.gpushare
            << " % fractional, " << m.multigpu << " % multi-GPU; " << m.gpuspec
            << " % of GPU tasks ask for a model; " << m.mean_cpu_per_gpu_task / 1000
            << " CPUs per GPU task\n";
  return 0;
}

void AddMakeVariant(SimArgs& args) {
  args.make_variant = args.sim->add_subcommand(
      "make-variant",
      "Make a variant of an openb task list: CPU per task, CPU-only tasks, GPU sharing, "
      "multi-GPU and GPU-model shares (docs/simulation.md, Variants)");
  CLI::App* cmd = args.make_variant;
  auto& k = args.variant_knobs;
  cmd->add_option("--nodes", args.variant_nodes, "Node list CSV (GPU models, the largest node)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--tasks", args.variant_tasks, "Base task list CSV (openb_pod_list_default.csv)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", args.variant_out, "Task list CSV to write")->required();
  cmd->add_option("--cpu-scale", k.cpu_scale, "Every task's CPU times this (1; 0.25 to 3)");
  cmd->add_option("--cpu-only-scale", k.cpu_only_scale, "CPU-only tasks' number times this (1)");
  args.gpushare_option = cmd->add_option(
      "--gpushare", args.gpushare, "Percent of the GPU request from fractional tasks (0-100)");
  args.multigpu_option = cmd->add_option("--multigpu", args.multigpu,
                                         "Percent of the GPU request from multi-GPU tasks (0-100)");
  args.gpuspec_option = cmd->add_option("--gpuspec", args.gpuspec,
                                        "Percent of GPU tasks that ask for one GPU model (0-100)");
  cmd->add_option("--seed", k.seed, "Seed of the resampling (1)");
  cmd->add_option("--name-prefix", k.name_prefix, "Task names' prefix (default: the file's name)");
  k.name_prefix.clear();
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
                        "random, dotprod, gpuclustering, gpupacking, bestfit, fgd, allot, live; "
                        "a comma list, or all");
  args.pack->add_option("--seeds", args.pack_seeds, "Seeds: a range like 42-51 or a list");
  args.pack
      ->add_option("--out", po.out_dir,
                   "Directory for curve.csv, summary.csv, ceiling.csv, allocation.svg")
      ->required();
  args.pack->add_option("--threads", po.threads, "Parallel runs (default: one per CPU)");

  args.replay = args.sim->add_subcommand(
      "replay", "Replay a trace on the scheduler core under static, allot or fifo quotas");
  auto& ro = args.replay_options;
  args.replay->add_option("--nodes", ro.nodes_path, "Node list CSV (make-trace writes nodes.csv)")
      ->required()
      ->check(CLI::ExistingFile);
  args.replay->add_option("--trace", ro.trace_path, "Trace CSV (see docs/simulation.md)")
      ->required()
      ->check(CLI::ExistingFile);
  args.replay->add_option("--quotas", ro.quotas_path, "Quota CSV: project,gpus")
      ->required()
      ->check(CLI::ExistingFile);
  args.replay->add_option("--policy", args.replay_policy,
                          "static, allot, fifo; a comma list, or all");
  args.replay->add_option("--cycle", ro.settings.cycle_s,
                          "Seconds between scheduling cycles (default 60)");
  args.replay->add_option("--reservation-after", args.replay_reservation_after,
                          "How long a gang waits before it holds GPUs as they free up (30m)");
  args.replay->add_option("--max-reservations", ro.settings.max_reservations,
                          "How many gangs hold GPUs at once (1; 0: no reservations)");
  args.replay->add_option("--min-runtime", args.replay_min_runtime,
                          "How long work runs before reclaim or preemption may evict it "
                          "(default 0s: at once)");
  args.replay->add_option("--out", ro.out_dir, "Directory for the CSV and SVG results")->required();

  args.make_trace = args.sim->add_subcommand(
      "make-trace", "Build a replay trace from an openb task list and the Helios team quotas");
  auto& to = args.trace_options;
  args.make_trace->add_option("--nodes", to.nodes_path, "openb node list CSV")
      ->required()
      ->check(CLI::ExistingFile);
  args.make_trace->add_option("--tasks", to.tasks_path, "openb task list CSV with timestamps")
      ->required()
      ->check(CLI::ExistingFile);
  args.make_trace->add_option("--helios", to.helios_path, "Helios earth_vc_gpu_quota_daily.csv")
      ->required()
      ->check(CLI::ExistingFile);
  args.make_trace->add_option("--gpus", to.gpus, "Cluster size in GPUs (nodes sampled; 0: all)");
  args.make_trace->add_option("--load", to.load, "Offered load: GPU-time asked / capacity (1.2)");
  args.make_trace->add_option("--days", to.days, "Days of arrivals (2)");
  args.make_trace->add_option("--max-duration", to.max_duration_h, "Cap on durations, hours (24)");
  args.make_trace->add_option("--seed", to.seed, "Seed (42)");
  args.make_trace->add_option("--out", to.out_dir, "Directory for nodes.csv, quotas.csv, trace.csv")
      ->required();
  AddMakeVariant(args);
}

int RunSimCommand() {
  auto& args = Args();
  if (!args.sim || !*args.sim) return -1;
  if (*args.pack) return RunPack();
  if (*args.replay) return RunReplay();
  if (*args.make_trace) return RunMakeTrace();
  if (*args.make_variant) return RunMakeVariant();
  return 2;
}

}  // namespace allot::cli
