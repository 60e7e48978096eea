import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DomainSchema, ProjectSchema, Project_State, type Project } from "@flotilla/proto";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "../errors.js";
import type { RegistryRepository } from "../repository/registry-repository.js";
import type { Page, PageRequest } from "../repository/sql.js";
import { requireDnsLabel } from "./validation.js";

/** Domains a project gets when it is registered without any. */
export const DEFAULT_DOMAINS = ["development", "staging", "production"] as const;

/** Rules for projects and their domains. */
export class ProjectManager {
  constructor(private readonly repo: RegistryRepository) {}

  /**
   * Registers a project (server defaults applied: domains, name, state). Registering the same
   * content again returns the stored project; other content under the same id is AlreadyExists.
   * Returns the stored project.
   */
  async register(input: Project | undefined): Promise<Project> {
    const project = this.normalize(input);
    try {
      const row = await this.repo.createProject({
        id: project.id,
        state: project.state,
        body: toBinary(ProjectSchema, project),
      });
      return fromBinary(ProjectSchema, row.body);
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
      const existing = await this.get(project.id);
      if (equals(ProjectSchema, existing, project)) return existing;
      throw err;
    }
  }

  /** Replaces mutable fields; domains may only be added. Returns the stored project. */
  async update(input: Project | undefined): Promise<Project> {
    const project = this.normalize(input);
    const existing = await this.get(project.id);
    const kept = new Set(project.domains.map((d) => d.id));
    const removed = existing.domains.filter((d) => !kept.has(d.id)).map((d) => d.id);
    if (removed.length > 0) {
      throw new InvalidArgumentError(
        "project.domains",
        `domains cannot be removed (missing: ${removed.join(", ")})`,
      );
    }
    const row = await this.repo.updateProject({
      id: project.id,
      state: project.state,
      body: toBinary(ProjectSchema, project),
    });
    if (!row) throw new NotFoundError("project", project.id);
    return fromBinary(ProjectSchema, row.body);
  }

  /** Reads a project; NotFoundError when absent. */
  async get(id: string): Promise<Project> {
    requireDnsLabel("id", id);
    const row = await this.repo.getProject(id);
    if (!row) throw new NotFoundError("project", id);
    return fromBinary(ProjectSchema, row.body);
  }

  /** Lists projects by id. */
  async list(page: PageRequest, state?: Project_State): Promise<Page<Project>> {
    const result = await this.repo.listProjects(page, state || undefined);
    return {
      items: result.items.map((r) => fromBinary(ProjectSchema, r.body)),
      nextPageToken: result.nextPageToken,
    };
  }

  /**
   * Checks that `project` exists, is active (when `forWrite`) and has `domain`. Returns the
   * project; NotFoundError for a missing project or domain.
   */
  async requireDomain(project: string, domain: string, forWrite = false): Promise<Project> {
    requireDnsLabel("project", project);
    requireDnsLabel("domain", domain);
    const p = await this.get(project);
    if (!p.domains.some((d) => d.id === domain)) throw new NotFoundError("domain", `${project}/${domain}`);
    if (forWrite && p.state === Project_State.ARCHIVED) {
      throw new InvalidArgumentError("project", `project ${project} is archived (read-only)`);
    }
    return p;
  }

  private normalize(input: Project | undefined): Project {
    if (!input) throw new InvalidArgumentError("project", "is required");
    const project = create(ProjectSchema, input);
    requireDnsLabel("project.id", project.id);
    if (!project.name) project.name = project.id;
    if (project.name.length > 64)
      throw new InvalidArgumentError("project.name", "must be at most 64 characters");
    if (project.description.length > 1024)
      throw new InvalidArgumentError("project.description", "must be at most 1024 characters");
    if (project.domains.length === 0) {
      project.domains = DEFAULT_DOMAINS.map((id) => create(DomainSchema, { id, name: id }));
    }
    if (project.domains.length > 16) throw new InvalidArgumentError("project.domains", "at most 16 domains");
    const seen = new Set<string>();
    for (const [i, d] of project.domains.entries()) {
      requireDnsLabel(`project.domains[${i}].id`, d.id);
      if (seen.has(d.id))
        throw new InvalidArgumentError(`project.domains[${i}].id`, `duplicate domain ${d.id}`);
      seen.add(d.id);
      if (`${project.id}-${d.id}`.length > 63) {
        throw new InvalidArgumentError(
          `project.domains[${i}].id`,
          `namespace "${project.id}-${d.id}" would exceed 63 characters`,
        );
      }
      if (!d.name) d.name = d.id;
    }
    if (project.isolationLabel) requireDnsLabel("project.isolation_label", project.isolationLabel);
    for (const [domain, label] of Object.entries(project.domainIsolationLabels)) {
      if (!seen.has(domain))
        throw new InvalidArgumentError("project.domain_isolation_labels", `key ${domain} is not a domain`);
      requireDnsLabel(`project.domain_isolation_labels[${domain}]`, label);
    }
    if (project.state === Project_State.UNSPECIFIED) project.state = Project_State.ACTIVE;
    return project;
  }
}
