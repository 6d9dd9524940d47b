// Nodes: a map of every GPU and the fractions on it.
import { fill, h } from "../dom";
import { gpus } from "../format";
import { gpuShares, type ClusterModel, type GpuShare } from "../model";
import type { View } from "./view";

// A stable color per project, so that a project's fractions look alike.
function colorOf(project: string): string {
  let hash = 0;
  for (const c of project) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return `hsl(${hash % 360} 55% 55%)`;
}

export class NodesView implements View {
  private body!: HTMLElement;

  mount(container: HTMLElement): void {
    this.body = h("div", { class: "node-grid" });
    fill(container, h("h1", {}, "Nodes"),
      h("p", { class: "hint" }, "Each box is a GPU; a colored band is a task's share of it (fractions side " +
        "by side). Hover or focus a GPU for what runs on it."), this.body);
  }

  update(model: ClusterModel): void {
    const shares = gpuShares(model);
    const nodes = [...model.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
    fill(this.body, nodes.map((node) => {
      const usage = model.usage[node.name] ?? [];
      const boxes = node.gpus.map((gpu, index) => {
        const held: GpuShare[] = shares.get(`${node.name}/${index}`) ?? [];
        const usedMilli = held.reduce((sum, s) => sum + s.milli, 0);
        const busy = usage.find((u) => u.index === index);
        const parts = held.map((s) => `${s.workload} (${s.project}) ${gpus(s.milli / 1000)}`);
        const label = `GPU ${index} ${gpu.model}: ` +
          (parts.length ? parts.join(", ") : "idle") +
          (usedMilli < 1000 ? `, free ${gpus((1000 - usedMilli) / 1000)}` : "") +
          (busy ? `, ${busy.utilization}% busy` : "");
        return h("li", { class: "gpu", tabindex: 0, title: label, "aria-label": label, "data-gpu": `${node.name}/${index}` },
          h("span", { class: "gpu-index" }, String(index)),
          h("span", { class: "bands" }, held.map((s) =>
            h("span", { class: "band", style: `width:${s.milli / 10}%;background:${colorOf(s.project)}`,
              "data-workload": s.workload }, s.milli < 1000 ? gpus(s.milli / 1000) : ""))),
          busy ? h("span", { class: "util" }, `${busy.utilization}%`) : null);
      });
      return h("section", { class: `node node-${node.state}`, "aria-label": `Node ${node.name}` },
        h("h2", {}, node.name),
        h("p", { class: "detail" }, `pool ${node.pool} · ${node.state}${node.simulated ? " · simulated" : ""} · ` +
          `${node.gpus.length} GPU${node.gpus.length === 1 ? "" : "s"} · ${node.cpu} CPU · ${node.memory}`),
        Object.keys(node.labels ?? {}).length
          ? h("p", { class: "detail labels", "aria-label": `Labels of ${node.name}` },
            Object.entries(node.labels).map(([k, v]) => `${k}=${v}`).join(" · "))
          : null,
        h("ul", { class: "gpus", "aria-label": `GPUs of ${node.name}` }, boxes));
    }));
  }
}
