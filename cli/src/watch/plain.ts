/** The non-TTY form of `watch execution`: one line per phase change. */
import { formatDuration } from "../output/format.js";
import { flattenNodes, type ExecutionView } from "../views/snapshot.js";

/** Remembers the last phases seen and describes what changed. */
export class PhaseChangeLog {
  private readonly seen = new Map<string, string>();

  /** Lines describing every change between the previous snapshot and `view`. */
  changes(view: ExecutionView, now: Date = new Date()): string[] {
    const stamp = now.toISOString().slice(11, 19);
    const out: string[] = [];
    const note = (key: string, phase: string, text: string) => {
      if (this.seen.get(key) === phase) return;
      this.seen.set(key, phase);
      out.push(`${stamp} ${text}`);
    };
    note(
      "@execution",
      `${view.phase}/${view.cluster}`,
      `execution ${view.id.name} ${view.phase}${view.cluster ? ` on ${view.cluster}` : view.message ? ` (${view.message})` : ""}`,
    );
    for (const { node } of flattenNodes(view.nodes)) {
      for (const a of node.attempts) {
        note(
          `${node.id}#${a.attempt}`,
          a.phase,
          `node ${node.id} attempt #${a.attempt} ${a.phase}${a.error ? `: ${a.error}` : ""}`,
        );
      }
      const duration =
        node.durationMs > 0 && ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"].includes(node.phase)
          ? ` (${formatDuration(node.durationMs)})`
          : "";
      note(
        node.id,
        node.phase,
        `node ${node.id} ${node.phase}${duration}${node.error ? `: ${node.error}` : ""}`,
      );
    }
    if (view.terminal && view.error) out.push(`${stamp} error: ${view.error}`);
    return out;
  }
}
