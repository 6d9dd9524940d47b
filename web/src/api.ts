// The control plane's HTTP API, with the token the user logged in with.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

const kTokenKey = "allot-token";

export function savedToken(): string {
  return sessionStorage.getItem(kTokenKey) ?? "";
}

export function saveToken(token: string): void {
  if (token) sessionStorage.setItem(kTokenKey, token);
  else sessionStorage.removeItem(kTokenKey);
}

async function request(path: string, token: string, signal?: AbortSignal,
  method = "GET", body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!response.ok) {
    let code = "internal";
    let message = `${response.status} ${response.statusText}`;
    let field = "";
    try {
      const body = await response.json();
      code = body?.error?.code ?? code;
      message = body?.error?.message ?? message;
      field = body?.error?.field ?? "";
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, code, message, field);
  }
  return response;
}

export async function getJson<T>(path: string, token = savedToken(), signal?: AbortSignal): Promise<T> {
  return (await request(path, token, signal)).json() as Promise<T>;
}

export async function getText(path: string, token = savedToken()): Promise<string> {
  return (await request(path, token)).text();
}

// A change: POST, PUT, PATCH or DELETE with a JSON body; the reply's JSON.
export async function send<T>(method: string, path: string, body?: unknown, token = savedToken()): Promise<T> {
  return (await request(path, token, undefined, method, body ?? {})).json() as Promise<T>;
}

interface Page<T> {
  items: T[];
  revision: number;
  next: string | null;
}

// Every item of a paged list, and the store revision of its first page
// (watching from there misses nothing).
export async function listAll<T>(path: string): Promise<{ items: T[]; revision: number }> {
  const items: T[] = [];
  let revision = -1;
  let after: string | null = "";
  while (after !== null) {
    const separator = path.includes("?") ? "&" : "?";
    const query: string = after ? `${separator}limit=1000&after=${encodeURIComponent(after)}` : `${separator}limit=1000`;
    const page: Page<T> = await getJson<Page<T>>(path + query);
    if (revision < 0) revision = page.revision;
    items.push(...page.items);
    after = page.next;
  }
  return { items, revision };
}
