/**
 * @flotilla/testing: shared test support — databases per backend with real migrations
 * (`eachDatabase`) and scratch databases for real service processes (`scratchDatabase`), polling
 * assertions (`eventually`), loopback servers (`listen`, `freePort`, `startHttpRecorder`),
 * project bins as child processes (`spawnBin`), temporary directories, shared timeouts, and a
 * plain OTLP/HTTP trace receiver (`startOtlpReceiver`).
 */
export {
  TestDatabaseUnavailableError,
  eachDatabase,
  type DatabaseTestContext,
  type EachDatabaseOptions,
} from "./each-database.js";
export {
  scratchDatabase,
  testDatabaseServerUrl,
  testDatabaseUrl,
  withTestServer,
  type ScratchDatabase,
} from "./scratch-database.js";
export { EventuallyTimeoutError, eventually, type EventuallyOptions } from "./eventually.js";
export { freePort, listen, type Listening } from "./listen.js";
export { metricSum, scrapeMetric } from "./metrics-text.js";
export { startHttpRecorder, type HttpRecorder, type RecordedRequest } from "./http-recorder.js";
export { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./otlp-receiver.js";
export {
  BinNotFoundError,
  SpawnBinExitedError,
  SpawnBinTimeoutError,
  repoRoot,
  resolveBin,
  spawnBin,
  type ExitStatus,
  type SpawnBinOptions,
  type SpawnedBin,
} from "./spawn-bin.js";
export { tempDir, type AfterHook, type TempDir } from "./temp-dir.js";
export { Timeouts } from "./timeouts.js";
export { probeTimerLag, type TimerLagProbe } from "./timer-lag.js";
