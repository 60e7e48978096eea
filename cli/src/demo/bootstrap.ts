/**
 * The demo's bootstrap against a running admin: the example projects, every example spec
 * registered in every domain of both projects, and a wait until every cluster's propeller has
 * sent a heartbeat (so the first execution a user creates is placed at once).
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Cluster_Health, DomainSchema, ProjectSchema } from "@flotilla/proto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { AdminClient } from "../client.js";
import { registerSpecs } from "../spec/register.js";
import { DEMO_CLUSTERS, DEMO_DOMAINS, DEMO_PROJECTS, EXAMPLES_VERSION } from "./topology.js";

/** What the bootstrap created. */
export interface BootstrapResult {
  launchPlans: string[];
  workflows: string[];
}

/**
 * Creates the demo projects (an existing one is kept) and registers every `*.yaml` of
 * `examplesDir` under {@link EXAMPLES_VERSION} in every domain of every project. Throws on any
 * refusal (an invalid example names its file and line).
 */
export async function registerDemoContent(
  client: AdminClient,
  examplesDir: string,
): Promise<BootstrapResult> {
  for (const p of DEMO_PROJECTS) {
    const project = create(ProjectSchema, {
      id: p.id,
      name: p.name,
      description: p.description,
      labels: p.labels,
      isolationLabel: p.isolation,
      domains: DEMO_DOMAINS.map((id) => create(DomainSchema, { id, name: id })),
    });
    try {
      await client.registerProject({ project });
    } catch (err) {
      if (!(err instanceof ConnectError && err.code === Code.AlreadyExists)) throw err;
    }
  }
  const files = (await readdir(examplesDir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const sources = await Promise.all(
    files.map(async (f) => ({
      file: join(examplesDir, f),
      text: await readFile(join(examplesDir, f), "utf8"),
    })),
  );
  const targets = DEMO_PROJECTS.flatMap((p) => DEMO_DOMAINS.map((domain) => ({ project: p.id, domain })));
  const results = await Promise.all(
    targets.map((t) => registerSpecs(client, sources, { ...t, version: EXAMPLES_VERSION })),
  );
  const registered = results[0] ?? [];
  return {
    launchPlans: registered.filter((r) => r.kind === "LaunchPlan").map((r) => r.name),
    workflows: registered.filter((r) => r.kind === "Workflow").map((r) => r.name),
  };
}

/** Waits (up to `timeoutMs`) until every demo cluster's propeller reported HEALTHY by heartbeat. */
export async function waitForHealthyClusters(client: AdminClient, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const wanted = new Set(DEMO_CLUSTERS.map((c) => c.name));
  for (;;) {
    const { clusters } = await client.listClusters({});
    const healthy = new Set(clusters.filter((c) => c.health === Cluster_Health.HEALTHY).map((c) => c.name));
    const missing = [...wanted].filter((n) => !healthy.has(n));
    if (missing.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`clusters ${missing.join(", ")} sent no heartbeat within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
