// Workspaces on the Workloads view: a form that creates one (name,
// project, GPU or fraction, image, Jupyter or a command on a port), and the
// actions of a workspace's row: Open (the gateway's URL, in a tab of its
// own, with the session cookie of the login), Stop and Start.
import { ApiError, send } from "../api";
import { type Child, h, labelled } from "../dom";
import type { ClusterModel, Workload } from "../model";

export function workspaceUrl(workload: Workload): string {
  return `/workspaces/${encodeURIComponent(workload.project)}/${encodeURIComponent(workload.name)}/`;
}

// Open, Stop and Start for a workspace; nothing for other work.
export function workspaceActions(workload: Workload, onError: (message: string) => void): Child {
  if (!workload.workspace) return "";
  const act = (verb: "stop" | "start") => async () => {
    try {
      await send("POST", `/api/v1/workloads/${encodeURIComponent(workload.name)}/${verb}`);
    } catch (error) {
      onError(error instanceof ApiError ? error.message : String(error));
    }
  };
  const running = workload.status === "running";
  const ended = !["pending", "running"].includes(workload.status) && workload.status !== "deleted";
  return h("span", { class: "actions" },
    running
      ? h("a", { href: workspaceUrl(workload), target: "_blank", rel: "noopener", class: "button",
        "aria-label": `Open workspace ${workload.name}` }, "Open")
      : null,
    running || workload.status === "pending"
      ? h("button", { type: "button", "aria-label": `Stop workspace ${workload.name}`, onclick: act("stop") }, "Stop")
      : null,
    ended
      ? h("button", { type: "button", "aria-label": `Start workspace ${workload.name}`, onclick: act("start") }, "Start")
      : null);
}

// The "New workspace" form; the server checks every value and its error
// (naming the field) is shown as it says.
export function workspaceForm(model: ClusterModel): HTMLElement {
  const name = h("input", { id: "ws-name", required: true, pattern: "[a-z0-9]([a-z0-9-]*[a-z0-9])?",
    placeholder: "my-notebook" }) as HTMLInputElement;
  const project = h("select", { id: "ws-project" },
    [...model.projects.keys()].sort().map((p) => h("option", { value: p }, p))) as HTMLSelectElement;
  const gpu = h("input", { id: "ws-gpu", placeholder: "0.25 or 1", inputmode: "decimal" }) as HTMLInputElement;
  const image = h("input", { id: "ws-image", placeholder: "none: a host process" }) as HTMLInputElement;
  const serves = h("select", { id: "ws-serves" },
    h("option", { value: "jupyter" }, "Jupyter"), h("option", { value: "port" }, "my command")) as HTMLSelectElement;
  const port = h("input", { id: "ws-port", type: "number", min: 1, max: 65535, value: 8000 }) as HTMLInputElement;
  const command = h("input", { id: "ws-command", placeholder: "python3 -m http.server $PORT" }) as HTMLInputElement;
  const commandFields = h("span", { hidden: true }, labelled("Port", port), labelled("Command", command));
  serves.addEventListener("change", () => {
    commandFields.hidden = serves.value !== "port";
  });
  const result = h("p", { role: "status" });
  const form = h("form", { class: "filters workspace-form", "aria-label": "New workspace" },
    labelled("Workspace name", name), labelled("Workspace project", project),
    labelled("Workspace GPU", gpu), labelled("Workspace image", image),
    labelled("Serves", serves), commandFields,
    h("button", { type: "submit" }, "Create workspace"), result);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body: Record<string, unknown> = {
      name: name.value.trim(), project: project.value, kind: "interactive",
      workspace: serves.value === "jupyter" ? { jupyter: true } : { port: Number(port.value) },
    };
    if (serves.value === "port") body.command = ["sh", "-c", command.value];
    if (gpu.value.trim()) body.gpu = gpu.value.trim();
    if (image.value.trim()) body.image = image.value.trim();
    result.textContent = "creating…";
    result.className = "";
    send("POST", "/api/v1/workloads", body).then(() => {
      result.textContent = `workspace ${String(body.name)} created: Open appears on its row once it runs`;
    }).catch((error) => {
      result.textContent = error instanceof ApiError ? error.message : String(error);
      result.className = "error";
      result.setAttribute("role", "alert");
    });
  });
  return h("details", { class: "new-workspace" }, h("summary", {}, "New workspace"), form);
}
