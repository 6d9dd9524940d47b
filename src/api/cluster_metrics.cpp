#include "api/cluster_metrics.h"

#include <nlohmann/json.hpp>

#include "common/metrics.h"

namespace allot::api {

using server::NodeLiveness;
using server::WorkloadUsage;
using wire::GpuUsageSample;

namespace {

using nlohmann::json;
using prometheus_text::Header;
using prometheus_text::Sample;

std::string QueueGauges(const json& queues) {
  struct Gauge {
    const char* name;
    const char* field;
    const char* help;
  };
  static const Gauge kGauges[] = {
      {"allot_queue_deserved_gpus", "deserved", "GPUs guaranteed to the queue (its quota)."},
      {"allot_queue_fair_share_gpus", "fair_share",
       "GPUs the queue is entitled to now: deserved plus its share of what others leave idle."},
      {"allot_queue_allocated_gpus", "allocated", "GPUs the queue's running work holds."},
      {"allot_queue_pending_workloads", "pending", "Workloads of the queue not running."},
  };
  std::string out;
  for (const Gauge& gauge : kGauges) {
    out += Header(gauge.name, "gauge", gauge.help);
    for (const json& queue : queues) {
      out += Sample(gauge.name,
                    {{"queue", queue.value("name", "")},
                     {"type", queue.value("type", "")},
                     {"department", queue.value("department", "")}},
                    queue.value(gauge.field, 0.0));
    }
  }
  return out;
}

std::string PoolGauges(const json& pools) {
  std::string out = Header("allot_gpus", "gauge", "GPUs in the cluster, by node pool and model.");
  for (const json& pool : pools) {
    out +=
        Sample("allot_gpus", {{"pool", pool.value("pool", "")}, {"model", pool.value("model", "")}},
               pool.value("gpus", 0.0));
  }
  out += Header("allot_gpus_allocated", "gauge",
                "GPUs held by running work (fractions count as their share), by node pool and "
                "model.");
  for (const json& pool : pools) {
    out += Sample("allot_gpus_allocated",
                  {{"pool", pool.value("pool", "")}, {"model", pool.value("model", "")}},
                  pool.value("allocated", 0.0));
  }
  return out;
}

std::string UsageGauges(const NodeLiveness& liveness) {
  auto usage = liveness.Usage();
  std::string out = Header("allot_gpu_utilization_ratio", "gauge",
                           "GPU busy time as the node's agent last reported it (0 to 1).");
  for (const auto& [node, gpus] : usage) {
    for (const GpuUsageSample& gpu : gpus) {
      out += Sample("allot_gpu_utilization_ratio",
                    {{"node", node}, {"gpu", std::to_string(gpu.index)}},
                    gpu.utilization_percent / 100.0);
    }
  }
  out += Header("allot_gpu_memory_used_bytes", "gauge",
                "GPU memory in use as the node's agent last reported it.");
  for (const auto& [node, gpus] : usage) {
    for (const GpuUsageSample& gpu : gpus) {
      out += Sample("allot_gpu_memory_used_bytes",
                    {{"node", node}, {"gpu", std::to_string(gpu.index)}},
                    static_cast<double>(gpu.memory_used_mib) * 1024.0 * 1024.0);
    }
  }
  return out;
}

std::string WorkloadGauges(const WorkloadUsage& usage, int64_t now_ms) {
  // Readings of the last minute: what runs now.
  auto summaries = usage.Summaries(now_ms - 60000);
  std::string out = Header("allot_workload_gpu_utilization_ratio", "gauge",
                           "A running workload's GPU busy time, its tasks' mean (0 to 1).");
  for (const auto& [name, summary] : summaries) {
    out += Sample("allot_workload_gpu_utilization_ratio",
                  {{"workload", name}, {"project", summary.project}}, summary.utilization / 100.0);
  }
  out += Header("allot_workload_gpu_idle_seconds", "gauge",
                "How long every task of the workload has been below 1 % GPU (0: busy).");
  for (const auto& [name, summary] : summaries) {
    double idle = summary.idle_since_ms > 0
                      ? static_cast<double>(now_ms - summary.idle_since_ms) / 1000.0
                      : 0.0;
    out += Sample("allot_workload_gpu_idle_seconds",
                  {{"workload", name}, {"project", summary.project}}, idle);
  }
  return out;
}

}  // namespace

std::string ClusterMetricsText(store::Store& store, const NodeLiveness& liveness,
                               const WorkloadUsage& workload_usage, int64_t now_ms) {
  std::string out = UsageGauges(liveness) + WorkloadGauges(workload_usage, now_ms);
  Result<store::Object> stored = store.Get("status", "cluster");
  if (!stored) return out;
  json status = json::parse(stored->body, nullptr, false);
  if (!status.is_object()) return out;
  out += QueueGauges(status.value("queues", json::array()));
  out += PoolGauges(status.value("pools", json::array()));
  out += Header("allot_workloads", "gauge", "Workloads by state.");
  const json workloads = status.value("workloads", json::object());
  for (const auto& [state, count] : workloads.items()) {
    out += Sample("allot_workloads", {{"state", state}}, count.get<double>());
  }
  out += Header("allot_nodes", "gauge", "Nodes the scheduler places work on.");
  out += Sample("allot_nodes", {}, status.value("nodes", 0.0));
  return out;
}

std::string ServiceMetricsText(const std::map<std::string, server::ServiceState>& states,
                               const server::ServiceTraffic& traffic, int64_t now_ms) {
  if (states.empty()) return "";
  using prometheus_text::Header;
  using prometheus_text::Sample;
  struct Gauge {
    const char* name;
    const char* help;
    double (*value)(const server::ServiceState&, const server::TrafficSummary&);
  };
  static const Gauge gauges[] = {
      {"allot_service_replicas_desired", "Replicas the service's autoscaler asks for.",
       [](const server::ServiceState& s, const server::TrafficSummary&) {
         return static_cast<double>(s.desired);
       }},
      {"allot_service_replicas_ready",
       "Replicas that pass their readiness probe and take requests.",
       [](const server::ServiceState& s, const server::TrafficSummary&) {
         return static_cast<double>(s.ready);
       }},
      {"allot_service_replicas_draining", "Replicas finishing their requests before they end.",
       [](const server::ServiceState& s, const server::TrafficSummary&) {
         return static_cast<double>(s.draining);
       }},
      {"allot_service_in_flight", "Requests in flight at the gateway, held ones included.",
       [](const server::ServiceState&, const server::TrafficSummary& t) {
         return static_cast<double>(t.in_flight);
       }},
      {"allot_service_panicking", "1 while the autoscaler is in panic mode.",
       [](const server::ServiceState& s, const server::TrafficSummary&) {
         return s.panicking ? 1.0 : 0.0;
       }},
  };
  std::string out;
  for (const Gauge& gauge : gauges) {
    out += Header(gauge.name, "gauge", gauge.help);
    for (const auto& [name, state] : states) {
      server::TrafficSummary summary = traffic.Summary(name, now_ms);
      out += Sample(gauge.name, {{"service", name}}, gauge.value(state, summary));
    }
  }
  return out;
}

}  // namespace allot::api
