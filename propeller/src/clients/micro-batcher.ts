/**
 * A DataLoader-style micro-batcher: calls that arrive while a batch is being collected are
 * sent together in one `send`, and each caller gets exactly its own item's result.
 */

/** Tunables of {@link createMicroBatcher}. */
export interface MicroBatcherOptions<Item, Result> {
  /**
   * Sends one batch (1..maxItems items, no key twice) and resolves with one result per item,
   * in order. A rejection fails every caller of that batch with the same error.
   */
  send: (items: Item[]) => Promise<Result[]>;
  /** The item's identity within a batch: two items with the same key never share a batch. */
  keyOf: (item: Item) => string;
  /** How long a batch collects calls after its first one, in ms; 0 means until the next event-loop turn. */
  windowMs: number;
  /** Largest batch; a batch that reaches it is sent at once. */
  maxItems: number;
}

interface Pending<Item, Result> {
  items: Item[];
  keys: Set<string>;
  waiters: { resolve: (r: Result) => void; reject: (err: unknown) => void }[];
}

/**
 * Creates a micro-batcher and returns its `load(item)`: it adds the item to the open batch
 * (or opens one, which is sent `windowMs` later) and resolves with that item's result.
 * An item whose key the open batch already holds goes to another batch, sent at the same
 * time, so `send` never sees a key twice (the resource manager refuses such batches whole).
 */
export function createMicroBatcher<Item, Result>(
  options: MicroBatcherOptions<Item, Result>,
): (item: Item) => Promise<Result> {
  if (!(options.maxItems >= 1)) throw new RangeError(`maxItems must be >= 1, got ${options.maxItems}`);
  if (!(options.windowMs >= 0)) throw new RangeError(`windowMs must be >= 0, got ${options.windowMs}`);
  let open: Pending<Item, Result>[] = [];
  let timer: { cancel: () => void } | undefined;

  const dispatch = (batch: Pending<Item, Result>): void => {
    // Via then(), a `send` that throws synchronously fails its callers like one that rejects.
    Promise.resolve(batch.items)
      .then(options.send)
      .then(
        (rs) => {
          batch.waiters.forEach((w, i) => {
            if (i < rs.length) w.resolve(rs[i]);
            else w.reject(new Error(`batch answered ${rs.length} results for ${batch.items.length} items`));
          });
        },
        (err: unknown) => batch.waiters.forEach((w) => w.reject(err)),
      );
  };

  const flushAll = (): void => {
    timer = undefined;
    const batches = open;
    open = [];
    batches.forEach(dispatch);
  };

  const schedule = (): void => {
    if (timer) return;
    if (options.windowMs === 0) {
      const h = setImmediate(flushAll);
      timer = { cancel: () => clearImmediate(h) };
    } else {
      const h = setTimeout(flushAll, options.windowMs);
      timer = { cancel: () => clearTimeout(h) };
    }
  };

  return (item) =>
    new Promise<Result>((resolve, reject) => {
      const key = options.keyOf(item);
      let batch = open.find((b) => !b.keys.has(key));
      if (!batch) {
        batch = { items: [], keys: new Set(), waiters: [] };
        open.push(batch);
      }
      batch.items.push(item);
      batch.keys.add(key);
      batch.waiters.push({ resolve, reject });
      if (batch.items.length >= options.maxItems) {
        open = open.filter((b) => b !== batch);
        if (open.length === 0) {
          timer?.cancel();
          timer = undefined;
        }
        dispatch(batch);
      } else {
        schedule();
      }
    });
}
