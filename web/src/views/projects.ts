// Projects: deserved, fair share, allocated, allocation ratio, over quota
// and pending, and GPUs per model where quota is given per model; the tree
// of any depth, each department above the departments and projects inside
// it (its rows roll its whole subtree up).
import { fill, h, table } from "../dom";
import { gpus, percent } from "../format";
import type { ClusterModel, IdleRule, QueueStatus } from "../model";
import type { View } from "./view";

function idleRule(rule: IdleRule | undefined): string {
  if (!rule) return "—";
  return rule.action === "stop" ? `stopped after ${rule.after}` : `preemptible after ${rule.after}`;
}

// "H100 1/2 · A100 0/1": per model, allocated / deserved.
function modelFigures(queue: QueueStatus): string {
  const parts = Object.entries(queue.gpu_models ?? {})
    .filter(([, f]) => f.deserved > 0 || f.allocated > 0)
    .map(([name, f]) => `${name} ${gpus(f.allocated)}/${gpus(f.deserved)}`);
  return parts.length ? parts.join(" · ") : "—";
}

export class ProjectsView implements View {
  private body!: HTMLElement;

  mount(container: HTMLElement): void {
    this.body = h("div");
    fill(container, h("h1", {}, "Projects"),
      h("p", { class: "hint" }, "GPUs. Fair share: what a queue may hold now — its deserved quota " +
        "plus its share of what others leave idle. Over quota: allocated above deserved (borrowed, " +
        "reclaimable)."), this.body);
  }

  update(model: ClusterModel): void {
    const queues = model.status?.queues ?? [];
    const perModel = queues.some((q) => q.gpu_models);
    const row = (queue: QueueStatus, depth: number) => {
      const isProject = queue.type === "project";
      const name = isProject ? queue.name : h("strong", {}, queue.name);
      return [
        h("span", { class: "indent", style: `padding-left:${depth * 1.25}em` }, name),
        queue.type,
        gpus(queue.deserved),
        gpus(queue.fair_share),
        gpus(queue.allocated),
        percent(queue.allocated, queue.deserved),
        gpus(Math.max(0, queue.allocated - queue.deserved)),
        String(queue.pending),
        ...(perModel ? [modelFigures(queue)] : []),
        isProject ? idleRule(model.projects.get(queue.name)?.idle_interactive) : "",
      ];
    };
    const rows: ReturnType<typeof row>[] = [];
    const walk = (parent: string, depth: number) => {
      for (const department of queues.filter((q) => q.type === "department" && (q.parent ?? "") === parent)) {
        rows.push(row(department, depth));
        walk(department.name, depth + 1);
        for (const project of queues.filter((q) => q.type === "project" && q.department === department.name)) {
          rows.push(row(project, depth + 1));
        }
      }
    };
    walk("", 0);
    fill(this.body, table("Quotas and use by department and project",
      ["Name", "Type", "Deserved", "Fair share", "Allocated", "Allocation ratio", "Over quota", "Pending",
        ...(perModel ? ["GPUs per model (allocated / deserved)"] : []), "Idle interactive work"],
      rows));
  }
}
