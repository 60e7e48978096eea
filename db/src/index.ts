/**
 * @flotilla/db: the one way Flotilla services reach PostgreSQL (a server by URL, or embedded
 * PGlite), ordered SQL migrations, and driver-error classification for repositories.
 */
export {
  Isolation,
  dumpEmbedded,
  openDatabase,
  type Database,
  type DatabaseKind,
  type OpenDatabaseOptions,
  type QueryResult,
  type Queryable,
  type Row,
  type TransactionOptions,
} from "./database.js";
export {
  DatabaseClosedError,
  DatabaseOpenError,
  PgErrorCode,
  QueryOutsideTransactionError,
  asPgError,
  isCheckViolation,
  isDeadlock,
  isForeignKeyViolation,
  isRetryableTransactionError,
  isSerializationFailure,
  isUniqueViolation,
  pgErrorCode,
  type PgError,
} from "./errors.js";
export {
  MigrationChecksumMismatchError,
  MigrationFailedError,
  MigrationFileError,
  MigrationHistoryError,
  migrate,
  migrationsDirOf,
  readMigrations,
  type MigrateOptions,
  type MigrateResult,
  type MigrationFile,
} from "./migrate.js";
export { PostgresLeaderElection, type LeaderElectionOptions } from "./leader-election.js";
export { embeddedTemplatePath, ensureEmbeddedTemplate, readEmbeddedTemplate } from "./embedded-template.js";
