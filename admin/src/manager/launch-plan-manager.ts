import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  LaunchPlanSchema,
  LaunchPlanSpecSchema,
  LaunchPlan_State,
  ParameterMapSchema,
  ParameterSchema,
  ResourceType,
  VariableSchema,
  type Identifier,
  type LaunchPlan,
  type LaunchPlanSpec,
  type ParameterMap,
  type TypedInterface,
} from "@flotilla/proto";
import { identifierKey } from "../compiler/compile-workflow.js";
import { checkLiteral, describeType, isAssignable } from "../compiler/literal-types.js";
import { CompilationError, InvalidArgumentError, NotFoundError, type CompileProblem } from "../errors.js";
import type {
  LaunchPlanRow,
  NamedEntityKey,
  RegistryRepository,
  VersionSort,
} from "../repository/registry-repository.js";
import type { Page, PageRequest } from "../repository/sql.js";
import { validateNotifications, type ChannelPolicy } from "../notifications/rules.js";
import type { ProjectManager } from "./project-manager.js";
import type { ScheduleManager } from "./schedule-manager.js";
import { canonicalBinary, digestOf, requireDnsLabel, requireIdentifier } from "./validation.js";
import type { StoredWorkflow, WorkflowManager } from "./workflow-manager.js";

/** A stored launch plan with the primary key of its workflow. */
export interface StoredLaunchPlan {
  launchPlan: LaunchPlan;
  workflowPk: number;
}

/** Converts a stored launch plan row to the API message. */
export function launchPlanFromRow(row: LaunchPlanRow): StoredLaunchPlan {
  return {
    workflowPk: row.workflowPk,
    launchPlan: create(LaunchPlanSchema, {
      id: {
        resourceType: ResourceType.LAUNCH_PLAN,
        project: row.project,
        domain: row.domain,
        name: row.name,
        version: row.version,
      },
      spec: fromBinary(LaunchPlanSpecSchema, row.body),
      state: row.state,
      expectedInputs: fromBinary(ParameterMapSchema, row.expectedInputs),
      createdAt: timestampFromDate(row.createdAt),
      updatedAt: timestampFromDate(row.updatedAt),
      digest: row.digest,
    }),
  };
}

/**
 * Computes the inputs a caller of the launch plan may or must supply: every workflow input that
 * is not fixed, with the launch plan's default or marked required. Throws CompilationError when
 * defaults or fixed inputs do not match the workflow interface. Pure.
 */
export function expectedInputs(
  subject: string,
  iface: TypedInterface | undefined,
  spec: LaunchPlanSpec,
): ParameterMap {
  const inputs = iface?.inputs?.variables ?? {};
  const problems: CompileProblem[] = [];
  const problem = (variable: string, code: string, message: string) =>
    problems.push({ code, nodeId: "", variable, message: `${subject} input "${variable}": ${message}` });
  const defaults = spec.defaultInputs?.parameters ?? {};
  const fixed = spec.fixedInputs?.literals ?? {};
  for (const [name, param] of Object.entries(defaults)) {
    const declared = inputs[name];
    if (!declared) {
      problem(name, "UnknownInput", "default_inputs names no input of the workflow");
      continue;
    }
    if (name in fixed) problem(name, "FixedAndDefault", "is both fixed and defaulted");
    if (param.var?.type && !isAssignable(declared.type, param.var.type)) {
      problem(
        name,
        "TypeMismatch",
        `parameter type ${describeType(param.var.type)} does not match ${describeType(declared.type)}`,
      );
    }
    if (param.behavior.case === "default") {
      const bad = checkLiteral(declared.type, param.behavior.value);
      if (bad) problem(name, "TypeMismatch", `default value: ${bad}`);
    } else if (param.behavior.case !== "required" || !param.behavior.value) {
      problem(name, "InvalidParameter", "must set a default or required=true");
    }
  }
  for (const [name, literal] of Object.entries(fixed)) {
    const declared = inputs[name];
    if (!declared) {
      problem(name, "UnknownInput", "fixed_inputs names no input of the workflow");
      continue;
    }
    const bad = checkLiteral(declared.type, literal);
    if (bad) problem(name, "TypeMismatch", `fixed value: ${bad}`);
  }
  if (problems.length > 0) throw new CompilationError(subject, problems);
  const parameters: ParameterMap["parameters"] = {};
  for (const name of Object.keys(inputs).sort()) {
    if (name in fixed) continue;
    const variable = create(VariableSchema, inputs[name]);
    const given = defaults[name];
    parameters[name] =
      given?.behavior.case === "default"
        ? create(ParameterSchema, {
            var: variable,
            behavior: { case: "default", value: given.behavior.value },
          })
        : create(ParameterSchema, { var: variable, behavior: { case: "required", value: true } });
  }
  return create(ParameterMapSchema, { parameters });
}

