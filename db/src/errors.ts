/**
 * PostgreSQL error codes (SQLSTATE) that Flotilla code reacts to. Repositories translate driver
 * errors once, at the SQL boundary, using these and the `is*` helpers below, so managers never
 * look at SQL error codes.
 */
export const PgErrorCode = {
  UniqueViolation: "23505",
  ForeignKeyViolation: "23503",
  NotNullViolation: "23502",
  CheckViolation: "23514",
  ExclusionViolation: "23P01",
  SerializationFailure: "40001",
  DeadlockDetected: "40P01",
  LockNotAvailable: "55P03",
  QueryCanceled: "57014",
  UndefinedTable: "42P01",
  DuplicateTable: "42P07",
} as const;

/** One of the SQLSTATE codes named in {@link PgErrorCode}. */
export type PgErrorCode = (typeof PgErrorCode)[keyof typeof PgErrorCode];

/**
 * The fields of a PostgreSQL error reported by the server through `pg` (a `DatabaseError`), the
 * same on both backends since both are reached through the same driver.
 */
export interface PgError extends Error {
  /** SQLSTATE, five characters, e.g. "23505". */
  code: string;
  /** Constraint that was violated (integrity errors). */
  constraint?: string;
  /** Table concerned, when the server reports one. */
  table?: string;
  /** Column concerned, when the server reports one. */
  column?: string;
  /** Server's detail line, e.g. "Key (name)=(x) already exists." */
  detail?: string;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * Finds the PostgreSQL server error in `err` or in its `cause` chain (so an error wrapped by a
 * repository still classifies). Returns it, or undefined when `err` is not a server error
 * (a connection failure, a programming error, ...).
 */
export function asPgError(err: unknown): PgError | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && SQLSTATE.test(code) && "severity" in current) {
      return current as unknown as PgError;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Returns the SQLSTATE of the server error in `err` (or its causes), or undefined. */
export function pgErrorCode(err: unknown): string | undefined {
  return asPgError(err)?.code;
}

function hasCode(err: unknown, code: string, constraint?: string): boolean {
  const pgErr = asPgError(err);
  return (
    pgErr !== undefined &&
    pgErr.code === code &&
    (constraint === undefined || pgErr.constraint === constraint)
  );
}

/**
 * True when `err` is a unique violation (23505); when `constraint` is given, only if that
 * constraint was the one violated. The violated constraint's name is `asPgError(err).constraint`.
 */
export function isUniqueViolation(err: unknown, constraint?: string): err is PgError {
  return hasCode(err, PgErrorCode.UniqueViolation, constraint);
}

/** True when `err` is a foreign-key violation (23503), optionally of the named constraint. */
export function isForeignKeyViolation(err: unknown, constraint?: string): err is PgError {
  return hasCode(err, PgErrorCode.ForeignKeyViolation, constraint);
}

/** True when `err` is a check-constraint violation (23514), optionally of the named constraint. */
export function isCheckViolation(err: unknown, constraint?: string): err is PgError {
  return hasCode(err, PgErrorCode.CheckViolation, constraint);
}

/** True when `err` is a serialization failure (40001): the transaction may succeed if retried. */
export function isSerializationFailure(err: unknown): err is PgError {
  return hasCode(err, PgErrorCode.SerializationFailure);
}

/** True when `err` is a detected deadlock (40P01): the transaction may succeed if retried. */
export function isDeadlock(err: unknown): err is PgError {
  return hasCode(err, PgErrorCode.DeadlockDetected);
}

/**
 * True when the whole transaction that produced `err` can safely be retried from the start
 * (serialization failure or deadlock). `Database.transaction` already does this.
 */
export function isRetryableTransactionError(err: unknown): err is PgError {
  return isSerializationFailure(err) || isDeadlock(err);
}

/** Raised when a `Database` is used after `close()`. */
export class DatabaseClosedError extends Error {
  override readonly name = "DatabaseClosedError";
  constructor(readonly kind: string) {
    super(`database (${kind}) is closed`);
  }
}

/**
 * Raised when `db.query` / `db.transaction` / `db.withConnection` is called from inside a
 * `db.transaction` or `db.withConnection` callback of the same database. That statement would run
 * on another connection, outside the transaction (and, on the embedded backend with its single
 * connection, wait forever), so use the `tx` / `conn` passed to the callback instead.
 */
export class QueryOutsideTransactionError extends Error {
  override readonly name = "QueryOutsideTransactionError";
  constructor(readonly sql: string) {
    super(
      `${JSON.stringify(sql.slice(0, 80))} was sent through the database handle inside its own ` +
        `transaction()/withConnection() callback: use the tx/conn passed to the callback (nesting is not supported)`,
    );
  }
}

/** Raised when the database cannot be opened (bad options, unreachable server, PGlite failure). */
export class DatabaseOpenError extends Error {
  override readonly name = "DatabaseOpenError";
  constructor(
    readonly kind: "postgres" | "pglite",
    readonly target: string,
    options?: { cause?: unknown },
  ) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(`cannot open ${kind} database at ${target}${reason}`, options);
  }
}
