/**
 * The real admin for benchmarks: one helper, so a change to the admin's start-up API is adapted
 * here once. It lives in `support/` so `npm run bench` and the smoke test do not take it for a
 * benchmark.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { migrate, openDatabase } from "@flotilla/db";
import {
  ADMIN_MIGRATIONS_DIR,
  resolveAdminConfig,
  silentLogger,
  startAdmin,
  type Admin,
} from "@flotilla/admin";
import { scratchDatabase } from "@flotilla/testing";

/** A running admin of a benchmark. */
export interface BenchAdmin {
  /** Base URL of its Connect/gRPC/REST server on 127.0.0.1. */
  readonly url: string;
  /** The admin's managers, for set-up and checks without going through the wire. */
  readonly admin: Admin;
  /** Its blob store root (file://). */
  readonly blobUrl: string;
  /** Stops the admin and drops its database and blob directory. */
  stop(): Promise<void>;
}

/**
 * Starts the real admin in this process on a free 127.0.0.1 port, on a fresh PostgreSQL
 * database (created here, dropped by `stop()`) and a fresh file blob store, with `clusters`
 * (name and inline kubeconfig) for its routing to place executions on. Returns once it listens.
 */
export async function startBenchAdmin(
  clusters: { name: string; kubeconfigInline: string }[] = [],
): Promise<BenchAdmin> {
  const scratch = await scratchDatabase({ prefix: "flotilla_bench_admin_" });
  const blobDir = mkdtempSync(join(tmpdir(), "flotilla-bench-admin-"));
  const db = await openDatabase({ url: scratch.url, poolSize: 8 });
  const cleanup = async () => {
    await db.close();
    await scratch.drop();
    rmSync(blobDir, { recursive: true, force: true });
  };
  try {
    await migrate(db, { dir: ADMIN_MIGRATIONS_DIR });
    const blobUrl = pathToFileURL(blobDir).href;
    const config = resolveAdminConfig({
      server: { host: "127.0.0.1", port: 0 },
      blobStore: { url: blobUrl },
      clusters,
    });
    const running = await startAdmin(config, { database: db, logger: silentLogger });
    return {
      url: running.url,
      admin: running.admin,
      blobUrl,
      stop: async () => {
        await running.stop();
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
