// Numbers and times as the page shows them.
export function gpus(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2).replace(/\.?0+$/, "");
}

export function percent(part: number, whole: number): string {
  if (whole <= 0) return "—";
  return `${Math.round((100 * part) / whole)}%`;
}

export function age(timeMs: number, nowMs: number = Date.now()): string {
  const seconds = Math.max(0, Math.round((nowMs - timeMs) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d`;
}

export function time(timeMs: number): string {
  return new Date(timeMs).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// "0.5" -> 0.5; "1536Mi" -> 1536 (MiB); "80Gi" -> 81920.
export function mebibytes(text: string | undefined): number {
  if (!text) return 0;
  const match = /^([0-9.]+)(Ki|Mi|Gi|Ti)?$/.exec(text);
  if (!match) return 0;
  const value = Number(match[1]);
  switch (match[2]) {
    case "Ki":
      return value / 1024;
    case "Gi":
      return value * 1024;
    case "Ti":
      return value * 1024 * 1024;
    case "Mi":
      return value;
    default:
      return value / (1024 * 1024);
  }
}
