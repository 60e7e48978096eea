// eachDatabase bodies stay flat: its afterEach does not reach tests of nested describes.
// Reasons are stored as code + message (migration 0055): rows written before it are split once
// by the migration, and the routing repositories write and read the two columns.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { migrate } from "@flotilla/db";
import { eachDatabase, tempDir } from "@flotilla/testing";
import { aPlacementRequest } from "../testing/routing.js";
import { createPostgresPendingPlacementRepository } from "./pending-placement-repository.js";
import { createPostgresPendingTerminationRepository } from "./pending-termination-repository.js";

const MIGRATIONS = fileURLToPath(new URL("../../migrations/", import.meta.url));
/** Admin's migrations before 0055, as a database written by an older admin has them. */
const before = tempDir({ prefix: "flotilla-migrations-0054-" });
mkdirSync(before.path, { recursive: true });
for (const file of readdirSync(MIGRATIONS).filter((f) => f < "0055")) {
  copyFileSync(join(MIGRATIONS, file), join(before.path, file));
}
after(() => before.cleanup());

eachDatabase("reason codes", { migrations: before.path }, (ctx) => {
  test("0055 splits the 'Code: message' text of earlier rows into code and message", async () => {
    const db = ctx.db();
    await db.query(
      `INSERT INTO executions (project, domain, name, workflow_name, workflow_version, spec, spec_digest, inputs_uri,
       cluster, queue_reason, phase, created_at, updated_at)
     VALUES ('p', 'd', 'lost-1', 'wf', 'v1', '\\x', 'd', 'file:///x', 'c1', 'ClusterLost: cluster c1 has sent no heartbeat since t', 2, now(), now()),
            ('p', 'd', 'waiting-1', 'wf', 'v1', '\\x', 'd', 'file:///x', NULL, 'NoClustersConfigured', 1, now(), now())`,
    );
    await db.query(
      `INSERT INTO pending_placements (project, domain, name, spec, request, last_error)
       VALUES ('p', 'd', 'q-1', '\\x', '{}', 'ClusterUnreachable: cluster c1 unreachable during create: x: y'),
              ('p', 'd', 'q-2', '\\x', '{}', '')`,
    );
    await db.query(
      `INSERT INTO pending_terminations (cluster, project, domain, name, last_error)
       VALUES ('c1', 'p', 'd', 't-1', 'ClusterUnreachable: cluster c1 unreachable during delete')`,
    );

    assert.deepEqual((await migrate(db, { dir: MIGRATIONS })).applied, ["0055_reason_codes.sql"]);

    const executions = await db.query(
      "SELECT name, queue_reason, queue_reason_code FROM executions ORDER BY name",
    );
    assert.deepEqual(executions.rows, [
      {
        name: "lost-1",
        queue_reason: "ClusterLost: cluster c1 has sent no heartbeat since t",
        queue_reason_code: "ClusterLost",
      },
      { name: "waiting-1", queue_reason: "NoClustersConfigured", queue_reason_code: null },
    ]);
    const pending = await db.query(
      "SELECT name, last_error_code, last_error FROM pending_placements ORDER BY name",
    );
    assert.deepEqual(pending.rows, [
      {
        name: "q-1",
        last_error_code: "ClusterUnreachable",
        last_error: "cluster c1 unreachable during create: x: y",
      },
      { name: "q-2", last_error_code: "", last_error: "" },
    ]);
    const terminations = await db.query("SELECT last_error_code, last_error FROM pending_terminations");
    assert.deepEqual(terminations.rows, [
      { last_error_code: "ClusterUnreachable", last_error: "cluster c1 unreachable during delete" },
    ]);
  });

  test("pending placements and terminations store a reason's code and message apart", async () => {
    const db = ctx.db();
    await migrate(db, { dir: MIGRATIONS });
    const placements = createPostgresPendingPlacementRepository(db);
    const terminations = createPostgresPendingTerminationRepository(db);
    const e = { project: "p", domain: "d", name: "e-1" };
    const reason = { code: "ClusterUnreachable", message: "cluster c1 unreachable during create: refused" };

    await placements.upsert(aPlacementRequest(e, { blobRoot: "file:///tmp/x" }), new Date());
    assert.deepEqual((await placements.get(e))?.lastError, { code: "", message: "" });
    await placements.reschedule(e, {
      attempts: 1,
      lastCluster: "c1",
      lastError: reason,
      nextAttemptAt: new Date(),
    });
    assert.deepEqual((await placements.get(e))?.lastError, reason);

    await terminations.upsert("c1", e, reason, new Date(0));
    const [due] = await terminations.due(new Date(), 10);
    assert.deepEqual(due?.lastError, reason);
    assert.equal(due?.attempts, 1);
  });
});
