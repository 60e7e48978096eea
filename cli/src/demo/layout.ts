/**
 * Where a demo keeps its files. Everything lives below one directory (default
 * `~/.flotilla/demo`, or `$FLOTILLA_DEMO_DIR`, or `--dir`), so `demo status` and `demo stop`
 * from another shell find the running demo, and deleting the directory removes every trace.
 */
import { join, resolve } from "node:path";

/** The paths of one demo directory. */
export interface DemoLayout {
  /** The demo directory (absolute). */
  readonly dir: string;
  /** JSON state written by the supervisor (`demo status` reads it). */
  readonly stateFile: string;
  /** Holds the supervisor's pid while it runs; created exclusively, so two demos never share a directory. */
  readonly lockFile: string;
  /** One log file per component, plus the supervisor's own. */
  readonly logsDir: string;
  /** The sandbox clusters' state directory; its `kubeconfig` has one context per cluster. */
  readonly sandboxDir: string;
  readonly kubeconfig: string;
  readonly adminConfig: string;
  readonly adminDataDir: string;
  readonly resourceManagerConfig: string;
  readonly resourceManagerDataDir: string;
  /** The blob store shared by the admin and the propellers (inputs, outputs, offloaded status). */
  readonly blobsDir: string;
  /** With `--prometheus`: its configuration, its file-discovered scrape targets and its TSDB. */
  readonly prometheusConfig: string;
  readonly prometheusTargetsDir: string;
  readonly prometheusDataDir: string;
}

/** The default demo directory: `$FLOTILLA_DEMO_DIR`, else `{home}/.flotilla/demo`. */
export function defaultDemoDir(env: NodeJS.ProcessEnv, homeDir: string): string {
  return env.FLOTILLA_DEMO_DIR ? resolve(env.FLOTILLA_DEMO_DIR) : join(homeDir, ".flotilla", "demo");
}

/** The layout of the demo directory `dir` (made absolute). Creates nothing. */
export function demoLayout(dir: string): DemoLayout {
  const root = resolve(dir);
  return {
    dir: root,
    stateFile: join(root, "demo.json"),
    lockFile: join(root, "supervisor.pid"),
    logsDir: join(root, "logs"),
    sandboxDir: join(root, "sandbox"),
    kubeconfig: join(root, "sandbox", "kubeconfig"),
    adminConfig: join(root, "admin.yaml"),
    adminDataDir: join(root, "admin-db"),
    resourceManagerConfig: join(root, "resource-manager.yaml"),
    resourceManagerDataDir: join(root, "resource-manager-db"),
    blobsDir: join(root, "blobs"),
    prometheusConfig: join(root, "prometheus.yml"),
    prometheusTargetsDir: join(root, "prometheus-targets"),
    prometheusDataDir: join(root, "prometheus-data"),
  };
}

/** The files and folders a fresh start removes (data of a previous run; logs are kept elsewhere). */
export function dataPaths(layout: DemoLayout): string[] {
  return [
    layout.stateFile,
    layout.sandboxDir,
    layout.adminConfig,
    layout.adminDataDir,
    layout.resourceManagerConfig,
    layout.resourceManagerDataDir,
    layout.blobsDir,
    layout.prometheusConfig,
    layout.prometheusTargetsDir,
    layout.prometheusDataDir,
  ];
}
