/**
 * The resource manager's leader election: @flotilla/db's {@link PostgresLeaderElection} on the
 * lock key below.
 */
export { PostgresLeaderElection, type LeaderElectionOptions } from "@flotilla/db";

/**
 * Key of the session advisory lock held by the active resource manager (one bigint key space,
 * distinct from @flotilla/db's two-int migration locks).
 */
export const LEADER_LOCK_KEY = "5069006230016589141";
