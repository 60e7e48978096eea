/**
 * Domain errors of the resource manager. Each is a small class with structured fields; the RPC
 * boundary (src/rpc/) maps them to Connect codes in exactly one place.
 */

/**
 * Base class of every resource-manager domain error: `reason` is a stable PascalCase
 * machine-readable code (e.g. `PoolNotFound`); `name` is the subclass's name.
 */
export abstract class ResourceManagerError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The named resource pool does not exist. */
export class PoolNotFoundError extends ResourceManagerError {
  constructor(readonly resource: string) {
    super("PoolNotFound", `resource pool "${resource}" does not exist`);
  }
}

/** A pool cannot be deleted while leases or queued requests reference it. */
export class PoolInUseError extends ResourceManagerError {
  constructor(
    readonly resource: string,
    readonly leases: number,
    readonly queued: number,
  ) {
    super(
      "PoolInUse",
      `resource pool "${resource}" still has ${leases} lease(s) and ${queued} queued request(s)`,
    );
  }
}

/**
 * A pool defined in the server's configuration file cannot be deleted through the API: every
 * activation would create it again. Remove it from the file instead.
 */
export class PoolManagedByConfigError extends ResourceManagerError {
  constructor(readonly resource: string) {
    super(
      "PoolManagedByConfig",
      `resource pool "${resource}" is defined in the configuration file; remove it there`,
    );
  }
}

/** A configuration or request field is invalid; `field` names it. */
export class InvalidArgumentError extends ResourceManagerError {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super("InvalidArgument", `${field}: ${problem}`);
  }
}

/** A request asks for more tokens than the pool's global limit, so it could never be granted. */
export class RequestExceedsLimitError extends ResourceManagerError {
  constructor(
    readonly resource: string,
    readonly tokens: number,
    readonly limit: number,
  ) {
    super(
      "RequestExceedsLimit",
      `request for ${tokens} token(s) of "${resource}" exceeds the pool limit of ${limit}`,
    );
  }
}

/**
 * A holder re-used its id with a different tenant or token count than its existing lease or
 * queued request: allocation is idempotent per holder, so this is a caller bug.
 */
export class HolderConflictError extends ResourceManagerError {
  constructor(
    readonly resource: string,
    readonly holder: string,
    readonly existing: { project: string; domain: string; tokens: number },
    readonly requested: { project: string; domain: string; tokens: number },
  ) {
    super(
      "HolderConflict",
      `holder "${holder}" on "${resource}" already exists for ${existing.project}/${existing.domain} ` +
        `with ${existing.tokens} token(s); request was ${requested.project}/${requested.domain} ` +
        `with ${requested.tokens} token(s)`,
    );
  }
}

/** The holder has no granted lease on the resource (never granted, released, or expired). */
export class LeaseNotFoundError extends ResourceManagerError {
  constructor(
    readonly resource: string,
    readonly holder: string,
    readonly leaseId?: string,
  ) {
    super(
      "LeaseNotFound",
      leaseId !== undefined
        ? `lease ${leaseId} of holder "${holder}" does not exist (released or expired; allocate again)`
        : `holder "${holder}" has no lease on "${resource}" (released or expired; allocate again)`,
    );
  }
}

/** This instance is not the active leader; `leaderUrl` is the current leader's address when known. */
export class NotLeaderError extends ResourceManagerError {
  constructor(readonly leaderUrl: string | undefined) {
    super(
      "NotLeader",
      leaderUrl
        ? `this resource manager is a standby; the leader is at ${leaderUrl}`
        : "this resource manager is not the leader (no leader elected yet)",
    );
  }
}

/** The leader lost its lease on leadership or its database while deciding; the caller should retry. */
export class LeadershipLostError extends ResourceManagerError {
  constructor(readonly detail: string) {
    super("LeadershipLost", `resource manager lost leadership: ${detail}`);
  }
}

/** A renewal named a lease that belongs to a different holder (e.g. a stale attempt). */
export class HolderMismatchError extends ResourceManagerError {
  constructor(
    readonly leaseId: string,
    readonly holder: string,
    readonly actualHolder: string,
  ) {
    super("HolderMismatch", `lease ${leaseId} is held by "${actualHolder}", not by "${holder}"`);
  }
}
