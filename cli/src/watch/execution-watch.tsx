/**
 * The live view of `flotctl watch execution`: an ink component that polls an execution
 * snapshot and renders its node tree with phases, durations, cluster and retries, exiting once
 * the execution is terminal.
 */
import { Box, Text, useApp } from "ink";
import { useEffect, useState } from "react";
import { formatDuration } from "../output/format.js";
import { flattenNodes, type ExecutionView } from "../views/snapshot.js";

const SYMBOLS: Record<string, { symbol: string; color: string }> = {
  SUCCEEDED: { symbol: "✓", color: "green" },
  FAILED: { symbol: "✗", color: "red" },
  TIMED_OUT: { symbol: "✗", color: "red" },
  ABORTED: { symbol: "■", color: "magenta" },
  SKIPPED: { symbol: "-", color: "gray" },
  RECOVERED: { symbol: "↺", color: "green" },
  RUNNING: { symbol: "●", color: "cyan" },
  QUEUED: { symbol: "○", color: "yellow" },
};

function style(phase: string) {
  return SYMBOLS[phase] ?? { symbol: "·", color: "white" };
}

/** Renders one snapshot: header line plus one line per node (sub-nodes indented). */
export function ExecutionTree({ view }: { view: ExecutionView }) {
  const rows = flattenNodes(view.nodes);
  const head = style(view.phase);
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>{`${view.id.project}/${view.id.domain}/${view.id.name}`}</Text>
        {"  "}
        <Text color={head.color}>{view.phase}</Text>
        {`  cluster ${view.cluster || "-"}  ${formatDuration(view.durationMs)}`}
        {view.message && !view.cluster ? `  (${view.message})` : ""}
      </Text>
      {rows.length === 0 ? <Text dimColor> no node has started yet</Text> : null}
      {rows.map(({ node, depth }) => {
        const s = style(node.phase);
        const last = node.attempts[node.attempts.length - 1];
        return (
          <Text key={`${depth}/${node.id}`}>
            {"  ".repeat(depth + 1)}
            <Text color={s.color}>{s.symbol}</Text>
            {` ${node.id}  `}
            <Text color={s.color}>{node.phase}</Text>
            {`  ${formatDuration(node.durationMs)}`}
            {node.retries > 0 ? `  retries ${node.retries}` : ""}
            {last && last.phase !== node.phase ? `  attempt #${last.attempt} ${last.phase}` : ""}
            {node.error ? <Text color="red">{`  ${node.error}`}</Text> : null}
          </Text>
        );
      })}
      {view.error ? <Text color="red">{`error: ${view.error}`}</Text> : null}
    </Box>
  );
}

/** Props of {@link ExecutionWatch}. */
export interface ExecutionWatchProps {
  /** Reads the current snapshot. */
  poll: () => Promise<ExecutionView>;
  /** Pause between polls in ms. */
  intervalMs: number;
  /** Called once with the terminal snapshot (or the error that stopped polling), right before the app exits. */
  onDone: (result: { view?: ExecutionView; error?: unknown }) => void;
}

/** Polls until the execution is terminal, re-rendering the tree after every poll. */
export function ExecutionWatch({ poll, intervalMs, onDone }: ExecutionWatchProps) {
  const { exit } = useApp();
  const [view, setView] = useState<ExecutionView | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = async () => {
      try {
        const v = await poll();
        if (stopped) return;
        setView(v);
        // The terminal snapshot is rendered first; the effect below then ends the app.
        if (v.terminal) return;
        timer = setTimeout(() => void tick(), intervalMs);
      } catch (error) {
        if (stopped) return;
        onDone({ error });
        exit();
      }
    };
    void tick();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [poll, intervalMs, onDone, exit]);
  useEffect(() => {
    if (view?.terminal) {
      onDone({ view });
      exit();
    }
  }, [view, onDone, exit]);
  return view ? <ExecutionTree view={view} /> : <Text dimColor>waiting for the execution…</Text>;
}
