/**
 * The shape every API server controller shares, as kube-controller-manager's do: store
 * change events are observed synchronously (indexes kept, keys queued), and the queued keys
 * are processed later, one step each, in the controller loop's passes.
 */
import type { ChangeEvent } from "../store.js";
import type { ControllerHost } from "./controller-host.js";
import type { ControllerLoop, QueuedController } from "./controller-loop.js";

/** A controller whose work items are `T` (deduplicated while queued). */
export abstract class Controller<T> implements QueuedController {
  private readonly items = new Set<T>();

  /** Subscribes to the host's store; steps run on `loop` under `name` (for logs). */
  constructor(
    protected readonly host: ControllerHost,
    protected readonly loop: ControllerLoop,
    private readonly name: string,
  ) {
    host.store.onChange((e) => this.observe(e));
  }

  /** Whether items wait. */
  pending(): boolean {
    return this.items.size > 0;
  }

  /** Processes every queued item; items queued meanwhile wait for the next round. */
  drain(): void {
    const items = [...this.items];
    this.items.clear();
    for (const item of items) this.loop.step(this.name, () => this.process(item));
  }

  /** Queues an item and asks for a pass. */
  protected enqueue(item: T): void {
    this.items.add(item);
    this.loop.schedule();
  }

  /** Reacts to one committed change (synchronously, inside the write): update indexes, enqueue. */
  protected abstract observe(e: ChangeEvent): void;

  /** Processes one queued item. */
  protected abstract process(item: T): void;
}
