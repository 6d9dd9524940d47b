// The dashboard: log in with a token, then five sections kept current by
// the watch API. Sections are chosen by the URL's hash (#/workloads).
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { ApiError, getJson, saveToken, savedToken, send } from "./api";
import { fill, h, labelled } from "./dom";
import { ClusterModel } from "./model";
import { AuditView } from "./views/audit";
import { NodesView } from "./views/nodes";
import { OverviewView } from "./views/overview";
import { ProjectsView } from "./views/projects";
import { ServicesView } from "./views/services";
import type { View } from "./views/view";
import { WorkloadsView } from "./views/workloads";

interface Whoami {
  name: string;
  roles: Array<{ role: string; project?: string; department?: string }>;
}

const views: Record<string, View> = {
  overview: new OverviewView(),
  projects: new ProjectsView(),
  workloads: new WorkloadsView(),
  services: new ServicesView(),
  nodes: new NodesView(),
  audit: new AuditView(),
};

const main = document.getElementById("main") as HTMLElement;
let model: ClusterModel | null = null;
let current: View | null = null;
let pending = false;

function sectionOfHash(): string {
  const name = location.hash.replace(/^#\/?/, "");
  return name in views ? name : "overview";
}

function show(): void {
  if (!model) return;
  const name = sectionOfHash();
  current = views[name];
  for (const link of document.querySelectorAll<HTMLAnchorElement>("#nav a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  current.mount(main, model);
  current.update(model);
}

// Live updates come in bursts: draw once per frame.
function scheduleUpdate(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    if (model?.unauthorized) {
      saveToken("");
      showLogin(model.unauthorized);
      return;
    }
    const live = document.getElementById("live") as HTMLElement;
    live.textContent = model?.connected ? "live" : "reconnecting…";
    live.className = model?.connected ? "live on" : "live off";
    if (model && current) current.update(model);
  });
}

function showLogin(message = ""): void {
  model?.stop();
  model = null;
  (document.getElementById("logout") as HTMLElement).hidden = true;
  fill(document.getElementById("who") as HTMLElement);
  const token = h("input", { id: "token", type: "password", autocomplete: "current-password", required: true }) as HTMLInputElement;
  const form = h("form", { class: "login", "aria-label": "Log in" },
    h("h1", {}, "Log in to allot"),
    h("p", {}, "Paste an API token: the admin token is in the server's data directory " +
      "(admin-token); users get theirs from an admin (allot token create)."),
    labelled("API token", token),
    h("button", { type: "submit" }, "Log in"),
    message ? h("p", { role: "alert", class: "error" }, message) : null);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void logIn(token.value.trim());
  });
  fill(main, form);
  token.focus();
}

async function logIn(token: string): Promise<void> {
  let me: Whoami;
  try {
    me = await getJson<Whoami>("/api/v1/whoami", token);
  } catch (error) {
    showLogin(error instanceof ApiError ? error.message : String(error));
    return;
  }
  saveToken(token);
  // The session cookie the gateway accepts, so that a workspace opens in a
  // tab of its own (HttpOnly: the page never sees it).
  try {
    await send("POST", "/api/v1/session", {}, token);
  } catch {
    // workspaces will ask for a login; the dashboard works without it
  }
  const admin = me.roles.some((r) => r.role === "admin");
  (document.getElementById("nav-audit") as HTMLElement).parentElement!.hidden = !admin;
  fill(document.getElementById("who") as HTMLElement, `Signed in as ${me.name}`);
  (document.getElementById("logout") as HTMLElement).hidden = false;
  model = new ClusterModel();
  model.onChange(scheduleUpdate);
  try {
    await model.load();
  } catch (error) {
    showLogin(error instanceof ApiError ? error.message : String(error));
    return;
  }
  show();
  void model.watch();
}

document.getElementById("logout")?.addEventListener("click", () => {
  void send("DELETE", "/api/v1/session").catch(() => undefined);
  saveToken("");
  showLogin();
});
window.addEventListener("hashchange", () => {
  show();
  main.focus();
});

if (savedToken()) void logIn(savedToken());
else showLogin();
