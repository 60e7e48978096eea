/**
 * The admin client: a Connect client of `AdminService` over HTTP/1.1 (or the runtime's injected
 * transport in tests), and the mapping of RPC errors to {@link CliError}s with decoded typed
 * details (ValidationError field violations, CompileErrors).
 */
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { AdminService, CompileError_Code, CompileErrorsSchema, ValidationErrorSchema } from "@flotilla/proto";
import { AdminUnreachableError, CliError } from "./errors.js";
import { tracingInterceptors } from "./tracing.js";

/** The typed AdminService client. */
export type AdminClient = Client<typeof AdminService>;

/** Per-call deadline of CLI requests. */
export const CALL_TIMEOUT_MS = 30_000;

/**
 * Creates an AdminService client for `url`, or over `transport` when given. When `OTEL_*` turns
 * tracing on, starts it for the process and traces each call (see `tracing.ts`). Side effects:
 * none else until the first call (connections are opened lazily).
 */
export async function createAdminClient(url: string, transport?: Transport): Promise<AdminClient> {
  if (transport) return createClient(AdminService, transport);
  const { createConnectTransport } = await import("@connectrpc/connect-node");
  const interceptors = await tracingInterceptors(process.env);
  return createClient(
    AdminService,
    createConnectTransport({
      baseUrl: url,
      httpVersion: "1.1",
      defaultTimeoutMs: CALL_TIMEOUT_MS,
      interceptors,
    }),
  );
}

/** snake_case name of a Connect code ("not_found"). */
export function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/**
 * Converts an error from an admin call into a {@link CliError}: the Connect code becomes the
 * error code, typed details become `details` entries (`{field, rule, description}` or
 * `{code, node, var, message}`). Unavailable and deadline errors name the admin URL. Other
 * values pass through unchanged.
 */
export function rpcToCliError(err: unknown, adminUrl: string): unknown {
  if (!(err instanceof ConnectError)) return err;
  if (
    err.code === Code.Unavailable ||
    (err.code === Code.Unknown && /ECONNREFUSED|ENOTFOUND|fetch failed/.test(err.rawMessage))
  ) {
    return new AdminUnreachableError(adminUrl, err.rawMessage);
  }
  if (err.code === Code.DeadlineExceeded) {
    return new AdminUnreachableError(adminUrl, `no answer within ${CALL_TIMEOUT_MS / 1000}s`);
  }
  const details: unknown[] = [];
  for (const v of err.findDetails(ValidationErrorSchema)) {
    for (const f of v.violations) details.push({ field: f.field, rule: f.rule, description: f.description });
  }
  for (const c of err.findDetails(CompileErrorsSchema)) {
    for (const e of c.errors) {
      details.push({
        code: CompileError_Code[e.code] ?? String(e.code),
        node: e.nodeId,
        var: e.var,
        message: e.message,
      });
    }
  }
  return new CliError(codeName(err.code), err.rawMessage, details);
}
