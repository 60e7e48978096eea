/**
 * @flotilla/admin: the central control-plane service — registry and compiler, executions,
 * event ingestion and replay, matchable attributes, routing to clusters — served over
 * Connect, gRPC and gRPC-Web on one port.
 */
export {
  ADMIN_MIGRATIONS_DIR,
  ADMIN_VERSION,
  SCHEDULER_LOCK_KEY,
  createAdmin,
  startAdmin,
  type Admin,
  type AdminOptions,
  type AdminServerOptions,
  type RoutingFactoryDeps,
  type RoutingParts,
  type RunningAdmin,
} from "./admin.js";
export { scheduledExecutionName } from "./schedules/firings.js";
export { adminConfig, loadAdminConfig, resolveAdminConfig, type AdminConfig } from "./config.js";
export {
  AdminError,
  AlreadyExistsError,
  CompilationError,
  ExecutionNotFoundError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  StaleRevisionError,
  type AdminErrorDetail,
  type AdminErrorOptions,
  type CompileProblem,
} from "./errors.js";
export {
  ClusterCredentialsError,
  ClusterRequestError,
  ClusterUnreachableError,
  DataPlaneError,
} from "./dataplane/errors.js";
export { QuotaTemplateError } from "./dataplane/quota.js";
export { ClusterNotFoundError, RoutingRuleNotFoundError } from "./routing-errors.js";
export { InvalidRuleScopeError } from "./routing/router.js";
export { RoutingConfigError } from "./routing/config.js";
export { REQUEST_ID_HEADER, rpcInterceptor, toConnectError } from "./rpc/errors.js";
export {
  EntityKind,
  NODE_TRANSITIONS,
  TASK_TRANSITIONS,
  TERMINAL_NODE_PHASES,
  TERMINAL_TASK_PHASES,
  TERMINAL_WORKFLOW_PHASES,
  TransitionRefusal,
  WORKFLOW_TRANSITIONS,
  decideTransition,
  isLegalTransition,
  isTerminalPhase,
  phaseRank,
  type PhaseState,
  type TransitionDecision,
} from "./events/phases.js";
export {
  END_NODE,
  START_NODE,
  compileWorkflow,
  identifierKey,
  type CompilerLookups,
} from "./compiler/compile-workflow.js";
export { checkLiteral, describeType, isAssignable } from "./compiler/literal-types.js";
export { createJsonLogger, silentLogger, type AdminLogger } from "./logger.js";
export {
  NO_CLUSTERS_CONFIGURED,
  createUnroutedPlacer,
  type ExecutionKey,
  type ExecutionPlacer,
  type PlacementOutcome,
  type PlacementRequest,
} from "./manager/placement.js";
export { replayLog, type ExecutionSnapshot } from "./manager/event-manager.js";
export type {
  ExecutionPlacementRepository,
  ExecutionPlacementUpdate,
} from "./repository/execution-placement.js";
export type { ExecutionRecord, ExecutionRepository } from "./repository/execution-repository.js";
export {
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  signWebhook,
  verifyWebhookSignature,
  type SignatureCheck,
} from "./notifications/signing.js";
export { WEBHOOK_EVENT_TYPE, type NotificationFacts, type WebhookBody } from "./notifications/payloads.js";
export { DeliveryError } from "./notifications/senders.js";
