/**
 * Aligned plain-text tables. Colour (a bold header, coloured phases) only when the sink is a
 * terminal and NO_COLOR is not set; otherwise the output is plain ASCII suitable for scripts.
 */

/** One column: header and how to read a cell from a row. */
export interface Column<R> {
  header: string;
  get: (row: R) => string;
}

/** Options of {@link renderTable}. */
export interface TableOptions {
  /** Emit ANSI colour codes. */
  color?: boolean;
}

const ESC = "\u001b[";
const PHASE_COLORS: Record<string, string> = {
  SUCCEEDED: "32",
  RUNNING: "36",
  QUEUED: "33",
  FAILED: "31",
  TIMED_OUT: "31",
  ABORTED: "35",
};

/** Wraps `text` in an ANSI colour fitting a phase name (only when `color`). */
export function colorPhase(text: string, color: boolean): string {
  const code = PHASE_COLORS[text];
  return color && code ? `${ESC}${code}m${text}${ESC}0m` : text;
}

/** Visible width of a string (ANSI escapes excluded). */
export function visibleWidth(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, "").length;
}

/**
 * Renders rows as an aligned table with a header line. Returns the text (with a trailing
 * newline); an empty list renders "No resources found." instead.
 */
export function renderTable<R>(columns: Column<R>[], rows: R[], options: TableOptions = {}): string {
  if (rows.length === 0) return "No resources found.\n";
  const cells = rows.map((r) => columns.map((c) => c.get(r)));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((row) => visibleWidth(row[i]))),
  );
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v + " ".repeat(widths[i] - visibleWidth(v))))
      .join("   ")
      .trimEnd();
  const header = line(columns.map((c) => c.header));
  const out = [options.color ? `${ESC}1m${header}${ESC}0m` : header, ...cells.map(line)];
  return out.join("\n") + "\n";
}

/** Renders key/value pairs as an aligned two-column block ("Key:   value"). */
export function renderFields(fields: Array<[string, string]>): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length + 1));
  return fields.map(([k, v]) => `${(k + ":").padEnd(width)}  ${v}`.trimEnd()).join("\n") + "\n";
}
