/**
 * The blob store holds inputs, outputs and large offloaded documents (compiled closures, node
 * status maps). The database and the WorkflowExecution CR carry URIs, never large payloads.
 *
 * Only the local `file://` store is implemented; the interface is what an S3-compatible store
 * must provide (whole-object put/get by URI, prefix listing), so adding one is one class.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** A stored object was not found at the given URI. */
export class BlobNotFoundError extends Error {
  constructor(readonly uri: string) {
    super(`blob not found: ${uri}`);
    this.name = "BlobNotFoundError";
  }
}

/** A URI does not belong to the store it was given to, or is malformed. */
export class InvalidBlobUriError extends Error {
  constructor(
    readonly uri: string,
    readonly reason: string,
  ) {
    super(`invalid blob uri ${JSON.stringify(uri)}: ${reason}`);
    this.name = "InvalidBlobUriError";
  }
}

/** A blob store URL names a scheme this build cannot serve. */
export class UnsupportedBlobStoreError extends Error {
  constructor(readonly url: string) {
    super(
      `unsupported blob store ${JSON.stringify(url)}: only file:// stores are built in ` +
        `(an S3-compatible store implements the BlobStore interface)`,
    );
    this.name = "UnsupportedBlobStoreError";
  }
}

/** Whole-object storage addressed by URI. */
export interface BlobStore {
  /** The store's root URI, e.g. `file:///var/lib/flotilla/blobs`; every URI it serves starts with it. */
  readonly root: string;
  /** Writes an object atomically (readers see the old or the new content, never a part). */
  put(uri: string, data: Uint8Array | string): Promise<void>;
  /** Reads an object; throws {@link BlobNotFoundError} when absent. */
  get(uri: string): Promise<Uint8Array>;
  /** True when an object exists at the URI. */
  exists(uri: string): Promise<boolean>;
  /** Deletes an object or, for a prefix, everything below it. Absent is not an error. */
  delete(uri: string): Promise<void>;
  /** URIs of every object below a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Joins path segments onto a URI (`join(root, "a", "b")` → `root/a/b`). */
  join(base: string, ...parts: string[]): string;
  /**
   * The local filesystem path of a URI when the store is a local directory (the sandbox's
   * process runtime maps task I/O to it), otherwise undefined.
   */
  localPath(uri: string): string | undefined;
}

/** Opens the blob store named by a URL. Only `file://` is built in. */
export function openBlobStore(url: string): BlobStore {
  if (url.startsWith("file://")) return new FileBlobStore(url);
  if (isAbsolute(url)) return new FileBlobStore(pathToFileURL(url).href);
  throw new UnsupportedBlobStoreError(url);
}

/** SHA-256 of content as lowercase hex: the digest stored beside offloaded documents. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A blob store in a local directory; URIs are `file://` URLs below it. */
export class FileBlobStore implements BlobStore {
  readonly root: string;
  private readonly rootPath: string;

  constructor(rootUrl: string) {
    this.rootPath = resolve(fileURLToPath(rootUrl));
    this.root = pathToFileURL(this.rootPath).href;
  }

  localPath(uri: string): string {
    let path: string;
    try {
      path = resolve(fileURLToPath(uri));
    } catch (err) {
      throw new InvalidBlobUriError(uri, (err as Error).message);
    }
    const rel = relative(this.rootPath, path);
    if (rel.startsWith("..") || isAbsolute(rel)) {
      throw new InvalidBlobUriError(uri, `outside the store root ${this.root}`);
    }
    return path;
  }

  join(base: string, ...parts: string[]): string {
    const trimmed = base.endsWith("/") ? base.slice(0, -1) : base;
    const tail = parts
      .flatMap((p) => p.split("/"))
      .filter((p) => p.length > 0)
      .map((p) => {
        if (p === "." || p === "..") throw new InvalidBlobUriError(`${base}/${p}`, "dot segments");
        return encodeURIComponent(p);
      })
      .join("/");
    return tail ? `${trimmed}/${tail}` : trimmed;
  }

  async put(uri: string, data: Uint8Array | string): Promise<void> {
    const path = this.localPath(uri);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomUUID()}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, path);
  }

  async get(uri: string): Promise<Uint8Array> {
    try {
      return await readFile(this.localPath(uri));
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(uri);
      throw err;
    }
  }

  async exists(uri: string): Promise<boolean> {
    try {
      return (await stat(this.localPath(uri))).isFile();
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async delete(uri: string): Promise<void> {
    await rm(this.localPath(uri), { recursive: true, force: true });
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.localPath(prefix);
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err) || (err as NodeJS.ErrnoException).code === "ENOTDIR") return;
        throw err;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (!entry.name.endsWith(".tmp")) out.push(pathToFileURL(path).href);
      }
    };
    await walk(base);
    if (out.length === 0 && (await this.exists(prefix))) out.push(pathToFileURL(base).href);
    return out.sort();
  }
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT";
}
