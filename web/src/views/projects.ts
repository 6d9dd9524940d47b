// Projects: deserved, fair share, allocated, allocation ratio, over quota
// and pending, each department above its projects (its rows roll them up).
import { fill, h, table } from "../dom";
import { gpus, percent } from "../format";
import type { ClusterModel, IdleRule, QueueStatus } from "../model";
import type { View } from "./view";

function idleRule(rule: IdleRule | undefined): string {
  if (!rule) return "—";
  return rule.action === "stop" ? `stopped after ${rule.after}` : `preemptible after ${rule.after}`;
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
    const departments = queues.filter((q) => q.type === "department");
    const row = (queue: QueueStatus, isProject: boolean) => [
      isProject ? h("span", { class: "indent" }, queue.name) : h("strong", {}, queue.name),
      queue.type,
      gpus(queue.deserved),
      gpus(queue.fair_share),
      gpus(queue.allocated),
      percent(queue.allocated, queue.deserved),
      gpus(Math.max(0, queue.allocated - queue.deserved)),
      String(queue.pending),
      isProject ? idleRule(model.projects.get(queue.name)?.idle_interactive) : "",
    ];
    const rows: ReturnType<typeof row>[] = [];
    for (const department of departments) {
      rows.push(row(department, false));
      for (const project of queues.filter((q) => q.type === "project" && q.department === department.name)) {
        rows.push(row(project, true));
      }
    }
    fill(this.body, table("Quotas and use by department and project",
      ["Name", "Type", "Deserved", "Fair share", "Allocated", "Allocation ratio", "Over quota", "Pending",
        "Idle interactive work"],
      rows));
  }
}
