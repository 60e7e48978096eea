/**
 * An index of one level's nodes that lets a round visit only the nodes that can move: the
 * **frontier** (nodes not terminal whose upstream nodes all are: ready to start, running,
 * waiting, or to be skipped), the failed nodes, and how many nodes are not terminal yet.
 *
 * It is kept with the decoded status between rounds ({@link levelIndexOf}: one index per node
 * map object, so a status decoded afresh gets a fresh index) and updated with
 * {@link LevelIndex.refresh} for each node whose phase a round may have changed. Built from
 * scratch it is a full scan of the level ({@link LevelIndex.build}); refreshed it costs
 * O(changed nodes × their out-degree), which is what keeps rounds of a 100,000-node workflow as
 * cheap as those of a small one.
 */
import { NodeExecution_Phase, type NodeStatus } from "@flotilla/proto";
import type { WorkflowGraph } from "./graph.js";
import { isTerminalNodePhase } from "./phases.js";

/** Position of every node of `graph` in its topological order (cached per graph). */
const orderPositions = new WeakMap<WorkflowGraph, ReadonlyMap<string, number>>();

/** Position of every node of `graph` in `graph.order`. */
export function orderPositionsOf(graph: WorkflowGraph): ReadonlyMap<string, number> {
  let positions = orderPositions.get(graph);
  if (!positions) {
    const m = new Map<string, number>();
    graph.order.forEach((id, i) => m.set(id, i));
    positions = m;
    orderPositions.set(graph, positions);
  }
  return positions;
}

const isFailed = (phase: NodeExecution_Phase): boolean =>
  phase === NodeExecution_Phase.FAILED || phase === NodeExecution_Phase.TIMED_OUT;

/** What {@link LevelIndex.snapshot} returns: the index's content, for comparisons in tests. */
export interface LevelIndexSnapshot {
  frontier: string[];
  failed: string[];
  pending: number;
}

/** Frontier, failures and pending count of one level's nodes; see the module comment. */
export class LevelIndex {
  private readonly positions: ReadonlyMap<string, number>;
  /** Ids whose phase is terminal, as last seen. */
  private readonly terminal = new Set<string>();
  private readonly frontierIds = new Set<string>();
  private readonly failedIds = new Set<string>();

  private constructor(
    private readonly graph: WorkflowGraph,
    private readonly nodes: { readonly [id: string]: NodeStatus },
  ) {
    this.positions = orderPositionsOf(graph);
  }

  /** A full scan of `nodes` (the statuses of `graph`'s nodes; absent ones are not started). */
  static build(graph: WorkflowGraph, nodes: { readonly [id: string]: NodeStatus }): LevelIndex {
    const index = new LevelIndex(graph, nodes);
    for (const id of graph.order) {
      const phase = nodes[id]?.phase ?? NodeExecution_Phase.UNSPECIFIED;
      if (isTerminalNodePhase(phase)) {
        index.terminal.add(id);
        if (isFailed(phase)) index.failedIds.add(id);
      }
    }
    for (const id of graph.order) if (index.isFrontier(id)) index.frontierIds.add(id);
    return index;
  }

  /** Whether `id` is not terminal and every upstream node is. */
  private isFrontier(id: string): boolean {
    if (this.terminal.has(id)) return false;
    for (const u of this.graph.upstream.get(id) ?? []) if (!this.terminal.has(u)) return false;
    return true;
  }

  /**
   * Takes in the current phase of node `id`. Returns the ids that joined the frontier because
   * of it (its downstream nodes whose upstream nodes are now all terminal).
   */
  refresh(id: string): string[] {
    if (!this.positions.has(id)) return [];
    const phase = this.nodes[id]?.phase ?? NodeExecution_Phase.UNSPECIFIED;
    const nowTerminal = isTerminalNodePhase(phase);
    if (isFailed(phase)) this.failedIds.add(id);
    else this.failedIds.delete(id);
    if (nowTerminal === this.terminal.has(id)) return [];
    const joined: string[] = [];
    if (nowTerminal) {
      this.terminal.add(id);
      this.frontierIds.delete(id);
      for (const d of this.graph.downstream.get(id) ?? []) {
        if (!this.frontierIds.has(d) && this.isFrontier(d)) {
          this.frontierIds.add(d);
          joined.push(d);
        }
      }
    } else {
      // Terminal nodes do not come back in a round; a status replaced wholesale does, and is
      // handled like any other change.
      this.terminal.delete(id);
      if (this.isFrontier(id)) this.frontierIds.add(id);
      for (const d of this.graph.downstream.get(id) ?? []) this.frontierIds.delete(d);
    }
    return joined;
  }

  /** Position of `id` in the level's topological order. */
  position(id: string): number {
    return this.positions.get(id) ?? Number.MAX_SAFE_INTEGER;
  }

  /** The frontier in topological order. */
  frontier(): string[] {
    return [...this.frontierIds].sort((a, b) => this.position(a) - this.position(b));
  }

  /** The first failed (or timed-out) node in topological order, if any. */
  firstFailed(): string | undefined {
    let best: string | undefined;
    for (const id of this.failedIds)
      if (best === undefined || this.position(id) < this.position(best)) best = id;
    return best;
  }

  /** Whether some node of the level is not terminal yet. */
  hasPending(): boolean {
    return this.terminal.size < this.graph.order.length;
  }

  /** The index's content (sorted), to compare an incrementally kept index with a rebuilt one. */
  snapshot(): LevelIndexSnapshot {
    return {
      frontier: this.frontier(),
      failed: [...this.failedIds].sort((a, b) => this.position(a) - this.position(b)),
      pending: this.graph.order.length - this.terminal.size,
    };
  }
}

/** Indexes kept between rounds, one per node map object (and graph). */
const indexes = new WeakMap<object, { graph: WorkflowGraph; index: LevelIndex }>();

/**
 * The index of the level whose statuses are `nodes`: the one kept from earlier rounds when the
 * same map object is walked again with the same graph, else a fresh full scan.
 */
export function levelIndexOf(graph: WorkflowGraph, nodes: { readonly [id: string]: NodeStatus }): LevelIndex {
  const kept = indexes.get(nodes);
  if (kept && kept.graph === graph) return kept.index;
  const index = LevelIndex.build(graph, nodes);
  indexes.set(nodes, { graph, index });
  return index;
}

/** Drops the kept index of `nodes` (after changes made outside the walk, such as an abort). */
export function forgetLevelIndex(nodes: { readonly [id: string]: NodeStatus }): void {
  indexes.delete(nodes);
}
