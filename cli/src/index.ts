/**
 * @flotilla/cli: `flotctl`, the Flotilla command line (oclif commands, ink live views). The
 * library surface lets tests and tools run commands in-process and reuse the spec parser.
 */
export { runFlotctl, toCliError, wantsJson } from "./execute.js";
export { getRuntime, processRuntime, setRuntime, type CliRuntime, type OutputStream } from "./runtime.js";
export {
  AdminUnreachableError,
  CliError,
  ConfigError,
  ExecutionOutcomeError,
  ExitCode,
  InvalidSpecError,
  MissingSettingError,
  UsageError,
  formatProblem,
  type SpecProblem,
} from "./errors.js";
export { configPath, loadConfig, saveConfig, DEFAULT_ADMIN_URL, type CliConfig } from "./config.js";
export { CLI_ROOT, ensureManifest, writeManifest } from "./manifest.js";
export {
  describeType,
  literalMapToValues,
  literalToValue,
  parseTypeExpression,
  textToLiteral,
  valueToLiteral,
} from "./literals.js";
export { Capture, runCli, type CliRun, type RunCliOptions } from "./testing/harness.js";
export { parseSpecFiles, type SpecSource } from "./spec/parse.js";
export { compileSpecs, type EntityLookup, type PlanItem, type TargetInterface } from "./spec/compile.js";
