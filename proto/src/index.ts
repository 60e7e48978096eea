// Public entry of @flotilla/proto: the generated v1 contract (messages, enums, services).
//
// Every proto package is available as a namespace:
//   import { core, admin, event, resourcemanager } from "@flotilla/proto";
//   create(core.IdentifierSchema, {...}); admin.AdminService; resourcemanager.ResourceManagerService
// and, for convenience, flat: import { IdentifierSchema, AdminService } from "@flotilla/proto".
// The only flat-name clash is NodeExecution / TaskExecution: flat names are admin's stored
// resources (admin.NodeExecution); core.NodeExecution / core.TaskExecution are the containers of
// the phase enums, whose flat names NodeExecution_Phase / TaskExecution_Phase do not clash.

/** flotilla.core.v1: identifiers, types, literals, tasks, workflows, phases, the WorkflowExecution CR shape. */
export * as core from "./gen/flotilla/core/v1/index.js";
/** flotilla.admin.v1: AdminService and its messages. */
export * as admin from "./gen/flotilla/admin/v1/index.js";
/** flotilla.event.v1: workflow/node/task execution events. */
export * as event from "./gen/flotilla/event/v1/index.js";
/** flotilla.resourcemanager.v1: ResourceManagerService and its messages. */
export * as resourcemanager from "./gen/flotilla/resourcemanager/v1/index.js";

export * from "./gen/flotilla/core/v1/index.js";
export * from "./gen/flotilla/admin/v1/index.js";
export * from "./gen/flotilla/event/v1/index.js";
export * from "./gen/flotilla/resourcemanager/v1/index.js";
/** Flat names that exist in both core and admin resolve to admin's stored resources. */
export {
  NodeExecutionSchema,
  TaskExecutionSchema,
  type NodeExecution,
  type TaskExecution,
} from "./gen/flotilla/admin/v1/node_execution_pb.js";
