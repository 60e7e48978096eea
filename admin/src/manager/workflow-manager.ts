import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  CompiledWorkflowClosureSchema,
  ParameterMapSchema,
  ResourceType,
  TaskTemplateSchema,
  WorkflowSchema,
  WorkflowTemplateSchema,
  type CompiledWorkflowClosure,
  type Identifier,
  type ParameterMap,
  type TaskTemplate,
  type TypedInterface,
  type Workflow,
  type WorkflowTemplate,
} from "@flotilla/proto";
import {
  collectReferences,
  compileWorkflow,
  identifierKey,
  type CompilerLookups,
} from "../compiler/compile-workflow.js";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import type {
  NamedEntityKey,
  RegistryRepository,
  VersionRow,
  VersionSort,
} from "../repository/registry-repository.js";
import type { Page, PageRequest } from "../repository/sql.js";
import type { ProjectManager } from "./project-manager.js";
import { validateInterface } from "./task-manager.js";
import { digestOf, requireIdentifier } from "./validation.js";

/** A stored workflow with its closure decoded. */
export interface StoredWorkflow {
  pk: number;
  workflow: Workflow;
  closure: CompiledWorkflowClosure;
}

/** Converts a stored workflow row to the API message. */
export function workflowFromRow(row: VersionRow): StoredWorkflow {
  const closure = fromBinary(CompiledWorkflowClosureSchema, row.body);
  return {
    pk: row.pk,
    closure,
    workflow: create(WorkflowSchema, {
      id: closure.primary?.template?.id,
      closure,
      createdAt: timestampFromDate(row.createdAt),
      digest: row.digest,
    }),
  };
}

/** Rules for registering (compiling) and reading workflows. */
export class WorkflowManager {
  constructor(
    private readonly repo: RegistryRepository,
    private readonly projects: ProjectManager,
    private readonly limits: { maxWorkflowNodes?: number } = {},
  ) {}

  /**
   * Compiles and registers a workflow version. Referenced tasks, sub-workflows and launch plans
   * must be registered (sub-workflows may instead come with the request). Compile errors are a
   * CompilationError naming node and variable; nothing is stored then. Same id with the same
   * template digest is idempotent, another digest AlreadyExists. Returns the stored workflow.
   */
  async create(
    template: WorkflowTemplate | undefined,
    subWorkflows: WorkflowTemplate[] = [],
  ): Promise<Workflow> {
    if (!template) throw new InvalidArgumentError("template", "is required");
    const id = requireIdentifier("template.id", template.id, ResourceType.WORKFLOW);
    await this.projects.requireDomain(id.project, id.domain, true);
    validateInterface("template.interface", template.interface);
    if (subWorkflows.length > 100)
      throw new InvalidArgumentError("sub_workflows", "at most 100 sub-workflows");
    for (const [i, sub] of subWorkflows.entries()) {
      requireIdentifier(`sub_workflows[${i}].id`, sub.id, ResourceType.WORKFLOW);
      validateInterface(`sub_workflows[${i}].interface`, sub.interface);
    }
    const lookups = await this.resolve(template, subWorkflows);
    const closure = compileWorkflow(template, lookups, { maxNodes: this.limits.maxWorkflowNodes });
    const { row } = await this.repo.createVersion(
      "workflow",
      id,
      digestOf(WorkflowTemplateSchema, template),
      toBinary(CompiledWorkflowClosureSchema, closure),
    );
    return workflowFromRow(row).workflow;
  }

  /** Reads a workflow version; NotFoundError when absent. */
  async get(idIn: Identifier | undefined, field = "id"): Promise<StoredWorkflow> {
    const id = requireIdentifier(field, idIn, ResourceType.WORKFLOW);
    const row = await this.repo.getVersion("workflow", id);
    if (!row) throw new NotFoundError("workflow", identifierKey(id));
    return workflowFromRow(row);
  }

  /** Reads a workflow version by primary key; NotFoundError when absent. */
  async getByPk(pk: number): Promise<StoredWorkflow> {
    const row = await this.repo.getWorkflowByPk(pk);
    if (!row) throw new NotFoundError("workflow", `#${pk}`);
    return workflowFromRow(row);
  }

  /** Lists versions of a workflow, or the latest of each. */
  async list(key: NamedEntityKey, sort: VersionSort, page: PageRequest): Promise<Page<Workflow>> {
    const res = await this.repo.listVersions("workflow", key, sort, page);
    return { items: res.items.map((r) => workflowFromRow(r).workflow), nextPageToken: res.nextPageToken };
  }

  // Fetches everything the template (and the request's sub-workflows, transitively) references.
  private async resolve(
    template: WorkflowTemplate,
    requestSubs: WorkflowTemplate[],
  ): Promise<CompilerLookups> {
    const tasks = new Map<string, TaskTemplate>();
    const workflows = new Map<string, WorkflowTemplate>();
    const launchPlans = new Map<
      string,
      { workflowInterface: TypedInterface; expectedInputs: ParameterMap }
    >();
    const fromRequest = new Map(requestSubs.map((s) => [identifierKey(s.id), s]));
    const queue: WorkflowTemplate[] = [template];
    const visited = new Set<string>();
    while (queue.length > 0) {
      const current = queue.shift()!;
      const refs = collectReferences(current);
      await Promise.all([
        ...refs.tasks.map(async (id) => {
          const key = identifierKey(id);
          if (tasks.has(key)) return;
          const row = await this.repo.getVersion("task", id);
          if (row) tasks.set(key, fromBinary(TaskTemplateSchema, row.body));
        }),
        ...refs.launchPlans.map(async (id) => {
          const key = identifierKey(id);
          if (launchPlans.has(key)) return;
          const lp = await this.repo.getLaunchPlan(id);
          if (!lp) return;
          const wf = await this.repo.getWorkflowByPk(lp.workflowPk);
          if (!wf) return;
          const closure = fromBinary(CompiledWorkflowClosureSchema, wf.body);
          launchPlans.set(key, {
            workflowInterface: closure.primary!.template!.interface!,
            expectedInputs: fromBinary(ParameterMapSchema, lp.expectedInputs),
          });
        }),
      ]);
      for (const id of refs.workflows) {
        const key = identifierKey(id);
        if (visited.has(key)) continue;
        visited.add(key);
        const sub = fromRequest.get(key);
        if (sub) {
          workflows.set(key, sub);
          queue.push(sub);
          continue;
        }
        const row = await this.repo.getVersion("workflow", id);
        if (!row) continue;
        const closure = fromBinary(CompiledWorkflowClosureSchema, row.body);
        // A registered workflow's closure already holds everything it needs.
        for (const w of [closure.primary, ...closure.subWorkflows]) {
          if (w?.template?.id) workflows.set(identifierKey(w.template.id), w.template);
          if (w?.template?.id) visited.add(identifierKey(w.template.id));
        }
        for (const t of closure.tasks)
          if (t.template?.id) tasks.set(identifierKey(t.template.id), t.template);
      }
    }
    return { tasks, workflows, launchPlans };
  }
}
