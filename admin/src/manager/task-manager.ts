import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  CompiledTaskSchema,
  ResourceType,
  TaskSchema,
  TaskTemplateSchema,
  type Identifier,
  type Task,
  type TaskTemplate,
  type TypedInterface,
} from "@flotilla/proto";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import { validateType } from "../compiler/literal-types.js";
import type {
  NamedEntityKey,
  RegistryRepository,
  VersionRow,
  VersionSort,
} from "../repository/registry-repository.js";
import type { Page, PageRequest } from "../repository/sql.js";
import type { ProjectManager } from "./project-manager.js";
import { canonicalBinary, digestOf, requireIdentifier } from "./validation.js";

const VAR_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;

/** Throws {@link InvalidArgumentError} when an interface has bad variable names or types. */
export function validateInterface(field: string, iface: TypedInterface | undefined): void {
  for (const [side, map] of [
    ["inputs", iface?.inputs?.variables ?? {}],
    ["outputs", iface?.outputs?.variables ?? {}],
  ] as const) {
    for (const [name, v] of Object.entries(map)) {
      if (!VAR_NAME.test(name))
        throw new InvalidArgumentError(
          `${field}.${side}.${name}`,
          "variable names are 1-63 chars of [a-zA-Z_][a-zA-Z0-9_]*",
        );
      const bad = validateType(v.type);
      if (bad) throw new InvalidArgumentError(`${field}.${side}.${name}.type`, bad);
    }
  }
}

/** Converts a stored task row to the API message. */
export function taskFromRow(row: VersionRow): Task {
  const template = fromBinary(TaskTemplateSchema, row.body);
  return create(TaskSchema, {
    id: template.id,
    compiled: create(CompiledTaskSchema, { template }),
    createdAt: timestampFromDate(row.createdAt),
    digest: row.digest,
  });
}

/** Rules for registering and reading tasks. */
export class TaskManager {
  constructor(
    private readonly repo: RegistryRepository,
    private readonly projects: ProjectManager,
  ) {}

  /**
   * Registers a task version: validates the template, stores it immutably (same digest →
   * idempotent, other digest → AlreadyExists). Returns the stored task.
   */
  async create(template: TaskTemplate | undefined): Promise<Task> {
    if (!template) throw new InvalidArgumentError("template", "is required");
    const id = requireIdentifier("template.id", template.id, ResourceType.TASK);
    await this.projects.requireDomain(id.project, id.domain, true);
    if (!template.type)
      throw new InvalidArgumentError("template.type", 'is required ("container" or a plugin type)');
    validateInterface("template.interface", template.interface);
    if (template.type === "container" && !template.container?.image) {
      throw new InvalidArgumentError("template.container.image", "is required for container tasks");
    }
    for (const [i, r] of template.externalResources.entries()) {
      if (!r.resource)
        throw new InvalidArgumentError(`template.external_resources[${i}].resource`, "is required");
      if (r.tokens < 1)
        throw new InvalidArgumentError(`template.external_resources[${i}].tokens`, "must be at least 1");
    }
    const { row } = await this.repo.createVersion(
      "task",
      id,
      digestOf(TaskTemplateSchema, template),
      canonicalBinary(TaskTemplateSchema, template),
    );
    return taskFromRow(row);
  }

  /** Reads a task version; NotFoundError when absent. */
  async get(idIn: Identifier | undefined): Promise<Task> {
    const id = requireIdentifier("id", idIn, ResourceType.TASK);
    const row = await this.repo.getVersion("task", id);
    if (!row) throw new NotFoundError("task", `${id.project}/${id.domain}/${id.name}@${id.version}`);
    return taskFromRow(row);
  }

  /** Reads the templates of several task versions (absent ones are missing from the result). */
  async templates(ids: Identifier[]): Promise<TaskTemplate[]> {
    const rows = await Promise.all(ids.map((id) => this.repo.getVersion("task", id)));
    return rows
      .filter((r): r is VersionRow => r !== undefined)
      .map((r) => fromBinary(TaskTemplateSchema, r.body));
  }

  /** Lists versions of a task, or the latest of each task. */
  async list(key: NamedEntityKey, sort: VersionSort, page: PageRequest): Promise<Page<Task>> {
    const res = await this.repo.listVersions("task", key, sort, page);
    return { items: res.items.map(taskFromRow), nextPageToken: res.nextPageToken };
  }

  /** Lists task names of a project/domain. */
  listIds(project: string, domain: string, page: PageRequest): Promise<Page<NamedEntityKey>> {
    return this.repo.listNames("task", project, domain, page);
  }
}
