// Builds an admin over a test database with a scripted placer, for manager-level tests.
import { create } from "@bufbuild/protobuf";
import type { Database } from "@flotilla/db";
import { ProjectSchema } from "@flotilla/proto";
import { tempDir, type AfterHook } from "@flotilla/testing";
import { createAdmin, type Admin } from "../admin.js";
import { resolveAdminConfig } from "../config.js";
import { silentLogger } from "../logger.js";
import type { ExecutionKey, ExecutionPlacer, PlacementRequest } from "../manager/placement.js";
import { PROJECT } from "./builders.js";

/** A placer that places every execution on `cluster` unless its label is "nowhere" (queued). */
export class ScriptedPlacer implements ExecutionPlacer {
  readonly placed: PlacementRequest[] = [];
  readonly terminated: { execution: ExecutionKey; cluster: string }[] = [];
  /** When set, the next place() call fails with this error (a crashed or broken placer). */
  failNext: Error | undefined;
  /** The cluster placements go to; tests may change it between executions. */
  constructor(public cluster = "alpha") {}
  place(request: PlacementRequest) {
    this.placed.push(request);
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      return Promise.reject(err);
    }
    if (request.clusterLabel === "nowhere")
      return Promise.resolve({ state: "queued" as const, reason: "NoEligibleCluster" });
    return Promise.resolve({ state: "placed" as const, cluster: this.cluster, reason: "Test" });
  }
  terminate(execution: ExecutionKey, cluster: string) {
    this.terminated.push({ execution, cluster });
    return Promise.resolve();
  }
}

/** Extras of {@link testAdmin}: more configuration, and the clock of schedules. */
export interface TestAdminOptions {
  /** Merged into the configuration document (e.g. `{scheduler: {minInterval: "1s"}}`). */
  config?: Record<string, unknown>;
  now?: () => Date;
  /** Register the test project (default true; false for a second admin on the same database). */
  registerProject?: boolean;
}

/** An admin over `db` with a temporary blob store and a {@link ScriptedPlacer}. */
export async function testAdmin(
  db: Database,
  t?: AfterHook,
  options: TestAdminOptions = {},
): Promise<{ admin: Admin; placer: ScriptedPlacer }> {
  const blobs = tempDir({ prefix: "flotilla-admin-blobs-", ...(t ? { t } : {}) });
  const config = resolveAdminConfig({ blobStore: { url: `file://${blobs.path}` }, ...options.config });
  const placer = new ScriptedPlacer();
  const admin = await createAdmin(config, {
    database: db,
    logger: silentLogger,
    routing: () => ({ placer, handlers: {}, start: async () => {}, stop: async () => {} }),
    ...(options.now ? { now: options.now } : {}),
  });
  if (options.registerProject !== false)
    await admin.projects.register(create(ProjectSchema, { id: PROJECT, name: "Flotilla" }));
  return { admin, placer };
}
