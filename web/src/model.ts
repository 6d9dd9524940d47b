// What the page knows of the cluster: loaded once, then kept current by
// the watch API (long polls from a revision, as `kubectl get -w` does).
import { ApiError, getJson, listAll } from "./api";
import { mebibytes } from "./format";

export interface Assignment {
  node: string;
  gpus: number[];
  attempt: number;
  state?: string;
  reason?: string;
  exit_code?: number;
  restarts?: number;
}

export interface Workload {
  name: string;
  project: string;
  kind: string;
  workers: number;
  min_workers: number;
  priority: number;
  preemptible: boolean;
  gpu?: string;
  gpu_memory?: string;
  gpu_limit?: string;
  gpu_memory_limit?: string;
  cpu: string;
  memory: string;
  command: string[];
  gpu_models?: string[];
  node_selector?: Record<string, string>;
  pools?: string[];
  topology?: { required?: string; preferred?: string };
  max_runtime?: string;
  image?: string;
  // A workspace: served by the gateway at /workspaces/<project>/<name>/.
  workspace?: { port: number; jupyter: boolean; access: string };
  owner: string;
  status: string;
  pending_reason: string;
  reason?: string;
  assignments: Assignment[];
  created_ms: number;
}

export interface Gpu {
  index: number;
  uuid: string;
  model: string;
  memory: string;
}

export interface NodeInfo {
  name: string;
  pool: string;
  labels: Record<string, string>;
  cpu: string;
  memory: string;
  gpus: Gpu[];
  simulated: boolean;
  state: string;
}

export interface QueueStatus {
  name: string;
  type: "project" | "department";
  department?: string;
  parent?: string;
  deserved: number;
  fair_share: number;
  allocated: number;
  pending: number;
  // Per GPU model, where some queue declares per-model quota.
  gpu_models?: Record<string, { deserved: number; fair_share: number; allocated: number }>;
}

export interface PoolStatus {
  pool: string;
  model: string;
  gpus: number;
  allocated: number;
}

export interface ClusterStatus {
  nodes: number;
  gpus: number;
  gpus_allocated: number;
  workloads: Record<string, number>;
  queues: QueueStatus[];
  pools?: PoolStatus[];
}

export interface Sample {
  time_ms: number;
  gpus: number;
  allocated: number;
  used?: number;
  running: number;
  pending: number;
}

export interface Event {
  name: string;
  time_ms: number;
  workload: string;
  project: string;
  type: string;
  message: string;
}

export interface WorkloadUsage {
  time_ms: number;
  gpu_utilization: number;
  gpu_memory_used: string;
  idle_since_ms: number | null;
}

export interface IdleRule {
  after: string;
  action: "stop" | "preempt";
}

export interface Project {
  name: string;
  department: string;
  idle_interactive?: IdleRule;
}

export interface GpuUsage {
  index: number;
  memory_used: string;
  utilization: number;
}

interface WatchItem {
  type: "changed" | "deleted";
  kind: string;
  revision: number;
  object: { name: string } & Record<string, unknown>;
}

const kKeptEvents = 500;

export class ClusterModel {
  workloads = new Map<string, Workload>();
  nodes = new Map<string, NodeInfo>();
  status: ClusterStatus | null = null;
  samples: Sample[] = [];
  events: Event[] = []; // since the page loaded, newest last
  usage: Record<string, GpuUsage[]> = {};
  // Per running workload whose GPU use an agent measures.
  workloadUsage: Record<string, WorkloadUsage> = {};
  projects = new Map<string, Project>();
  connected = false;
  unauthorized = ""; // why the server stopped taking the token
  private revision = 0;
  private listeners: Array<() => void> = [];
  private stopped = false;
  private abort: AbortController | null = null;

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async load(): Promise<void> {
    const workloads = await listAll<Workload>("/api/v1/workloads");
    this.revision = workloads.revision;
    this.workloads = new Map(workloads.items.map((w) => [w.name, w]));
    const nodes = await listAll<NodeInfo>("/api/v1/nodes");
    this.nodes = new Map(nodes.items.map((n) => [n.name, n]));
    this.samples = (await listAll<Sample>("/api/v1/samples")).items;
    const projects = await listAll<Project>("/api/v1/projects");
    this.projects = new Map(projects.items.map((p) => [p.name, p]));
    try {
      this.status = await getJson<ClusterStatus>("/api/v1/cluster");
    } catch {
      this.status = null; // no cycle yet: the watch brings it
    }
    await this.loadUsage();
    this.connected = true;
    this.notify();
  }

