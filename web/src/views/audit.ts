// The audit log, newest first (admins only: the API refuses others).
import { ApiError, getJson } from "../api";
import { fill, h, labelled, table } from "../dom";
import { time } from "../format";
import type { View } from "./view";

interface AuditEntry {
  id: number;
  time_ms: number;
  actor: string;
  source: string;
  method: string;
  path: string;
  allowed: boolean;
  status: number;
  detail: string;
}

export class AuditView implements View {
  private body!: HTMLElement;
  private actor = "";
  private loadedAt = 0;

  mount(container: HTMLElement): void {
    this.body = h("div");
    const actor = h("input", { id: "audit-actor", type: "search", placeholder: "user name" }) as HTMLInputElement;
    actor.value = this.actor;
    const refresh = h("button", { type: "submit" }, "Show");
    const form = h("form", { class: "filters", "aria-label": "Filter the audit log" },
      labelled("Actor", actor), refresh);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.actor = actor.value.trim();
      void this.load();
    });
    fill(container, h("h1", {}, "Audit log"), form, this.body);
    void this.load();
  }

  // The audit log is not watched: it is read again at most every 5 s.
  update(): void {
    if (Date.now() - this.loadedAt > 5000) void this.load();
  }

  private async load(): Promise<void> {
    this.loadedAt = Date.now();
    const query = `order=newest&limit=200${this.actor ? `&actor=${encodeURIComponent(this.actor)}` : ""}`;
    try {
      const reply = await getJson<{ items: AuditEntry[] }>(`/api/v1/audit?${query}`);
      fill(this.body, table("Newest 200 entries", ["Time", "Actor", "Source", "Request", "Allowed", "Status", "Detail"],
        reply.items.map((e) => [time(e.time_ms), e.actor, e.source, `${e.method} ${e.path}`,
          e.allowed ? "yes" : h("strong", {}, "refused"), String(e.status), e.detail])));
    } catch (error) {
      fill(this.body, h("p", { role: "alert" }, error instanceof ApiError ? error.message : String(error)));
    }
  }
}