/** Rules for registering, activating and reading launch plans. */
export class LaunchPlanManager {
  constructor(
    private readonly repo: RegistryRepository,
    private readonly projects: ProjectManager,
    private readonly workflows: WorkflowManager,
    private readonly schedules: ScheduleManager,
    /** Which notification channels this admin can deliver (checked at registration). */
    private readonly notificationPolicy: ChannelPolicy,
  ) {}

  /**
   * Registers a launch plan version (INACTIVE) for a workflow of the same project and domain,
   * checking defaults and fixed inputs against the workflow interface and the schedule (see
   * `ScheduleManager.validate`). Idempotent on identical
   * content; other content under the same id is AlreadyExists. Returns the stored launch plan.
   */
  async create(idIn: Identifier | undefined, spec: LaunchPlanSpec | undefined): Promise<LaunchPlan> {
    const id = requireIdentifier("id", idIn, ResourceType.LAUNCH_PLAN);
    if (!spec) throw new InvalidArgumentError("spec", "is required");
    await this.projects.requireDomain(id.project, id.domain, true);
    const wfId = requireIdentifier("spec.workflow_id", spec.workflowId, ResourceType.WORKFLOW);
    if (wfId.project !== id.project || wfId.domain !== id.domain) {
      throw new InvalidArgumentError("spec.workflow_id", "must be in the launch plan's project and domain");
    }
    if (spec.clusterLabel) requireDnsLabel("spec.cluster_label", spec.clusterLabel);
    if (spec.maxParallelism > 10000) throw new InvalidArgumentError("spec.max_parallelism", "at most 10000");
    validateNotifications("spec.notifications", spec.notifications, this.notificationPolicy);
    const workflow: StoredWorkflow = await this.workflows.get(wfId, "spec.workflow_id");
    const expected = expectedInputs(
      `launch plan ${identifierKey(id)}`,
      workflow.closure.primary?.template?.interface,
      spec,
    );
    this.schedules.validate(spec, expected);
    const { row } = await this.repo.createLaunchPlan({
      key: id,
      digest: digestOf(LaunchPlanSpecSchema, spec),
      workflowPk: workflow.pk,
      spec: canonicalBinary(LaunchPlanSpecSchema, spec),
      expectedInputs: toBinary(ParameterMapSchema, expected),
      state: LaunchPlan_State.INACTIVE,
    });
    return launchPlanFromRow(row).launchPlan;
  }

  /** Reads a launch plan version; NotFoundError when absent. */
  async get(idIn: Identifier | undefined, field = "id"): Promise<StoredLaunchPlan> {
    const id = requireIdentifier(field, idIn, ResourceType.LAUNCH_PLAN);
    const row = await this.repo.getLaunchPlan(id);
    if (!row) throw new NotFoundError("launch plan", identifierKey(id));
    return launchPlanFromRow(row);
  }

  /**
   * Activates (deactivating the previous active version) or deactivates a version. Only the
   * active version's schedule fires: activating starts it (replacing the previous version's)
   * in the same transaction, deactivating stops it.
   */
  async setState(idIn: Identifier | undefined, state: LaunchPlan_State): Promise<LaunchPlan> {
    const id = requireIdentifier("id", idIn, ResourceType.LAUNCH_PLAN);
    if (state !== LaunchPlan_State.ACTIVE && state !== LaunchPlan_State.INACTIVE) {
      throw new InvalidArgumentError("state", "must be STATE_ACTIVE or STATE_INACTIVE");
    }
    const row = await this.repo.setLaunchPlanState(
      id,
      state,
      LaunchPlan_State.ACTIVE,
      LaunchPlan_State.INACTIVE,
      (tx, changed) => this.schedules.stateChanged(tx, changed),
    );
    if (!row) throw new NotFoundError("launch plan", identifierKey(id));
    return launchPlanFromRow(row).launchPlan;
  }

  /** Lists versions of a launch plan, or the latest of each. */
  async list(
    key: NamedEntityKey,
    sort: VersionSort,
    page: PageRequest,
    state?: LaunchPlan_State,
  ): Promise<Page<LaunchPlan>> {
    const res = await this.repo.listLaunchPlans(key, sort, page, state || undefined);
    return { items: res.items.map((r) => launchPlanFromRow(r).launchPlan), nextPageToken: res.nextPageToken };
  }
}
