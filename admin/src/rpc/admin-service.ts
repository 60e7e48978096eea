import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { BlobNotFoundError, type BlobStore } from "@flotilla/common";
import {
  EventResult_Outcome,
  EventSchema,
  ExecutionDataSchema,
  LiteralMapSchema,
  NamedEntityIdentifierSchema,
  Sort_Direction,
  StoredEventSchema,
  type AdminService,
  type NamedEntityIdentifier,
  type Sort,
} from "@flotilla/proto";
import { fromBinary } from "@bufbuild/protobuf";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import { MAX_EVENT_BATCH, type EventManager } from "../manager/event-manager.js";
import type { AttributesManager } from "../manager/attributes-manager.js";
import type { ExecutionManager } from "../manager/execution-manager.js";
import type { LaunchPlanManager } from "../manager/launch-plan-manager.js";
import type { ProjectManager } from "../manager/project-manager.js";
import type { ScheduleManager } from "../manager/schedule-manager.js";
import type { TaskManager } from "../manager/task-manager.js";
import { requireDnsLabel } from "../manager/validation.js";
import type { WorkflowManager } from "../manager/workflow-manager.js";
import type { EventRepository } from "../repository/event-repository.js";
import type { NamedEntityKey, VersionSort } from "../repository/registry-repository.js";
import type { ExecutionListSort } from "../repository/execution-repository.js";
import type { ClusterHandlers } from "./cluster-handlers.js";
import type { CostHandlers } from "./cost-handlers.js";
import type { NotificationHandlers } from "./notification-handlers.js";
import type { RoutingHandlers } from "./routing-handlers.js";
import type { RolloutHandlers } from "./rollout-handlers.js";

/**
 * The AdminService RPCs the admin core implements: all but the cluster, routing, rollout,
 * notification and cost ones.
 */
export type CoreHandlers = Omit<
  ServiceImpl<typeof AdminService>,
  | keyof ClusterHandlers
  | keyof RoutingHandlers
  | keyof RolloutHandlers
  | keyof NotificationHandlers
  | keyof CostHandlers
>;

/** Managers and stores the AdminService handlers delegate to. */
export interface AdminServiceDeps {
  projects: ProjectManager;
  tasks: TaskManager;
  workflows: WorkflowManager;
  launchPlans: LaunchPlanManager;
  schedules: ScheduleManager;
  executions: ExecutionManager;
  attributes: AttributesManager;
  events: EventManager;
  eventRepository: EventRepository;
  blobs: BlobStore;
  version: { version: string; commit: string; buildTime: Date };
}

function named(field: string, id: NamedEntityIdentifier | undefined): NamedEntityKey {
  if (!id) throw new InvalidArgumentError(field, "is required");
  requireDnsLabel(`${field}.project`, id.project);
  requireDnsLabel(`${field}.domain`, id.domain);
  return { project: id.project, domain: id.domain, name: id.name };
}

function versionSort(sort: Sort | undefined): VersionSort {
  const key = sort?.key || "created_at";
  if (key !== "created_at" && key !== "version" && key !== "name") {
    throw new InvalidArgumentError(
      "sort.key",
      `must be created_at, version or name, got ${JSON.stringify(key)}`,
    );
  }
  return { key, ascending: sort?.direction === Sort_Direction.ASCENDING };
}

function executionSort(sort: Sort | undefined): ExecutionListSort {
  const key = sort?.key || "created_at";
  if (key !== "created_at" && key !== "updated_at" && key !== "name" && key !== "phase") {
    throw new InvalidArgumentError(
      "sort.key",
      `must be created_at, updated_at, name or phase, got ${JSON.stringify(key)}`,
    );
  }
  return { key, ascending: sort?.direction === Sort_Direction.ASCENDING };
}

async function readSized(blobs: BlobStore, uri: string): Promise<Uint8Array | undefined> {
  if (!uri) return undefined;
  try {
    return await blobs.get(uri);
  } catch (err) {
    if (err instanceof BlobNotFoundError) return undefined;
    throw err;
  }
}

/**
 * The AdminService handlers owned by the admin core (registry, executions, node and task
 * executions, matchable attributes, event ingestion and the event log, version). Thin:
 * validate, call a manager, shape the response; errors are mapped by the RPC interceptor.
 */
