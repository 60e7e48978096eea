import { randomBytes } from "node:crypto";
import { clone, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { BlobNotFoundError, Labels, Annotations, type BlobStore } from "@flotilla/common";
import { currentTraceCarrier } from "@flotilla/runtime";
import {
  EventSchema,
  ExecutionClosureSchema,
  ExecutionDataSchema,
  ExecutionErrorSchema,
  ExecutionMetadataSchema,
  ExecutionMetadata_Mode,
  ExecutionSchema,
  ExecutionSpecSchema,
  IdentifierSchema,
  LiteralMapSchema,
  MatchableResource,
  ParameterMapSchema,
  ParameterSchema,
  ResourceType,
  SecurityContextSchema,
  WorkflowExecutionEventSchema,
  WorkflowExecutionIdentifierSchema,
  WorkflowExecutionSpecSchema,
  WorkflowExecution_Phase,
  type CompiledWorkflowClosure,
  type Execution,
  type ExecutionData,
  type ExecutionSpec,
  type Identifier,
  type LaunchPlanSpec,
  type LiteralMap,
  type ParameterMap,
  type WorkflowExecutionEvent,
  type WorkflowExecutionIdentifier,
} from "@flotilla/proto";
import { identifierKey } from "../compiler/compile-workflow.js";
import { checkLiteral } from "../compiler/literal-types.js";
import {
  AlreadyExistsError,
  CompilationError,
  ExecutionNotFoundError,
  FailedPreconditionError,
  InvalidArgumentError,
  type CompileProblem,
} from "../errors.js";
import { EntityKind, isTerminalPhase } from "../events/phases.js";
import { ADMIN_PRODUCER, applyWorkflowEvent, toTimestamp } from "../events/state.js";
import { EventKindCode } from "../events/validate-event.js";
import type { AdminMetrics } from "../metrics.js";
import { validateNotifications, type ChannelPolicy } from "../notifications/rules.js";
import type {
  ExecutionListFilter,
  ExecutionListSort,
  ExecutionRecord,
  ExecutionRepository,
} from "../repository/execution-repository.js";
import type { Page, PageRequest } from "../repository/sql.js";
import type { AttributesManager } from "./attributes-manager.js";
import type { EventManager } from "./event-manager.js";
import type { LaunchPlanManager } from "./launch-plan-manager.js";
import type { ExecutionKey, ExecutionPlacer, PlacementOutcome, PlacementRequest } from "./placement.js";
import type { ProjectManager } from "./project-manager.js";
import { digestOf, labelValue, requireDnsLabel, requireIdentifier } from "./validation.js";
import type { WorkflowManager } from "./workflow-manager.js";

/** Inline inputs/outputs in GetExecutionData up to this size. */
const MAX_INLINE_DATA = 1024 * 1024;

/** Settings of {@link ExecutionManager}. */
export interface ExecutionManagerOptions {
  /** Blob store root under which `{project}/{domain}/{execution}/` prefixes are created. */
  blobRoot: string;
  /** Server default for max parallelism when nothing more specific sets one (0 = unbounded). */
  defaultMaxParallelism: number;
  /** Which notification channels this admin can deliver (checked at creation). */
  notificationPolicy: ChannelPolicy;
}

/** Dependencies of {@link ExecutionManager}. */
export interface ExecutionManagerDeps {
  executions: ExecutionRepository;
  projects: ProjectManager;
  workflows: WorkflowManager;
  launchPlans: LaunchPlanManager;
  attributes: AttributesManager;
  events: EventManager;
  blobs: BlobStore;
  placer: () => ExecutionPlacer;
  metrics?: AdminMetrics;
}

/** Result of {@link ExecutionManager.create}. */
export interface CreatedExecution {
  id: WorkflowExecutionIdentifier;
  alreadyExisted: boolean;
  placement: PlacementOutcome | undefined;
}

const keyText = (k: ExecutionKey) => `${k.project}/${k.domain}/${k.name}`;

/** Generates an execution name: "f" + 19 lowercase base-32 characters (DNS label, 20 chars). */
export function generateExecutionName(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const raw = randomBytes(19);
  return "f" + Array.from(raw, (b) => alphabet[b % 32]).join("");
}

/**
 * Merges caller inputs with launch-plan defaults and fixed inputs, checking every value against
 * the expected parameters. Throws CompilationError naming each bad or missing input. Pure.
 */
export function resolveInputs(
  subject: string,
  expected: ParameterMap,
  fixed: LiteralMap | undefined,
  given: LiteralMap | undefined,
): LiteralMap {
  const problems: CompileProblem[] = [];
  const problem = (variable: string, code: string, message: string) =>
    problems.push({ code, nodeId: "", variable, message: `${subject} input "${variable}": ${message}` });
  const literals: LiteralMap["literals"] = {};
  const supplied = given?.literals ?? {};
  for (const [name, value] of Object.entries(supplied)) {
    if (fixed && name in fixed.literals) {
      problem(name, "FixedInput", "is fixed by the launch plan and cannot be set");
      continue;
    }
    const param = expected.parameters[name];
    if (!param) {
      problem(name, "UnknownInput", "is not an input of the target");
      continue;
    }
    const bad = checkLiteral(param.var?.type, value);
    if (bad) problem(name, "TypeMismatch", bad);
    literals[name] = value;
  }
  for (const [name, param] of Object.entries(expected.parameters)) {
    if (name in supplied) continue;
    if (param.behavior.case === "default") literals[name] = param.behavior.value;
    else problem(name, "MissingInput", "is required and was not supplied");
  }
  for (const [name, value] of Object.entries(fixed?.literals ?? {})) literals[name] = value;
  if (problems.length > 0) throw new CompilationError(subject, problems);
  return create(LiteralMapSchema, { literals });
}

/** Rules for executions: create (resolve, validate, store inputs, place), read, list, terminate. */
export class ExecutionManager {
  constructor(
    private readonly deps: ExecutionManagerDeps,
    private readonly options: ExecutionManagerOptions,
  ) {}

  /**
   * Creates an execution of a launch plan or workflow: validates and resolves inputs (stored in
   * the blob store), resolves settings (execution > launch plan > matchable attributes > server
   * default), stores the execution QUEUED with its "created" event, and asks the placer for a
   * cluster. Idempotent on name: the same spec returns the existing execution (retrying its
   * placement if it never happened); a different spec is AlreadyExists.
   */
  async create(
    project: string,
    domain: string,
    name: string,
    specIn: ExecutionSpec | undefined,
  ): Promise<CreatedExecution> {
    requireDnsLabel("project", project);
    requireDnsLabel("domain", domain);
    if (name) requireDnsLabel("name", name, 20);
    if (!specIn) throw new InvalidArgumentError("spec", "is required");
    const key: ExecutionKey = { project, domain, name: name || generateExecutionName() };
    await this.deps.projects.requireDomain(project, domain, true);
    const specDigest = digestOf(ExecutionSpecSchema, specIn);

    const existing = await this.deps.executions.get(key);
    if (existing) return this.existing(existing, specDigest);

    const spec = clone(ExecutionSpecSchema, specIn);
    if (spec.clusterLabel) requireDnsLabel("spec.cluster_label", spec.clusterLabel);
    if (spec.maxParallelism > 10000) throw new InvalidArgumentError("spec.max_parallelism", "at most 10000");
    validateNotifications("spec.notifications", spec.notifications, this.options.notificationPolicy);
    const metadata = spec.metadata ?? create(ExecutionMetadataSchema, {});
    spec.metadata = metadata;
    // A child execution (started by a launch-plan node) inherits its parent's cluster label.
    let inheritedLabel = "";
    if (metadata.mode === ExecutionMetadata_Mode.CHILD_WORKFLOW) {
      const parentId = metadata.parentNodeExecution?.executionId;
      if (!parentId) {
        throw new InvalidArgumentError(
          "spec.metadata.parent_node_execution",
          "is required for MODE_CHILD_WORKFLOW",
        );
      }
      const parent = await this.record(parentId, "spec.metadata.parent_node_execution.execution_id");
      inheritedLabel = parent.clusterLabel;
      metadata.nesting = fromBinary(ExecutionSpecSchema, parent.spec).metadata?.nesting ?? 0;
      metadata.nesting += 1;
    }
    if (metadata.nesting > 10) throw new InvalidArgumentError("spec.metadata.nesting", "at most 10");

    // Target: a launch plan (with its workflow) or a workflow directly.
    const target = spec.target;
    let launchPlanId: Identifier | undefined;
    let lpSpec: LaunchPlanSpec | undefined;
    let expected: ParameterMap;
    let workflowPk: number | undefined;
    let workflowId: Identifier;
    if (target.case === "launchPlan") {
      launchPlanId = requireIdentifier("spec.launch_plan", target.value, ResourceType.LAUNCH_PLAN);
      this.sameScope("spec.launch_plan", launchPlanId, key);
      const lp = await this.deps.launchPlans.get(launchPlanId, "spec.launch_plan");
      lpSpec = lp.launchPlan.spec;
      expected = lp.launchPlan.expectedInputs ?? create(ParameterMapSchema, {});
      workflowPk = lp.workflowPk;
      workflowId = lpSpec!.workflowId!;
    } else if (target.case === "workflow") {
      workflowId = requireIdentifier("spec.workflow", target.value, ResourceType.WORKFLOW);
      this.sameScope("spec.workflow", workflowId, key);
      expected = create(ParameterMapSchema, {});
    } else {
      throw new InvalidArgumentError("spec.target", "exactly one of launch_plan and workflow is required");
    }
    const workflow =
      workflowPk !== undefined
        ? await this.deps.workflows.getByPk(workflowPk)
        : await this.deps.workflows.get(workflowId, "spec.workflow");
    const template = workflow.closure.primary?.template;
    if (target.case === "workflow") {
      expected = create(ParameterMapSchema, {
        parameters: Object.fromEntries(
          Object.entries(template?.interface?.inputs?.variables ?? {}).map(([n, v]) => [
            n,
            create(ParameterSchema, { var: v, behavior: { case: "required", value: true } }),
          ]),
        ),
      });
    }
    const subject = `execution ${keyText(key)} of ${identifierKey(launchPlanId ?? workflowId)}`;
    const inputs = resolveInputs(subject, expected, lpSpec?.fixedInputs, spec.inputs);

    // Settings: execution > launch plan > matchable attributes > server default.
    const attribute = async (resource: MatchableResource) =>
      (
        await this.deps.attributes.resolveFor(
          resource,
          project,
          domain,
          workflowId.name,
          launchPlanId?.name ?? "",
        )
      )?.target;
    const config = await attribute(MatchableResource.WORKFLOW_EXECUTION_CONFIG);
    const wec = config?.case === "workflowExecutionConfig" ? config.value : undefined;
    const labelAttr = await attribute(MatchableResource.EXECUTION_CLUSTER_LABEL);
    const clusterLabel =
      spec.clusterLabel ||
      inheritedLabel ||
      lpSpec?.clusterLabel ||
      (labelAttr?.case === "executionClusterLabel" ? labelAttr.value.value : "");
    const maxParallelism =
      spec.maxParallelism ||
      lpSpec?.maxParallelism ||
      wec?.maxParallelism ||
      this.options.defaultMaxParallelism;
    const interruptible = spec.interruptible ?? lpSpec?.interruptible ?? wec?.interruptible;
    const serviceAccount = spec.serviceAccount || lpSpec?.serviceAccount || wec?.serviceAccount || "";
    const userLabels = { ...(wec?.labels ?? {}), ...(lpSpec?.labels ?? {}), ...spec.labels };
    const userAnnotations: Record<string, string> = {
      ...(wec?.annotations ?? {}),
      ...(lpSpec?.annotations ?? {}),
      ...spec.annotations,
    };
    // While tracing, the execution remembers the trace of its create (unless the caller named
    // one): the CR carries it, so the propeller's rounds, and a placement retried later, join it.
    if (userAnnotations[Annotations.traceparent] === undefined) {
      const carrier = currentTraceCarrier();
      if (carrier.traceparent) userAnnotations[Annotations.traceparent] = carrier.traceparent;
      if (carrier.tracestate) userAnnotations[Annotations.tracestate] = carrier.tracestate;
    }
    const blobs = this.deps.blobs;
    const prefix = this.executionPrefix(key);
    const rawOutputDataPrefix =
      spec.rawOutputDataPrefix ||
      lpSpec?.rawOutputDataPrefix ||
      wec?.rawOutputDataPrefix ||
      blobs.join(prefix, "raw") + "/";

    // The stored spec records what was resolved; inputs live in the blob store.
    const stored = create(ExecutionSpecSchema, {
      ...spec,
      inputs: undefined,
      clusterLabel,
      maxParallelism,
      labels: userLabels,
      annotations: userAnnotations,
      rawOutputDataPrefix,
      serviceAccount,
      notifications: spec.notifications.length > 0 ? spec.notifications : (lpSpec?.notifications ?? []),
      ...(interruptible !== undefined ? { interruptible } : {}),
    });
    const inputsUri = prefix + "inputs.pb";
    await blobs.put(inputsUri, toBinary(LiteralMapSchema, inputs));

    const createdAt = new Date();
    const executionId = create(WorkflowExecutionIdentifierSchema, key);
    const createdEvent = create(EventSchema, {
      event: {
        case: "workflowEvent",
        value: create(WorkflowExecutionEventSchema, {
          eventId: "admin:created",
          producerCluster: ADMIN_PRODUCER,
          executionId,
          phase: WorkflowExecution_Phase.QUEUED,
          phaseVersion: 0,
          occurredAt: toTimestamp(createdAt),
          reason: "Created",
          message: "",
        }),
      },
    });
    const state = applyWorkflowEvent(undefined, createdEvent.event.value as WorkflowExecutionEvent);
    const { record, created } = await this.deps.executions.create({
      key,
      launchPlan: launchPlanId ? { name: launchPlanId.name, version: launchPlanId.version } : undefined,
      workflow: { name: workflowId.name, version: workflowId.version },
      spec: toBinary(ExecutionSpecSchema, stored),
      specDigest,
      inputsUri,
      clusterLabel,
      labels: userLabels,
      createdAt,
      state,
      createdEvent: {
        eventId: "admin:created",
        kind: EventKindCode.Workflow,
        payload: toBinary(EventSchema, createdEvent),
      },
    });
    if (!created) return this.existing(record, specDigest);
    this.deps.metrics?.executionsCreated.inc({ project, domain });

    const placement = await this.deps.placer().place(this.placementRequest(record, workflow.closure));
    await this.recordPlacement(key, placement);
    return { id: executionId, alreadyExisted: false, placement };
  }

  private sameScope(field: string, id: Identifier, key: ExecutionKey): void {
    if (id.project !== key.project || id.domain !== key.domain) {
      throw new InvalidArgumentError(
        field,
        `must be in the execution's project and domain (${key.project}/${key.domain})`,
      );
    }
  }

  private async existing(record: ExecutionRecord, specDigest: string): Promise<CreatedExecution> {
    if (record.specDigest !== specDigest) {
      throw new AlreadyExistsError("execution", keyText(record.key), "exists with a different spec");
    }
    const id = create(WorkflowExecutionIdentifierSchema, record.key);
    // A create that stored the execution but never got a placement answer (crash, placer error)
    // is completed by its retry; the placer is sticky per execution, so this is idempotent.
    if (
      record.cluster === null &&
      record.queueReason === null &&
      record.state.phase === WorkflowExecution_Phase.QUEUED
    ) {
      const workflow = await this.deps.workflows.get(
        {
          $typeName: "flotilla.core.v1.Identifier",
          resourceType: ResourceType.WORKFLOW,
          ...record.key,
          ...record.workflow,
        },
        "workflow",
      );
      const placement = await this.deps.placer().place(this.placementRequest(record, workflow.closure));
      await this.recordPlacement(record.key, placement);
      return { id, alreadyExisted: true, placement };
    }
    return { id, alreadyExisted: true, placement: undefined };
  }

  /**
   * Builds the placement request (CR spec, labels, annotations) of a stored execution from its
   * row alone, so a first placement and a retried one are identical. Pure given its inputs.
   */
  placementRequest(record: ExecutionRecord, closure: CompiledWorkflowClosure): PlacementRequest {
    const stored = fromBinary(ExecutionSpecSchema, record.spec);
    const { project, domain, name } = record.key;
    const launchPlanId = record.launchPlan
      ? create(IdentifierSchema, {
          resourceType: ResourceType.LAUNCH_PLAN,
          project,
          domain,
          ...record.launchPlan,
        })
      : undefined;
    const workflowId = create(IdentifierSchema, {
      resourceType: ResourceType.WORKFLOW,
      project,
      domain,
      ...record.workflow,
    });
    const spec = create(WorkflowExecutionSpecSchema, {
      executionId: create(WorkflowExecutionIdentifierSchema, record.key),
      workflow: { case: "closure", value: closure },
      inputsUri: record.inputsUri,
      outputPrefix: this.executionPrefix(record.key),
      ...(launchPlanId ? { launchPlan: launchPlanId } : {}),
      maxParallelism: stored.maxParallelism,
      labels: stored.labels,
      annotations: stored.annotations,
      clusterLabel: record.clusterLabel,
      ...(stored.interruptible !== undefined ? { interruptible: stored.interruptible } : {}),
      rawOutputDataPrefix: stored.rawOutputDataPrefix,
      createdAt: timestampFromDate(record.createdAt),
      securityContext: create(SecurityContextSchema, { serviceAccount: stored.serviceAccount }),
    });
    const labels: Record<string, string> = {
      ...stored.labels,
      [Labels.project]: project,
      [Labels.domain]: domain,
      [Labels.execution]: name,
      [Labels.workflow]: labelValue(record.workflow.name),
      ...(record.launchPlan ? { [Labels.launchPlan]: labelValue(record.launchPlan.name) } : {}),
    };
    const annotations: Record<string, string> = {};
    const traceparent = stored.annotations[Annotations.traceparent];
    if (traceparent) annotations[Annotations.traceparent] = traceparent;
    const tracestate = stored.annotations[Annotations.tracestate];
    if (traceparent && tracestate) annotations[Annotations.tracestate] = tracestate;
    return {
      execution: record.key,
      ...(launchPlanId ? { launchPlan: launchPlanId } : {}),
      workflow: workflowId,
      ...(record.clusterLabel ? { clusterLabel: record.clusterLabel } : {}),
      spec,
      labels,
      annotations,
    };
  }

  /** `{blobRoot}/{project}/{domain}/{name}/`: where an execution's inputs and outputs live. */
  private executionPrefix(key: ExecutionKey): string {
    return this.deps.blobs.join(this.options.blobRoot, key.project, key.domain, key.name) + "/";
  }

  private async recordPlacement(key: ExecutionKey, outcome: PlacementOutcome): Promise<void> {
    if (outcome.state === "placed") {
      await this.deps.executions.updatePlacement(key, { cluster: outcome.cluster, queueReason: null });
    } else {
      await this.deps.executions.recordQueueReason(key, outcome.reason);
    }
  }

  /** Reads an execution; ExecutionNotFoundError when absent. */
  async get(idIn: ExecutionKey | undefined): Promise<Execution> {
    return toExecution(await this.record(idIn));
  }

  /** Reads the stored record of an execution; ExecutionNotFoundError when absent. */
  async record(idIn: ExecutionKey | undefined, field = "id"): Promise<ExecutionRecord> {
    const key = requireExecutionId(field, idIn);
    const record = await this.deps.executions.get(key);
    if (!record) throw new ExecutionNotFoundError(keyText(key));
    return record;
  }

  /** Lists executions of a project/domain. */
  async list(
    project: string,
    domain: string,
    filter: ExecutionListFilter,
    sort: ExecutionListSort,
    page: PageRequest,
  ): Promise<Page<Execution>> {
    requireDnsLabel("project", project);
    requireDnsLabel("domain", domain);
    if (filter.createdAfter && filter.createdBefore && filter.createdBefore <= filter.createdAfter) {
      throw new InvalidArgumentError("filter.created_before", "must be after created_after");
    }
    if ((filter.phases?.length ?? 0) > 10)
      throw new InvalidArgumentError("filter.phases", "at most 10 phases");
    const res = await this.deps.executions.list({ project, domain, filter, sort }, page);
    return { items: res.items.map(toExecution), nextPageToken: res.nextPageToken };
  }

  /**
   * Terminates an execution: records ABORTING with the cause, asks the placer to delete its CR
   * (or, when still unplaced, to cancel its pending placement), then records ABORTED. A terminal execution is FailedPrecondition; repeating a
   * termination while ABORTING finishes it.
   */
  async terminate(idIn: ExecutionKey | undefined, cause: string): Promise<void> {
    if (!cause || cause.length > 1024) throw new InvalidArgumentError("cause", "must be 1-1024 characters");
    const record = await this.record(idIn);
    const key = record.key;
    if (isTerminalPhase(EntityKind.Workflow, record.state.phase)) {
      throw new FailedPreconditionError(
        "AlreadyTerminal",
        `execution ${keyText(key)} already finished (${WorkflowExecution_Phase[record.state.phase]})`,
      );
    }
    if (record.state.phase !== WorkflowExecution_Phase.ABORTING) {
      const state = await this.deps.events.recordAdminWorkflowEvent(
        key,
        "admin:aborting",
        WorkflowExecution_Phase.ABORTING,
        "TerminateRequested",
        cause,
      );
      if (!state) return this.terminate(idIn, cause);
    }
    const current = await this.record(idIn);
    // Also for an unplaced execution: the placer then drops its pending placement.
    await this.deps.placer().terminate(key, current.cluster ?? "");
    await this.deps.events.recordAdminWorkflowEvent(
      key,
      "admin:aborted",
      WorkflowExecution_Phase.ABORTED,
      "Terminated",
      cause,
    );
  }

  /** Starts a new execution with the spec and inputs of an old one (mode RELAUNCH). Returns its id. */
  async relaunch(idIn: ExecutionKey | undefined, name: string): Promise<WorkflowExecutionIdentifier> {
    return this.again(idIn, name, ExecutionMetadata_Mode.RELAUNCH);
  }

  /** Re-runs a FAILED, ABORTED or TIMED_OUT execution (mode RECOVERED). Returns the new id. */
  async recover(idIn: ExecutionKey | undefined, name: string): Promise<WorkflowExecutionIdentifier> {
    const record = await this.record(idIn);
    const p = record.state.phase;
    if (
      p !== WorkflowExecution_Phase.FAILED &&
      p !== WorkflowExecution_Phase.ABORTED &&
      p !== WorkflowExecution_Phase.TIMED_OUT
    ) {
      throw new FailedPreconditionError(
        "NotRecoverable",
        `execution ${keyText(record.key)} is ${WorkflowExecution_Phase[p]}; only failed, aborted or timed-out executions can be recovered`,
      );
    }
    return this.again(idIn, name, ExecutionMetadata_Mode.RECOVERED);
  }

  private async again(
    idIn: ExecutionKey | undefined,
    name: string,
    mode: ExecutionMetadata_Mode,
  ): Promise<WorkflowExecutionIdentifier> {
    const record = await this.record(idIn);
    const old = fromBinary(ExecutionSpecSchema, record.spec);
    const inputs = fromBinary(LiteralMapSchema, await this.deps.blobs.get(record.inputsUri));
    if (old.target.case === "launchPlan") {
      // Fixed inputs come from the launch plan again; callers may not pass them.
      const lp = await this.deps.launchPlans.get(old.target.value, "launch_plan");
      for (const fixed of Object.keys(lp.launchPlan.spec?.fixedInputs?.literals ?? {}))
        delete inputs.literals[fixed];
    }
    const spec = clone(ExecutionSpecSchema, old);
    spec.inputs = inputs;
    const metadata = spec.metadata ?? create(ExecutionMetadataSchema, {});
    metadata.mode = mode;
    metadata.referenceExecution = create(WorkflowExecutionIdentifierSchema, record.key);
    spec.metadata = metadata;
    const created = await this.create(record.key.project, record.key.domain, name, spec);
    return created.id;
  }

  /** Inputs and outputs of an execution: URIs, sizes, and the maps inline when small. */
  async data(idIn: ExecutionKey | undefined): Promise<ExecutionData> {
    const record = await this.record(idIn);
    const data = create(ExecutionDataSchema, {
      inputsUri: record.inputsUri,
      outputsUri: record.state.outputsUri,
    });
    const inputs = await this.readOptional(record.inputsUri);
    if (inputs) {
      data.inputsSizeBytes = BigInt(inputs.byteLength);
      if (inputs.byteLength <= MAX_INLINE_DATA) data.fullInputs = fromBinary(LiteralMapSchema, inputs);
    }
    const outputs =
      record.state.outputData ??
      (record.state.outputsUri ? await this.readOptional(record.state.outputsUri) : undefined);
    if (outputs) {
      data.outputsSizeBytes = BigInt(outputs.byteLength);
      if (outputs.byteLength <= MAX_INLINE_DATA) data.fullOutputs = fromBinary(LiteralMapSchema, outputs);
    }
    return data;
  }

  private async readOptional(uri: string): Promise<Uint8Array | undefined> {
    try {
      return await this.deps.blobs.get(uri);
    } catch (err) {
      if (err instanceof BlobNotFoundError) return undefined;
      throw err;
    }
  }
}

/** Validates an execution identifier field and returns its key. */
export function requireExecutionId(field: string, id: ExecutionKey | undefined): ExecutionKey {
  if (!id) throw new InvalidArgumentError(field, "is required");
  requireDnsLabel(`${field}.project`, id.project);
  requireDnsLabel(`${field}.domain`, id.domain);
  requireDnsLabel(`${field}.name`, id.name);
  return { project: id.project, domain: id.domain, name: id.name };
}

/** Converts a stored execution to the API message. */
export function toExecution(r: ExecutionRecord): Execution {
  const s = r.state;
  const end = s.stoppedAt ?? (isTerminalPhase(EntityKind.Workflow, s.phase) ? s.updatedAt : new Date());
  return create(ExecutionSchema, {
    id: create(WorkflowExecutionIdentifierSchema, r.key),
    spec: fromBinary(ExecutionSpecSchema, r.spec),
    closure: create(ExecutionClosureSchema, {
      phase: s.phase,
      createdAt: timestampFromDate(r.createdAt),
      ...(s.startedAt
        ? {
            startedAt: timestampFromDate(s.startedAt),
            duration: durationFromMs(Math.max(0, end.getTime() - s.startedAt.getTime())),
          }
        : {}),
      updatedAt: timestampFromDate(s.updatedAt),
      ...(s.error ? { error: fromBinary(ExecutionErrorSchema, s.error) } : {}),
      outputsUri: s.outputsUri,
      cluster: r.cluster ?? "",
      clusterLabel: r.clusterLabel,
      message: s.message || r.queueReason || "",
      abortCause: s.abortCause,
      workflowId: {
        resourceType: ResourceType.WORKFLOW,
        project: r.key.project,
        domain: r.key.domain,
        name: r.workflow.name,
        version: r.workflow.version,
      },
    }),
  });
}
