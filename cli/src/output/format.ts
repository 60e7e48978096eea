/**
 * Human formatting of protobuf values shared by commands: timestamps, durations, phases,
 * identifiers, literal values.
 */
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { Schedule_CatchUpPolicy, type Schedule } from "@flotilla/proto";

/** ISO-8601 UTC time of a timestamp (seconds precision), or "-" when unset. */
export function formatTime(ts: Timestamp | undefined): string {
  if (!ts) return "-";
  const ms = Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
  if (ms === 0) return "-";
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Milliseconds of a protobuf duration (0 when unset). */
export function durationToMs(d: Duration | undefined): number {
  return d ? Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6) : 0;
}

/** Compact human duration: "850ms", "12.3s", "4m05s", "2h03m", or "-" for 0/unset. */
export function formatDuration(ms: number): string {
  if (!(ms > 0)) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * The display name of a phase enum value: `PHASE_RUNNING` → `RUNNING`, 0 → `UNDEFINED`
 * (Flyte's name for PHASE_UNSPECIFIED). `names` is the TS enum object (value → name).
 */
export function phaseName(names: Record<number, string>, value: number): string {
  const name = names[value];
  if (name === undefined) return String(value);
  return name === "UNSPECIFIED" ? "UNDEFINED" : name;
}

/** Display name of any prefixed enum value (`STATE_CORDONED` → "CORDONED"; 0 → "-" ). */
export function enumName(names: Record<number, string>, value: number, zero = "-"): string {
  const name = names[value];
  if (name === undefined) return String(value);
  return name === "UNSPECIFIED" ? zero : name;
}

/** `{k: v}` as "k=v,k2=v2" (sorted), or "-" when empty. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(",") : "-";
}

/** A schedule as written: `cron (zone)` or `every <rate>`, or "-" when there is none. */
export function formatSchedule(s: Schedule | undefined): string {
  const e = s?.scheduleExpression;
  if (e?.case === "cronExpression") return `${e.value} (${s?.timeZone || "UTC"})`;
  if (e?.case === "fixedRate") return `every ${formatDuration(durationToMs(e.value))}`;
  return "-";
}

/** A schedule's catch-up policy: `skip`, `last` or `all (max N)`. */
export function formatCatchUp(s: Schedule | undefined): string {
  if (s?.catchUpPolicy === Schedule_CatchUpPolicy.ALL) return `all (max ${s.maxCatchUp || 100})`;
  return enumName(Schedule_CatchUpPolicy, s?.catchUpPolicy ?? 0, "SKIP").toLowerCase();
}

/**
 * Dollars with cents from micro-dollars, rounded half-up to the cent (the admin's rule: each
 * attempt is whole micro-dollars, sums are exact, only the display rounds).
 */
export function formatDollars(micros: bigint): string {
  const cents = (micros + 5000n) / 10000n;
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, "0")}`;
}
