/**
 * Watch streams: `?watch=true` answered as kube-apiserver does, one JSON line per event
 * (`ADDED`/`MODIFIED`/`DELETED`, `BOOKMARK` when asked for, one `ERROR` with a 410 Status when
 * the resume point was compacted), as objects or as `Table` rows, closed on `timeoutSeconds`,
 * when the client goes, or when the stream falls too far behind. Frames of one event are
 * encoded once and shared by every watcher; each stream flushes once per event-loop turn.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { toTable } from "./discovery.js";
import { badRequest, expired } from "./errors.js";
import { JSON_TYPE, includeObject, wantsTable } from "./http/responses.js";
import { type ResourceType, groupVersion, typeKey } from "./registry.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import {
  type ChangeEvent,
  CompactedError,
  type EventType,
  type KubeObject,
  type ObjectStore,
  type Watcher,
} from "./store.js";

/** A stream that falls this far behind its client is closed (the client relists). */
const WATCH_BUFFER_LIMIT = 32 * 1024 * 1024;

/** One open watch stream. */
interface WatchStream {
  watcher: Watcher;
  bookmarks: boolean;
  bookmark(): void;
}

/** What a watch request asks for, from its path and query. */
export interface WatchRequest {
  t: ResourceType;
  namespace: string | undefined;
  /** Set for a watch on one object (`.../pods/x?watch=true`): a `metadata.name` field selector. */
  name: string | undefined;
  q: URLSearchParams;
}

/**
 * The open watch streams of one API server. Side effects: a bookmark timer runs until
 * `closeAll()`.
 */
export class WatchStreams {
  private readonly streams = new Set<WatchStream>();
  private readonly bookmarkTimer: NodeJS.Timeout;

  /**
   * Streams watch `store`; bookmarks go out every `bookmarkIntervalMs` to streams that asked;
   * `onExpired` hears of every watch answered 410 (by resource plural name).
   */
  constructor(
    private readonly store: ObjectStore,
    bookmarkIntervalMs: number,
    private readonly onExpired: (resource: string) => void = () => {},
  ) {
    this.bookmarkTimer = setInterval(() => {
      for (const s of this.streams) if (s.bookmarks) s.bookmark();
    }, bookmarkIntervalMs);
    this.bookmarkTimer.unref();
  }

  /** Number of open streams. */
  count(): number {
    return this.streams.size;
  }

  /** Closes every open stream (clients see the connection end). Returns how many. */
  dropAll(): number {
    const open = [...this.streams];
    for (const s of open) s.watcher.close();
    return open.length;
  }

  /** Stops bookmarks and closes every stream. */
  closeAll(): void {
    clearInterval(this.bookmarkTimer);
    this.dropAll();
  }

  /**
   * Serves one watch request until it ends. Throws 400 for a malformed resourceVersion; a
   * compacted one is answered with an `ERROR` event (HTTP 200), as kube does.
   */
  serve(req: IncomingMessage, res: ServerResponse, { t, namespace, name, q }: WatchRequest): void {
    let fieldSelector = q.get("fieldSelector") ?? "";
    if (name !== undefined)
      fieldSelector = fieldSelector ? `${fieldSelector},metadata.name=${name}` : `metadata.name=${name}`;
    const label = parseLabelSelector(q.get("labelSelector"));
    const field = parseFieldSelector(fieldSelector);
    const rvParam = q.get("resourceVersion");
    const fromRv = rvParam && rvParam !== "0" ? Number(rvParam) : undefined;
    if (fromRv !== undefined && !Number.isInteger(fromRv))
      throw badRequest(`invalid resource version: ${rvParam}`);
    const table = wantsTable(req);
    const include = includeObject(q);
    const gv = groupVersion(t);
    let first = true;
    let closed = false;
    res.writeHead(200, {
      "Content-Type": JSON_TYPE,
      "Cache-Control": "no-cache, private",
      "Transfer-Encoding": "chunked",
    });
    res.flushHeaders();
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = (): void => {
      if (closed || pending.length === 0) return;
      const chunk = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      res.write(chunk);
      if (res.writableLength > WATCH_BUFFER_LIMIT) close();
    };
    // Frames queue up and go out once per event-loop turn: one write per watcher per burst
    // instead of one syscall per event.
    const write = (frame: Buffer): void => {
      if (closed) return;
      if (pending.length === 0) scheduleFlush(flush);
      pending.push(frame);
      pendingBytes += frame.length;
    };
    const watcher: Watcher = {
      typeKey: typeKey(t),
      namespace: t.namespaced ? namespace : undefined,
      label,
      field,
      deliver(type: EventType, json: string, obj: KubeObject, event: ChangeEvent | undefined) {
        if (table) {
          const tbl = toTable(t, [obj], include, { resourceVersion: obj.metadata.resourceVersion }, first);
          first = false;
          write(Buffer.from(`{"type":"${type}","object":${JSON.stringify(tbl)}}\n`));
          return;
        }
        if (event && obj.apiVersion === gv) {
          let frame = event.frames[type];
          if (!frame) {
            frame = Buffer.from(`{"type":"${type}","object":${json}}\n`);
            event.frames[type] = frame;
          }
          write(frame);
          return;
        }
        const body = obj.apiVersion === gv ? json : JSON.stringify({ ...obj, apiVersion: gv });
        write(Buffer.from(`{"type":"${type}","object":${body}}\n`));
      },
      close,
    };
    const store = this.store;
    const stream: WatchStream = {
      watcher,
      bookmarks: q.get("allowWatchBookmarks") === "true",
      bookmark() {
        write(
          Buffer.from(
            `{"type":"BOOKMARK","object":{"kind":${JSON.stringify(t.kind)},"apiVersion":${JSON.stringify(gv)},"metadata":{"resourceVersion":"${store.currentRv()}","creationTimestamp":null}}}\n`,
          ),
        );
      },
    };
    const streams = this.streams;
    let unregister = (): void => {};
    function close(): void {
      if (closed) return;
      if (pending.length > 0 && !res.destroyed) res.write(Buffer.concat(pending, pendingBytes));
      pending = [];
      closed = true;
      unregister();
      streams.delete(stream);
      if (timeout) clearTimeout(timeout);
      res.end();
    }
    try {
      unregister = store.watch(watcher, fromRv);
    } catch (err) {
      if (err instanceof CompactedError) {
        this.onExpired(t.resource);
        const status = expired(err.requested, err.oldest).toStatus();
        res.end(`{"type":"ERROR","object":${JSON.stringify(status)}}\n`);
        closed = true;
        return;
      }
      throw err;
    }
    streams.add(stream);
    const timeoutSeconds = q.get("timeoutSeconds");
    const timeout = timeoutSeconds ? setTimeout(close, Number(timeoutSeconds) * 1000) : undefined;
    timeout?.unref();
    req.on("close", close);
    res.on("close", close);
  }
}

let flushQueue: (() => void)[] = [];

/** Runs `flush` once at the end of this event-loop turn (shared across all watchers). */
function scheduleFlush(flush: () => void): void {
  if (flushQueue.length === 0) {
    setImmediate(() => {
      const queue = flushQueue;
      flushQueue = [];
      for (const f of queue) f();
    });
  }
  flushQueue.push(flush);
}
