/**
 * The real admin for benchmarks: one helper, so a change to the admin's start-up API is adapted
 * here once. It lives in `support/` so `npm run bench` and the smoke test do not take it for a
 * benchmark.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { migrate, openDatabase } from "@flotilla/db";
import {
  ADMIN_MIGRATIONS_DIR,
  resolveAdminConfig,
  silentLogger,
  startAdmin,
  type Admin,
} from "@flotilla/admin";

/** The PostgreSQL server benchmarks create their scratch databases on. */
export const BENCH_DATABASE_SERVER =
  process.env.FLOTILLA_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

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

/** Runs one statement (CREATE/DROP DATABASE) on {@link BENCH_DATABASE_SERVER}. */
export async function onBenchServer(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_SERVER });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Starts the real admin in this process on a free 127.0.0.1 port, on a fresh PostgreSQL
 * database (created here, dropped by `stop()`) and a fresh file blob store, with `clusters`
 * (name and inline kubeconfig) for its routing to place executions on. Returns once it listens.
 */
export async function startBenchAdmin(
  clusters: { name: string; kubeconfigInline: string }[] = [],
): Promise<BenchAdmin> {
  const name = `flotilla_bench_admin_${randomBytes(4).toString("hex")}`;
  await onBenchServer(`CREATE DATABASE ${name}`);
  const blobDir = mkdtempSync(join(tmpdir(), "flotilla-bench-admin-"));
  const url = new URL(BENCH_DATABASE_SERVER);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString(), poolSize: 8 });
  const cleanup = async () => {
    await db.close();
    await onBenchServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
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