  // Watches until stop(); reconnects after an error. GPU usage is not in
  // the store: it is read every 5 s beside the watch.
  async watch(): Promise<void> {
    void this.pollUsage();
    while (!this.stopped) {
      try {
        this.abort = new AbortController();
        const reply = await getJson<{ items: WatchItem[]; revision: number }>(
          `/api/v1/watch?since=${this.revision}&timeout_s=10`,
          undefined,
          this.abort.signal,
        );
        for (const item of reply.items) this.apply(item);
        this.revision = reply.revision;
        this.connected = true;
        this.notify();
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof ApiError && error.status === 401) {
          this.unauthorized = error.message; // the token was revoked or expired
          this.notify();
          return;
        }
        this.connected = false;
        this.notify();
        await new Promise((resolve) => setTimeout(resolve, 2000));
        if (error instanceof ApiError && error.status === 410) {
          // Watching from before the change log's start: list again.
          await this.load().catch(() => undefined);
        }
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private async pollUsage(): Promise<void> {
    while (!this.stopped) {
      await new Promise((resolve) => setTimeout(resolve, 5000));
      if (this.stopped) return;
      try {
        await this.loadUsage();
        this.notify();
      } catch {
        // the watch shows the connection's state
      }
    }
  }

  private async loadUsage(): Promise<void> {
    const reply = await getJson<{ nodes: Record<string, GpuUsage[]>; workloads: Record<string, WorkloadUsage> }>(
      "/api/v1/usage",
    );
    this.usage = reply.nodes;
    this.workloadUsage = reply.workloads;
  }

  private apply(item: WatchItem): void {
    const object = item.object;
    const deleted = item.type === "deleted";
    switch (item.kind) {
      case "workloads":
        if (deleted) this.workloads.delete(object.name);
        else this.workloads.set(object.name, object as unknown as Workload);
        break;
      case "nodes":
        if (deleted) this.nodes.delete(object.name);
        else this.nodes.set(object.name, object as unknown as NodeInfo);
        break;
      case "projects":
        if (deleted) this.projects.delete(object.name);
        else this.projects.set(object.name, object as unknown as Project);
        break;
      case "status":
        if (!deleted && object.name === "cluster") this.status = object as unknown as ClusterStatus;
        break;
      case "samples":
        if (deleted) this.samples = this.samples.filter((s) => s.time_ms !== (object as unknown as Sample).time_ms);
        else this.samples.push(object as unknown as Sample);
        break;
      case "events":
        if (!deleted) {
          this.events.push(object as unknown as Event);
          if (this.events.length > kKeptEvents) this.events.splice(0, this.events.length - kKeptEvents);
        }
        break;
    }
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}

// What one GPU holds: running tasks' shares of it, in milli-GPU.
export interface GpuShare {
  workload: string;
  project: string;
  milli: number;
}

export function gpuShares(model: ClusterModel): Map<string, GpuShare[]> {
  const shares = new Map<string, GpuShare[]>();
  for (const workload of model.workloads.values()) {
    if (workload.status !== "running") continue;
    for (const task of workload.assignments) {
      const node = model.nodes.get(task.node);
      if (!node) continue;
      for (const index of task.gpus) {
        const gpu = node.gpus[index];
        if (!gpu) continue;
        let milli = 1000;
        if (workload.gpu_memory) {
          milli = Math.min(1000, Math.round((1000 * mebibytes(workload.gpu_memory)) / Math.max(1, mebibytes(gpu.memory))));
        } else if (workload.gpu && Number(workload.gpu) < 1) {
          milli = Math.round(Number(workload.gpu) * 1000);
        }
        const key = `${node.name}/${index}`;
        const list = shares.get(key) ?? [];
        list.push({ workload: workload.name, project: workload.project, milli });
        shares.set(key, list);
      }
    }
  }
  return shares;
}