export function createAdminServiceHandlers(d: AdminServiceDeps): CoreHandlers {
  return {
    async registerProject(req) {
      return { project: await d.projects.register(req.project) };
    },
    async updateProject(req) {
      return { project: await d.projects.update(req.project) };
    },
    async getProject(req) {
      return { project: await d.projects.get(req.id) };
    },
    async listProjects(req) {
      const page = await d.projects.list(req, req.state);
      return { projects: page.items, nextPageToken: page.nextPageToken };
    },

    async createTask(req) {
      return { task: await d.tasks.create(req.template) };
    },
    async getTask(req) {
      return { task: await d.tasks.get(req.id) };
    },
    async listTasks(req) {
      const page = await d.tasks.list(named("id", req.id), versionSort(req.sort), req);
      return { tasks: page.items, nextPageToken: page.nextPageToken };
    },
    async listTaskIds(req) {
      requireDnsLabel("project", req.project);
      requireDnsLabel("domain", req.domain);
      const page = await d.tasks.listIds(req.project, req.domain, req);
      return {
        ids: page.items.map((k) => create(NamedEntityIdentifierSchema, k)),
        nextPageToken: page.nextPageToken,
      };
    },

    async createWorkflow(req) {
      return { workflow: await d.workflows.create(req.template, req.subWorkflows) };
    },
    async getWorkflow(req) {
      return { workflow: (await d.workflows.get(req.id)).workflow };
    },
    async listWorkflows(req) {
      const page = await d.workflows.list(named("id", req.id), versionSort(req.sort), req);
      return { workflows: page.items, nextPageToken: page.nextPageToken };
    },

    async createLaunchPlan(req) {
      return { launchPlan: await d.launchPlans.create(req.id, req.spec) };
    },
    async getLaunchPlan(req) {
      return { launchPlan: (await d.launchPlans.get(req.id)).launchPlan };
    },
    async listLaunchPlans(req) {
      const page = await d.launchPlans.list(named("id", req.id), versionSort(req.sort), req, req.state);
      return { launchPlans: page.items, nextPageToken: page.nextPageToken };
    },
    async updateLaunchPlan(req) {
      return { launchPlan: await d.launchPlans.setState(req.id, req.state) };
    },
    async listSchedules(req) {
      const page = await d.schedules.list(req.project, req.domain, req.name, req);
      return { schedules: page.items, nextPageToken: page.nextPageToken };
    },

    async createExecution(req) {
      const created = await d.executions.create(req.project, req.domain, req.name, req.spec);
      return { id: created.id, alreadyExisted: created.alreadyExisted };
    },
    async getExecution(req) {
      return { execution: await d.executions.get(req.id) };
    },
    async listExecutions(req) {
      const f = req.filter;
      const filter = {
        ...(f?.phases.length ? { phases: f.phases } : {}),
        ...(f?.createdAfter ? { createdAfter: timestampDate(f.createdAfter) } : {}),
        ...(f?.createdBefore ? { createdBefore: timestampDate(f.createdBefore) } : {}),
        ...(f?.launchPlan?.name
          ? { launchPlan: { name: f.launchPlan.name, version: f.launchPlan.version } }
          : {}),
        ...(f?.workflow?.name ? { workflow: { name: f.workflow.name, version: f.workflow.version } } : {}),
        ...(f?.cluster ? { cluster: f.cluster } : {}),
        ...(f && Object.keys(f.labels).length > 0 ? { labels: f.labels } : {}),
      };
      const page = await d.executions.list(req.project, req.domain, filter, executionSort(req.sort), req);
      return { executions: page.items, nextPageToken: page.nextPageToken };
    },
    async terminateExecution(req) {
      await d.executions.terminate(req.id, req.cause);
      return {};
    },
    async relaunchExecution(req) {
      return { id: await d.executions.relaunch(req.id, req.name) };
    },
    async recoverExecution(req) {
      return { id: await d.executions.recover(req.id, req.name) };
    },
    async getExecutionData(req) {
      return { data: await d.executions.data(req.id) };
    },

    async getNodeExecution(req) {
      const record = await d.executions.record(req.id?.executionId, "id.execution_id");
      if (!req.id?.nodeId) throw new InvalidArgumentError("id.node_id", "is required");
      const node = await d.eventRepository.getNode(record.pk, req.id.nodeId);
      if (!node)
        throw new NotFoundError(
          "node execution",
          `${record.key.project}/${record.key.domain}/${record.key.name}/${req.id.nodeId}`,
        );
      return { nodeExecution: node.node };
    },
    async listNodeExecutions(req) {
      const record = await d.executions.record(req.executionId, "execution_id");
      const key = req.sort?.key || "created_at";
      if (!["created_at", "node_id", "phase"].includes(key)) {
        throw new InvalidArgumentError(
          "sort.key",
          `must be created_at, node_id or phase, got ${JSON.stringify(key)}`,
        );
      }
      const ascending = req.sort?.direction !== Sort_Direction.DESCENDING;
      const page = await d.eventRepository.listNodes(
        record.pk,
        { parentNodeId: req.parentNodeId, phases: req.phases, sortKey: key, ascending },
        req,
      );
      return { nodeExecutions: page.items.map((n) => n.node), nextPageToken: page.nextPageToken };
    },
    async getNodeExecutionData(req) {
      const record = await d.executions.record(req.id?.executionId, "id.execution_id");
      const node = await d.eventRepository.getNode(record.pk, req.id?.nodeId ?? "");
      if (!node) throw new NotFoundError("node execution", `${record.key.name}/${req.id?.nodeId ?? ""}`);
      const data = create(ExecutionDataSchema, {
        inputsUri: node.node.inputUri,
        outputsUri: node.node.closure?.outputsUri ?? "",
      });
      const inputs = await readSized(d.blobs, data.inputsUri);
      if (inputs) {
        data.inputsSizeBytes = BigInt(inputs.byteLength);
        if (inputs.byteLength <= 1 << 20) data.fullInputs = fromBinary(LiteralMapSchema, inputs);
      }
      const outputs = await readSized(d.blobs, data.outputsUri);
      if (outputs) {
        data.outputsSizeBytes = BigInt(outputs.byteLength);
        if (outputs.byteLength <= 1 << 20) data.fullOutputs = fromBinary(LiteralMapSchema, outputs);
      }
      return { data };
    },
    async getTaskExecution(req) {
      const nodeId = req.id?.nodeExecutionId;
      const record = await d.executions.record(nodeId?.executionId, "id.node_execution_id.execution_id");
      const task = await d.eventRepository.getTask(
        record.pk,
        nodeId?.nodeId ?? "",
        req.id?.retryAttempt ?? 0,
      );
      if (!task)
        throw new NotFoundError(
          "task execution",
          `${record.key.name}/${nodeId?.nodeId ?? ""}/${req.id?.retryAttempt ?? 0}`,
        );
      return { taskExecution: task };
    },
    async listTaskExecutions(req) {
      const record = await d.executions.record(
        req.nodeExecutionId?.executionId,
        "node_execution_id.execution_id",
      );
      const key = req.sort?.key || "retry_attempt";
      if (key !== "retry_attempt" && key !== "created_at") {
        throw new InvalidArgumentError(
          "sort.key",
          `must be retry_attempt or created_at, got ${JSON.stringify(key)}`,
        );
      }
      const ascending = req.sort?.direction !== Sort_Direction.DESCENDING;
      const page = await d.eventRepository.listTasks(
        record.pk,
        req.nodeExecutionId?.nodeId ?? "",
        key,
        ascending,
        req,
      );
      return { taskExecutions: page.items, nextPageToken: page.nextPageToken };
    },

    async getMatchableAttributes(req) {
      return { configuration: await d.attributes.get(req.scope, req.resourceType, req.resolve) };
    },
    async updateMatchableAttributes(req) {
      return { configuration: await d.attributes.update(req.scope, req.attributes) };
    },
    async deleteMatchableAttributes(req) {
      await d.attributes.delete(req.scope, req.resourceType);
      return {};
    },
    async listMatchableAttributes(req) {
      const page = await d.attributes.list(req.resourceType, req.project, req.domain, req);
      return { configurations: page.items, nextPageToken: page.nextPageToken };
    },

    async ingestEvents(req) {
      if (!req.producerCluster) throw new InvalidArgumentError("producer_cluster", "is required");
      if (req.events.length < 1 || req.events.length > MAX_EVENT_BATCH) {
        throw new InvalidArgumentError(
          "events",
          `must hold 1-${MAX_EVENT_BATCH} events, got ${req.events.length}`,
        );
      }
      return { results: await d.events.ingest(req.producerCluster, req.events) };
    },
    async listExecutionEvents(req) {
      const record = await d.executions.record(req.executionId, "execution_id");
      const page = await d.eventRepository.listLog(
        record.pk,
        { after: Number(req.afterSequence), nodeId: req.nodeId },
        req,
      );
      return {
        // Only accepted events are logged (duplicates and rejections change nothing to replay).
        events: page.items.map((e) =>
          create(StoredEventSchema, {
            sequence: BigInt(e.position),
            receivedAt: timestampFromDate(e.recordedAt),
            producerCluster: e.source,
            event: fromBinary(EventSchema, e.payload),
            outcome: EventResult_Outcome.ACCEPTED,
          }),
        ),
        nextPageToken: page.nextPageToken,
      };
    },

    getVersion() {
      return {
        version: d.version.version,
        commit: d.version.commit,
        buildTime: timestampFromDate(d.version.buildTime),
        apiVersion: "flotilla.admin.v1",
      };
    },
  };
}
