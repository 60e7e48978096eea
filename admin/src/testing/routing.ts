/**
 * Builders and fakes shared by the routing subsystem's tests (placer, cluster and routing RPCs).
 */
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Annotations, Labels } from "@flotilla/common";
import {
  CompiledWorkflowClosureSchema,
  CompiledWorkflowSchema,
  IdentifierSchema,
  ResourceType,
  WorkflowExecutionIdentifierSchema,
  WorkflowExecutionSpecSchema,
  WorkflowMetadataSchema,
  WorkflowTemplateSchema,
} from "@flotilla/proto";
import type { ExecutionKey, PlacementRequest } from "../manager/placement.js";
import type {
  ActiveExecution,
  ExecutionPlacementRepository,
  ExecutionPlacementUpdate,
} from "../repository/execution-placement.js";

/**
 * An in-memory {@link ExecutionPlacementRepository} recording every placement update. Its reads
 * see no executions, as over an empty executions table: the placer never finds an execution
 * already placed, and no cluster has active executions.
 */
export class RecordingPlacements implements ExecutionPlacementRepository {
  readonly current = new Map<string, ExecutionPlacementUpdate>();
  readonly history: Array<{ key: string; update: ExecutionPlacementUpdate }> = [];

  updatePlacement(id: ExecutionKey, placement: ExecutionPlacementUpdate): Promise<void> {
    const key = `${id.project}/${id.domain}/${id.name}`;
    this.current.set(key, placement);
    this.history.push({ key, update: placement });
    return Promise.resolve();
  }

  placementOf(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  listActiveOn(): Promise<ActiveExecution[]> {
    return Promise.resolve([]);
  }

  countActiveOn(): Promise<number> {
    return Promise.resolve(0);
  }

  /** The latest update of an execution. */
  of(project: string, domain: string, name: string): ExecutionPlacementUpdate | undefined {
    return this.current.get(`${project}/${domain}/${name}`);
  }
}

/** Builds a placement request the way the execution manager would. */
export function aPlacementRequest(
  execution: ExecutionKey,
  options: { blobRoot: string; clusterLabel?: string; launchPlan?: string; descriptionBytes?: number } = {
    blobRoot: "file:///tmp/flotilla-blobs",
  },
): PlacementRequest {
  const workflow = create(IdentifierSchema, {
    resourceType: ResourceType.WORKFLOW,
    project: execution.project,
    domain: execution.domain,
    name: "wf",
    version: "v1",
  });
  const launchPlan = options.launchPlan
    ? create(IdentifierSchema, {
        ...workflow,
        resourceType: ResourceType.LAUNCH_PLAN,
        name: options.launchPlan,
      })
    : undefined;
  const prefix = `${options.blobRoot}/${execution.project}/${execution.domain}/${execution.name}/`;
  const spec = create(WorkflowExecutionSpecSchema, {
    executionId: create(WorkflowExecutionIdentifierSchema, execution),
    workflow: {
      case: "closure",
      value: create(CompiledWorkflowClosureSchema, {
        primary: create(CompiledWorkflowSchema, {
          template: create(WorkflowTemplateSchema, {
            id: workflow,
            metadata: create(WorkflowMetadataSchema, {
              description: "x".repeat(options.descriptionBytes ?? 10),
            }),
          }),
        }),
      }),
    },
    inputsUri: `${prefix}inputs.pb`,
    outputPrefix: prefix,
    rawOutputDataPrefix: `${prefix}raw/`,
    createdAt: timestampNow(),
    ...(launchPlan ? { launchPlan } : {}),
  });
  return {
    execution,
    workflow,
    ...(launchPlan ? { launchPlan } : {}),
    ...(options.clusterLabel ? { clusterLabel: options.clusterLabel } : {}),
    spec,
    labels: {
      [Labels.project]: execution.project,
      [Labels.domain]: execution.domain,
      [Labels.execution]: execution.name,
      [Labels.workflow]: "wf",
      ...(options.launchPlan ? { [Labels.launchPlan]: options.launchPlan } : {}),
    },
    annotations: { [Annotations.traceparent]: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
  };
}
