import type { HolderRecord } from "../allocator/types.js";

/** Writes one coalesced change set durably; rejects when it could not. */
export type CommitFn = (changes: ReadonlyMap<string, HolderRecord | null>) => Promise<void>;

/** Options of {@link GroupCommitter}. */
export interface GroupCommitterOptions {
  /** Called after each successful batch with its number of changed keys and its duration. */
  readonly onBatch?: (size: number, seconds: number) => void;
}

interface Batch {
  readonly changes: Map<string, HolderRecord | null>;
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch nobody awaits (e.g. expiry sweeps) must not surface as an unhandled rejection; the
  // failure is reported through the committer's `failed` state instead.
  done.catch(() => {});
  return { changes: new Map(), done, resolve, reject };
}

/**
 * Group commit: decisions made while a write is in flight are coalesced per key into the next
 * batch, and each batch is one durable write. At most one batch is in flight, so batches commit
 * in decision order and a later change to a key always lands after an earlier one.
 *
 * After a failed batch the committer is *failed*: every pending and later wait rejects with the
 * failure, because the in-memory state is ahead of the database and only a reload can repair it.
 */
export class GroupCommitter {
  private open: Batch = newBatch();
  private inFlight: Batch | undefined;
  private failure: Error | undefined;
  private scheduled = false;

  constructor(
    private readonly commit: CommitFn,
    private readonly options: GroupCommitterOptions = {},
  ) {}

  /**
   * Adds changes to the open batch and returns a promise that resolves once they (and every
   * change added before them) are durable. An empty change set waits for everything decided
   * so far (a barrier), so a read that observed undecided state is not answered early.
   */
  submit(changes: ReadonlyMap<string, HolderRecord | null>): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (changes.size === 0) return this.barrier();
    for (const [key, value] of changes) this.open.changes.set(key, value);
    this.schedule();
    return this.open.done;
  }

  /** Resolves when everything submitted so far is durable. */
  barrier(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.open.changes.size > 0) return this.open.done;
    if (this.inFlight) return this.inFlight.done;
    return Promise.resolve();
  }

  /** True once a batch failed; see the class comment. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Keys waiting in the open batch (for metrics). */
  get pendingSize(): number {
    return this.open.changes.size;
  }

  /** Rejects everything pending with `err` and refuses further work. */
  fail(err: unknown): void {
    if (this.failure !== undefined) return;
    const failure = err instanceof Error ? err : new Error(String(err));
    this.failure = failure;
    this.open.reject(failure);
    this.inFlight?.reject(failure);
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    // Let every request already in the event loop's queue decide first, so they share a batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight || this.failure !== undefined || this.open.changes.size === 0) return;
    const batch = this.open;
    this.open = newBatch();
    this.inFlight = batch;
    const started = performance.now();
    this.commit(batch.changes).then(
      () => {
        this.inFlight = undefined;
        this.options.onBatch?.(batch.changes.size, (performance.now() - started) / 1000);
        batch.resolve();
        this.flush();
      },
      (err: unknown) => {
        this.inFlight = undefined;
        batch.reject(err);
        this.fail(err);
      },
    );
  }
}
