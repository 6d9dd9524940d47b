// Workloads: filters, status, pending reason and GPU use (idle flagged);
// one workload's tasks, events, GPU use over time and logs.
import { ApiError, getJson, getText } from "../api";
import { TimeChart } from "../chart";
import { type Child, fill, h, labelled, select, table } from "../dom";
import { age, time } from "../format";
import type { ClusterModel, Event, Workload, WorkloadUsage } from "../model";
import type { View } from "./view";
import { workspaceActions, workspaceForm } from "./workspaces";

// Idle this long (every task below 1 % GPU) and a workload is flagged.
const kFlagIdleMs = 5 * 60 * 1000;

interface UsagePoint {
  time_ms: number;
  task: number;
  gpu_utilization: number;
}

function gpuUse(usage: WorkloadUsage | undefined): Child {
  if (!usage) return h("span", { class: "muted" }, "—");
  const idleMs = usage.idle_since_ms ? Date.now() - usage.idle_since_ms : 0;
  if (idleMs >= kFlagIdleMs) {
    return h("span", { class: "idle", title: `every task below 1% GPU since ${time(usage.idle_since_ms!)}` },
      `idle ${age(usage.idle_since_ms!)}`);
  }
  return `${usage.gpu_utilization}%`;
}

const kStatuses = ["", "pending", "running", "succeeded", "failed", "evicted", "lost", "deleted", "stopped"];
const kKinds = ["", "training", "distributed", "interactive", "inference"];

// Where a workload may run and for how long, as "term, description" pairs
// for the details; only what the workload asked for.
function placementFacts(workload: Workload): string[] {
  const facts: string[] = [];
  if (workload.pools?.length) facts.push("Node pools", `${workload.pools.join(", ")} (in this order)`);
  if (workload.gpu_models?.length) facts.push("GPU models", workload.gpu_models.join(", "));
  const selector = Object.entries(workload.node_selector ?? {}).map(([k, v]) => `${k}=${v}`);
  if (selector.length) facts.push("Node selector", selector.join(", "));
  const topology = [workload.topology?.required && `required ${workload.topology.required}`,
    workload.topology?.preferred && `preferred ${workload.topology.preferred}`].filter(Boolean);
  if (topology.length) facts.push("Topology", topology.join(", "));
  if (workload.max_runtime) facts.push("Max runtime", workload.max_runtime);
  return facts;
}

function gpuRequest(workload: Workload): string {
  const limit = workload.gpu_limit ?? workload.gpu_memory_limit;
  const upTo = limit ? ` (up to ${limit})` : "";
  if (workload.gpu_memory) return `${workload.gpu_memory} of a GPU${upTo}`;
  return (workload.gpu ?? "0") + upTo;
}

export class WorkloadsView implements View {
  private filter = { project: "", status: "", kind: "", text: "" };
  private projectSelect!: HTMLElement;
  private list!: HTMLElement;
  private detail!: HTMLElement;
  private selected = "";
  private fetchedEvents: Event[] = [];
  private detailSignature = "";
  private usagePanel!: HTMLElement;
  private usageChart!: TimeChart;
  private usageLoadedAt = 0;
  private model!: ClusterModel;
  private message!: HTMLElement;

  mount(container: HTMLElement, model: ClusterModel): void {
    this.model = model;
    this.projectSelect = h("span");
    const search = h("input", { id: "filter-text", type: "search", placeholder: "name or owner" }) as HTMLInputElement;
    search.value = this.filter.text;
    search.addEventListener("input", () => {
      this.filter.text = search.value;
      this.update(this.model);
    });
    const controls = h("div", { class: "filters", role: "search", "aria-label": "Filter workloads" },
      this.projectSelect,
      labelled("Status", select("filter-status", kStatuses, this.filter.status, (v) => {
        this.filter.status = v;
        this.update(this.model);
      })),
      labelled("Kind", select("filter-kind", kKinds, this.filter.kind, (v) => {
        this.filter.kind = v;
        this.update(this.model);
      })),
      labelled("Search", search));
    this.list = h("div");
    this.detail = h("section", { class: "detail-panel", "aria-live": "polite", "aria-label": "Workload details" });
    this.usagePanel = h("figure", { class: "chart", "aria-label": "GPU use of the workload over time", hidden: true });
    this.usageChart = new TimeChart(this.usagePanel, "GPU use per task", "%");
    this.message = h("p", { role: "alert", class: "error" });
    fill(container, h("h1", {}, "Workloads"), workspaceForm(model), controls, this.message, this.list,
      this.detail, this.usagePanel);
  }

