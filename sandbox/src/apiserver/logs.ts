/**
 * Pod logs kept by the API server: the kubelet appends through the sandbox-only
 * `PUT .../pods/{name}/log` extension and readers get them through the standard `GET .../log`,
 * optionally following new output.
 */

const MAX_BYTES_PER_CONTAINER = 8 * 1024 * 1024;

type Follower = (chunk: string | null) => void;

/** Log text per pod (by uid) and container, with followers for streaming reads. */
export class LogStore {
  private readonly logs = new Map<string, Map<string, string>>();
  private readonly followers = new Map<string, Set<Follower>>();

  private key(uid: string, container: string): string {
    return `${uid}/${container}`;
  }

  /** Appends text to a container's log and wakes followers; keeps the newest 8 MiB. */
  append(uid: string, container: string, text: string): void {
    let pod = this.logs.get(uid);
    if (!pod) {
      pod = new Map();
      this.logs.set(uid, pod);
    }
    let next = (pod.get(container) ?? "") + text;
    if (next.length > MAX_BYTES_PER_CONTAINER) next = next.slice(next.length - MAX_BYTES_PER_CONTAINER);
    pod.set(container, next);
    for (const f of this.followers.get(this.key(uid, container)) ?? []) f(text);
  }

  /** The whole log of a container (empty when nothing was written). */
  read(uid: string, container: string): string {
    return this.logs.get(uid)?.get(container) ?? "";
  }

  /** Subscribes to new output; `null` means the stream ended. Returns an unsubscribe function. */
  follow(uid: string, container: string, follower: Follower): () => void {
    const key = this.key(uid, container);
    let set = this.followers.get(key);
    if (!set) {
      set = new Set();
      this.followers.set(key, set);
    }
    set.add(follower);
    return () => {
      set.delete(follower);
      if (set.size === 0) this.followers.delete(key);
    };
  }

  /** Ends every follower of a pod (it terminated or was deleted). */
  end(uid: string): void {
    for (const [key, set] of this.followers) {
      if (!key.startsWith(`${uid}/`)) continue;
      for (const f of set) f(null);
      this.followers.delete(key);
    }
  }

  /** Forgets a deleted pod's logs. */
  drop(uid: string): void {
    this.end(uid);
    this.logs.delete(uid);
  }
}
