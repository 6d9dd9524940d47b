// Services: the inference services the caller may read, with their
// replicas ready and desired, the gateway's last minute of traffic and
// cold starts, a link to each, a form that creates one and Delete on each
// row (docs/serving.md).
import { ApiError, getJson, listAll, send } from "../api";
import { fill, h, labelled, table } from "../dom";
import type { ClusterModel } from "../model";
import type { View } from "./view";

interface ServiceStatus {
  desired?: number;
  ready?: number;
  draining?: number;
  panicking?: boolean;
  requests_per_second: number;
  latency_p99_ms: number;
  cold_starts: number;
  not_ready_reason?: string;
}

interface Service {
  name: string;
  project: string;
  url: string;
  min_replicas: number;
  max_replicas: number;
  public: boolean;
  generation: number;
  status?: ServiceStatus;
}

export class ServicesView implements View {
  private body!: HTMLElement;
  private message!: HTMLElement;
  private loading = false;
  private refresh: number | undefined;

  mount(container: HTMLElement, model: ClusterModel): void {
    this.body = h("div", {});
    this.message = h("p", { role: "status" });
    fill(container, h("h1", {}, "Services"),
      h("p", { class: "hint" }, "Inference services: replicas grow with the requests in flight at the " +
        "gateway, shrink when they fall, and go to zero when nobody calls (min 0)."),
      this.form(model), this.message, this.body);
  }

  update(): void {
    if (this.loading) return;
    this.loading = true;
    this.load().catch((error) => {
      this.message.textContent = error instanceof ApiError ? error.message : String(error);
    }).finally(() => {
      this.loading = false;
      // The gateway's figures change without a store change: poll while shown.
      window.clearTimeout(this.refresh);
      if (this.body.isConnected) this.refresh = window.setTimeout(() => this.update(), 2000);
    });
  }

  private async load(): Promise<void> {
    const { items } = await listAll<Service>("/api/v1/services");
    const described = await Promise.all(items.map((s) =>
      getJson<Service>(`/api/v1/services/${encodeURIComponent(s.name)}`).catch(() => s)));
    const rows = described.sort((a, b) => a.name.localeCompare(b.name)).map((s) => {
      const st = s.status;
      return [
        h("a", { href: s.url, target: "_blank", rel: "noopener" }, s.name),
        s.project,
        `${st?.ready ?? 0} / ${st?.desired ?? 0}${st?.panicking ? " (panic)" : ""}`,
        `${s.min_replicas}–${s.max_replicas}`,
        (st?.requests_per_second ?? 0).toFixed(1),
        (st?.latency_p99_ms ?? 0).toFixed(1),
        String(st?.cold_starts ?? 0),
        s.public ? "public" : "project",
        st?.not_ready_reason ?? "",
        h("button", { type: "button", "aria-label": `Delete service ${s.name}`, onclick: () => this.remove(s.name) },
          "Delete"),
      ];
    });
    fill(this.body, rows.length
      ? table("Services", ["Service", "Project", "Ready / desired", "Replicas", "Requests/s", "p99 ms",
        "Cold starts", "Access", "Not ready because", ""], rows)
      : h("p", {}, "No services yet."));
  }

  private remove(name: string): void {
    send("DELETE", `/api/v1/services/${encodeURIComponent(name)}`).then(() => {
      this.message.textContent = `service ${name} deleted`;
      this.update();
    }).catch((error) => {
      this.message.textContent = error instanceof ApiError ? error.message : String(error);
    });
  }

  // The "New service" form; the server checks every value and says which
  // field is wrong.
  private form(model: ClusterModel): HTMLElement {
    const input = (id: string, attrs: Record<string, unknown>) => h("input", { id, ...attrs }) as HTMLInputElement;
    const name = input("svc-name", { required: true, placeholder: "my-model" });
    const project = h("select", { id: "svc-project" },
      [...model.projects.keys()].sort().map((p) => h("option", { value: p }, p))) as HTMLSelectElement;
    const port = input("svc-port", { type: "number", min: 1, max: 65535, value: 8000 });
    const gpu = input("svc-gpu", { placeholder: "0.1 or 1", inputmode: "decimal" });
    const image = input("svc-image", { placeholder: "none: a host process" });
    const min = input("svc-min", { type: "number", min: 0, value: 1 });
    const max = input("svc-max", { type: "number", min: 1, value: 4 });
    const target = input("svc-target", { type: "number", min: 1, value: 4 });
    const ready = input("svc-ready", { placeholder: "/health" });
    const command = input("svc-command", { required: true, placeholder: "python3 -m http.server $PORT" });
    const result = h("p", { role: "status" });
    const form = h("form", { class: "filters workspace-form", "aria-label": "New service" },
      labelled("Service name", name), labelled("Service project", project), labelled("Service port", port),
      labelled("Service GPU", gpu), labelled("Service image", image), labelled("Min replicas", min),
      labelled("Max replicas", max), labelled("Target in flight", target), labelled("Ready path", ready),
      labelled("Service command", command), h("button", { type: "submit" }, "Create service"), result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body: Record<string, unknown> = {
        name: name.value.trim(), project: project.value, port: Number(port.value),
        min_replicas: Number(min.value), max_replicas: Number(max.value),
        target_concurrency: Number(target.value), command: ["sh", "-c", command.value],
      };
      if (gpu.value.trim()) body.gpu = gpu.value.trim();
      if (image.value.trim()) body.image = image.value.trim();
      if (ready.value.trim()) body.ready_path = ready.value.trim();
      result.textContent = "creating…";
      result.className = "";
      send("POST", "/api/v1/services", body).then(() => {
        result.textContent = `service ${String(body.name)} created`;
        this.update();
      }).catch((error) => {
        result.textContent = error instanceof ApiError ? error.message : String(error);
        result.className = "error";
        result.setAttribute("role", "alert");
      });
    });
    return h("details", { class: "new-workspace" }, h("summary", {}, "New service"), form);
  }
}
