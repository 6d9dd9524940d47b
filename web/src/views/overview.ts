// Cluster overview: GPUs total, allocated and used, by node pool and model;
// running and pending workloads; allocation and use over time.
import { TimeChart } from "../chart";
import { fill, h, table } from "../dom";
import { gpus, percent } from "../format";
import type { ClusterModel } from "../model";
import type { View } from "./view";

// GPU-equivalents busy per (pool, model), from the agents' last reports;
// null when no agent reports usage (simulated GPUs).
function usedByPoolModel(model: ClusterModel): Map<string, number> | null {
  const used = new Map<string, number>();
  let any = false;
  for (const [nodeName, list] of Object.entries(model.usage)) {
    const node = model.nodes.get(nodeName);
    if (!node) continue;
    for (const gpu of list) {
      const spec = node.gpus[gpu.index];
      if (!spec) continue;
      any = true;
      const key = `${node.pool}/${spec.model}`;
      used.set(key, (used.get(key) ?? 0) + gpu.utilization / 100);
    }
  }
  return any ? used : null;
}

export class OverviewView implements View {
  private cards!: HTMLElement;
  private pools!: HTMLElement;
  private allocationChart!: TimeChart;
  private workloadChart!: TimeChart;

  mount(container: HTMLElement): void {
    this.cards = h("div", { class: "cards" });
    this.pools = h("div");
    const allocation = h("figure", { class: "chart", "aria-label": "GPU allocation over time" });
    const workloads = h("figure", { class: "chart", "aria-label": "Workloads over time" });
    fill(container, h("h1", {}, "Cluster overview"), this.cards, this.pools,
      h("h2", {}, "Over time"), allocation, workloads);
    this.allocationChart = new TimeChart(allocation, "GPUs", "GPUs");
    this.workloadChart = new TimeChart(workloads, "Workloads", "workloads");
  }

  update(model: ClusterModel): void {
    const status = model.status;
    if (!status) {
      fill(this.cards, h("p", {}, "No scheduling cycle has run yet."));
      return;
    }
    const used = usedByPoolModel(model);
    const usedTotal = used ? [...used.values()].reduce((a, b) => a + b, 0) : null;
    const card = (label: string, value: string, detail = "") =>
      h("section", { class: "card", "aria-label": label }, h("h2", {}, label),
        h("p", { class: "value" }, value), detail ? h("p", { class: "detail" }, detail) : null);
    fill(
      this.cards,
      card("GPUs", gpus(status.gpus), `${status.nodes} nodes`),
      card("Allocated", gpus(status.gpus_allocated), percent(status.gpus_allocated, status.gpus)),
      card("Used", usedTotal === null ? "not reported" : gpus(usedTotal),
        usedTotal === null ? "no agent reports GPU usage (simulated GPUs)" : percent(usedTotal, status.gpus)),
      card("Running", String(status.workloads["running"] ?? 0), "workloads"),
      card("Pending", String(status.workloads["pending"] ?? 0), "workloads"),
    );
    const rows = (status.pools ?? []).map((pool) => {
      const busy = used?.get(`${pool.pool}/${pool.model}`);
      return [pool.pool, pool.model, gpus(pool.gpus), gpus(pool.allocated),
        percent(pool.allocated, pool.gpus), busy === undefined ? "—" : gpus(busy)];
    });
    fill(this.pools, table("GPUs by node pool and model",
      ["Pool", "Model", "GPUs", "Allocated", "Allocation", "Used"], rows));

    // Stored samples, then now.
    const points = [...model.samples];
    points.push({ time_ms: Date.now(), gpus: status.gpus, allocated: status.gpus_allocated,
      used: usedTotal ?? undefined, running: status.workloads["running"] ?? 0,
      pending: status.workloads["pending"] ?? 0 });
    const times = points.map((p) => p.time_ms);
    const lines = [
      { label: "total", values: points.map((p) => p.gpus), color: "#888" },
      { label: "allocated", values: points.map((p) => p.allocated), color: "#1f6feb" },
    ];
    if (points.some((p) => p.used !== undefined)) {
      lines.push({ label: "used", values: points.map((p) => p.used ?? null) as number[], color: "#2da44e" });
    }
    this.allocationChart.show(times, lines);
    this.workloadChart.show(times, [
      { label: "running", values: points.map((p) => p.running), color: "#1f6feb" },
      { label: "pending", values: points.map((p) => p.pending), color: "#d1242f" },
    ]);
  }
}
