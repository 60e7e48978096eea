/**
 * AdminService RPCs of staged rollouts. Not built yet: each answers Unimplemented naming the
 * issue that builds it, so the service is a full implementation and no RPC is silently absent.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "@flotilla/proto";

/** The rollout RPCs of AdminService. */
export type RolloutHandlers = Pick<
  ServiceImpl<typeof AdminService>,
  | "createRollout"
  | "getRollout"
  | "listRollouts"
  | "pauseRollout"
  | "resumeRollout"
  | "promoteRollout"
  | "abortRollout"
>;

const ROLLOUT_ISSUE = "issue 13: fleet operations";

function notBuilt(method: string): () => never {
  return () => {
    throw new ConnectError(`${method} is not built yet (${ROLLOUT_ISSUE})`, Code.Unimplemented);
  };
}

/** Creates the rollout handlers: every one throws Unimplemented naming issue 13. No side effects. */
export function createRolloutHandlers(): RolloutHandlers {
  return {
    createRollout: notBuilt("CreateRollout"),
    getRollout: notBuilt("GetRollout"),
    listRollouts: notBuilt("ListRollouts"),
    pauseRollout: notBuilt("PauseRollout"),
    resumeRollout: notBuilt("ResumeRollout"),
    promoteRollout: notBuilt("PromoteRollout"),
    abortRollout: notBuilt("AbortRollout"),
  };
}