  update(model: ClusterModel): void {
    this.model = model;
    const projects = ["", ...new Set([...model.workloads.values()].map((w) => w.project))].sort();
    const focused = document.activeElement?.id === "filter-project";
    if (!focused) {
      fill(this.projectSelect, labelled("Project", select("filter-project", projects, this.filter.project, (v) => {
        this.filter.project = v;
        this.update(this.model);
      })));
    }
    const text = this.filter.text.toLowerCase();
    const shown = [...model.workloads.values()]
      .filter((w) => !this.filter.project || w.project === this.filter.project)
      .filter((w) => !this.filter.status || w.status === this.filter.status)
      .filter((w) => !this.filter.kind || w.kind === this.filter.kind)
      .filter((w) => !text || w.name.toLowerCase().includes(text) || w.owner.toLowerCase().includes(text))
      .sort((a, b) => b.created_ms - a.created_ms);
    const rows = shown.map((w) => [
      h("button", { type: "button", class: "link", "aria-label": `Show workload ${w.name}`,
        onclick: () => this.select(w.name) }, w.name),
      w.project,
      w.kind,
      h("span", { class: `status status-${w.status}` }, w.status),
      gpuRequest(w),
      String(w.workers),
      w.owner,
      age(w.created_ms),
      w.status === "running" ? gpuUse(model.workloadUsage[w.name]) : "",
      w.status === "pending" ? w.pending_reason : w.reason ?? "",
      workspaceActions(w, (message) => fill(this.message, message)),
    ]);
    fill(this.list, table(`${shown.length} of ${model.workloads.size} workloads`,
      ["Name", "Project", "Kind", "Status", "GPU per task", "Tasks", "Owner", "Age", "GPU use", "Reason",
        "Workspace"], rows));
    this.showDetail();
    if (this.selected && Date.now() - this.usageLoadedAt > 10000) void this.loadUsage();
  }

  // The selected workload's GPU use over the last hour, one line per task.
  private async loadUsage(): Promise<void> {
    const name = this.selected;
    this.usageLoadedAt = Date.now();
    let points: UsagePoint[] = [];
    try {
      points = (await getJson<{ points: UsagePoint[] }>(`/api/v1/workloads/${encodeURIComponent(name)}/usage`)).points;
    } catch {
      // not readable any more: no chart
    }
    if (name !== this.selected) return;
    this.usagePanel.hidden = points.length === 0;
    if (points.length === 0) return;
    const times = [...new Set(points.map((p) => p.time_ms))].sort((a, b) => a - b);
    const tasks = [...new Set(points.map((p) => p.task))].sort((a, b) => a - b);
    const colors = ["#1f6feb", "#2da44e", "#d1242f", "#8250df", "#bf8700"];
    this.usageChart.show(times, tasks.map((task, i) => {
      const at = new Map(points.filter((p) => p.task === task).map((p) => [p.time_ms, p.gpu_utilization]));
      return { label: `task ${task}`, values: times.map((t) => at.get(t) ?? null), color: colors[i % colors.length] };
    }));
  }

  private async select(name: string): Promise<void> {
    this.selected = name;
    this.fetchedEvents = [];
    this.usagePanel.hidden = true;
    void this.loadUsage();
    this.showDetail();
    try {
      const reply = await getJson<{ items: Event[] }>(`/api/v1/events?workload=${encodeURIComponent(name)}&limit=1000`);
      if (this.selected === name) this.fetchedEvents = reply.items;
    } catch {
      // the live events still show
    }
    this.showDetail();
    this.detail.focus();
  }

  private showDetail(): void {
    const workload = this.model.workloads.get(this.selected);
    if (!workload) {
      fill(this.detail);
      this.detailSignature = "";
      return;
    }
    const seen = new Set(this.fetchedEvents.map((e) => e.name));
    const events = [...this.fetchedEvents,
      ...this.model.events.filter((e) => e.workload === workload.name && !seen.has(e.name))];
    // Rebuilt only when something shown changed, so that the log and the
    // focus stay put through live updates.
    const signature = JSON.stringify(workload) + events.length;
    if (signature === this.detailSignature) return;
    this.detailSignature = signature;
    const tasks = workload.assignments.map((task, index) => [
      String(index), task.node || "—", task.gpus.join(", ") || "—", task.state ?? "—",
      String(task.attempt), task.reason ?? (task.exit_code !== undefined ? `exit ${task.exit_code}` : ""),
    ]);
    const logTask = h("select", { id: "log-task" },
      workload.assignments.map((_, index) => h("option", { value: index }, String(index)))) as HTMLSelectElement;
    const logs = h("pre", { class: "logs", tabindex: 0, "aria-label": "Task log" });
    const loadLogs = async () => {
      fill(logs, "loading…");
      try {
        fill(logs, await getText(`/api/v1/workloads/${encodeURIComponent(workload.name)}/logs?task=${logTask.value}`) || "(empty)");
      } catch (error) {
        fill(logs, error instanceof ApiError ? error.message : String(error));
      }
    };
    this.detail.setAttribute("tabindex", "-1");
    fill(this.detail,
      h("h2", {}, `Workload ${workload.name}`),
      h("dl", { class: "facts" },
        ["Status", workload.status, "Project", workload.project, "Kind", workload.kind,
          "Priority", String(workload.priority), "Preemptible", workload.preemptible ? "yes" : "no",
          "GPU per task", gpuRequest(workload), "CPU", workload.cpu, "Memory", workload.memory,
          "Command", workload.command.join(" "), ...placementFacts(workload),
          "Pending reason", workload.pending_reason || "—"]
          .map((text, i) => h(i % 2 === 0 ? "dt" : "dd", {}, text))),
      table("Tasks", ["Task", "Node", "GPUs", "State", "Attempt", "Reason"], tasks),
      table("Events", ["Time", "Type", "Message"], events.map((e) => [time(e.time_ms), e.type, e.message])),
      h("h3", {}, "Logs"),
      h("div", { class: "filters" }, labelled("Task", logTask),
        h("button", { type: "button", onclick: () => void loadLogs() }, "Show logs")),
      logs);
  }
}
