import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { recordingLogger, type Logger } from "@flotilla/common";
import { AdminService, CompileErrorsSchema, CompileError_Code, ValidationErrorSchema } from "@flotilla/proto";
import * as admin from "../index.js";
import { REQUEST_ID_HEADER, rpcInterceptor, toConnectError } from "./errors.js";

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * The error table: every error class admin exports, an instance of it, and the Connect code
 * the RPC boundary answers with. Abstract bases are listed with a concrete subclass instance.
 */
const TABLE: ReadonlyArray<[ErrorClass, () => Error, Code]> = [
  [admin.AdminError, () => new admin.NotFoundError("task", "p/d/t:v1"), Code.NotFound],
  [
    admin.InvalidArgumentError,
    () => new admin.InvalidArgumentError("project.id", "is required"),
    Code.InvalidArgument,
  ],
  [admin.NotFoundError, () => new admin.NotFoundError("project", "nope"), Code.NotFound],
  [admin.ExecutionNotFoundError, () => new admin.ExecutionNotFoundError("p/d/run"), Code.NotFound],
  [admin.AlreadyExistsError, () => new admin.AlreadyExistsError("task", "p/d/t:v1"), Code.AlreadyExists],
  [
    admin.FailedPreconditionError,
    () => new admin.FailedPreconditionError("ExecutionTerminal", "execution p/d/run already SUCCEEDED"),
    Code.FailedPrecondition,
  ],
  [admin.StaleRevisionError, () => new admin.StaleRevisionError("routing rule", "r1", 1, 2), Code.Aborted],
  [
    admin.CompilationError,
    () =>
      new admin.CompilationError("workflow p/d/wf:v1", [
        { code: "Cycle", nodeId: "a", variable: "", message: "cycle a -> b -> a" },
      ]),
    Code.InvalidArgument,
  ],
  [
    admin.DataPlaneError,
    () => new admin.ClusterUnreachableError("east", "create", "connect ECONNREFUSED"),
    Code.Unavailable,
  ],
  [
    admin.ClusterUnreachableError,
    () => new admin.ClusterUnreachableError("east", "create", "connect ECONNREFUSED"),
    Code.Unavailable,
  ],
  [
    admin.ClusterRequestError,
    () => new admin.ClusterRequestError("east", "create", 403, "forbidden"),
    Code.FailedPrecondition,
  ],
  [
    admin.ClusterCredentialsError,
    () => new admin.ClusterCredentialsError("east", "unsupported credentials_ref vault://x"),
    Code.FailedPrecondition,
  ],
  [
    admin.QuotaTemplateError,
    () => new admin.QuotaTemplateError("p", "d", "requests.cpu", "variable cpu has no value"),
    Code.FailedPrecondition,
  ],
  [admin.ClusterNotFoundError, () => new admin.ClusterNotFoundError("ghost"), Code.NotFound],
  [admin.RoutingRuleNotFoundError, () => new admin.RoutingRuleNotFoundError("r9"), Code.NotFound],
  [
    admin.InvalidRuleScopeError,
    () => new admin.InvalidRuleScopeError({ domain: "d" }, "a domain rule needs a project"),
    Code.InvalidArgument,
  ],
  [
    admin.RoutingConfigError,
    () => new admin.RoutingConfigError("clusters[0].name", "required"),
    Code.InvalidArgument,
  ],
  // A failed notification delivery is recorded on its outbox row; it never answers an RPC.
  [
    admin.DeliveryError,
    () => new admin.DeliveryError("POST https://x.example: HTTP 500", false),
    Code.Unavailable,
  ],
];

function isErrorClass(value: unknown): value is ErrorClass {
  return typeof value === "function" && (value === Error || value.prototype instanceof Error);
}

const SOURCE_DIR = fileURLToPath(new URL("../../src/", import.meta.url));

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

describe("the error table", () => {
  it("has a row for every error class admin exports, and only for those", () => {
    const exported = Object.entries(admin)
      .filter(([, v]) => isErrorClass(v))
      .map(([name]) => name)
      .sort();
    const rows = TABLE.map(([cls]) => cls.name).sort();
    assert.deepEqual(rows, exported);
  });

  it("sees every error class declared in admin's source through the public entry", async () => {
    const declared: string[] = [];
    for (const file of await sourceFiles(SOURCE_DIR)) {
      const text = await readFile(file, "utf8");
      for (const m of text.matchAll(/class (\w+) extends (\w+)/g)) {
        if (m[2] === "Error" || m[2].endsWith("Error")) declared.push(m[1]);
      }
    }
    const exported = new Set(Object.keys(admin));
    assert.deepEqual(
      declared.filter((name) => !exported.has(name)),
      [],
      "every error class must be exported from src/index.ts (and so get a row in the table)",
    );
  });

  for (const [cls, make, code] of TABLE) {
    it(`${cls.name} → ${Code[code]}`, () => {
      const err = make();
      assert.ok(err instanceof cls);
      assert.ok(err instanceof admin.AdminError, `${err.name} does not extend AdminError`);
      const mapped = toConnectError(err);
      assert.equal(mapped.code, code);
      assert.equal(mapped.rawMessage, err.message);
      assert.match(err.reason, /^[A-Z][A-Za-z]+$/);
    });
  }

  it("sends typed details: a ValidationError naming the field, CompileErrors naming node and code", () => {
    const invalid = toConnectError(new admin.InvalidArgumentError("project.id", "is required"));
    assert.deepEqual(
      invalid.findDetails(ValidationErrorSchema).flatMap((d) => d.violations.map((v) => [v.field, v.rule])),
      [["project.id", "required"]],
    );
    const compile = toConnectError(
      new admin.CompilationError("workflow wf", [
        { code: "Cycle", nodeId: "a", variable: "", message: "cycle" },
        { code: "TypeMismatch", nodeId: "b", variable: "x", message: "int vs string" },
      ]),
    );
    assert.deepEqual(
      compile.findDetails(CompileErrorsSchema).flatMap((d) => d.errors.map((e) => [e.code, e.nodeId, e.var])),
      [
        [CompileError_Code.CYCLE, "a", ""],
        [CompileError_Code.TYPE_MISMATCH, "b", "x"],
      ],
    );
  });

  it("passes ConnectErrors through and turns anything else into Internal without its text", () => {
    const given = new ConnectError("slow down", Code.ResourceExhausted);
    assert.equal(toConnectError(given), given);
    const mapped = toConnectError(new TypeError("secret connection string in here"));
    assert.equal(mapped.code, Code.Internal);
    assert.equal(mapped.rawMessage, "internal error");
  });
});

describe("the RPC interceptor", () => {
  function serve(logger: Logger, fail: () => never) {
    const transport = createRouterTransport(
      (router) =>
        router.service(AdminService, {
          getVersion: () => ({ version: "1" }),
          getProject: () => fail(),
        }),
      { router: { interceptors: [rpcInterceptor(undefined, logger)] } },
    );
    return createClient(AdminService, transport);
  }

  it("echoes the caller's x-request-id, or gives one, on answers and errors", async () => {
    const client = serve(recordingLogger(), () => {
      throw new admin.NotFoundError("project", "nope");
    });
    let header: Headers | undefined;
    await client.getVersion(
      {},
      { headers: { [REQUEST_ID_HEADER]: "req-42" }, onHeader: (h) => (header = h) },
    );
    assert.equal(header?.get(REQUEST_ID_HEADER), "req-42");
    await client.getVersion({}, { onHeader: (h) => (header = h) });
    assert.match(header?.get(REQUEST_ID_HEADER) ?? "", /^[0-9a-f-]{36}$/);
    const err = await client.getProject({ id: "nope" }, { headers: { [REQUEST_ID_HEADER]: "req-43" } }).then(
      () => assert.fail("expected an error"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(err.code, Code.NotFound);
    assert.equal(err.metadata.get(REQUEST_ID_HEADER), "req-43");
  });

  it("answers an unexpected error with Internal and logs its cause with the request id", async () => {
    const logger = recordingLogger();
    const client = serve(logger, () => {
      throw new RangeError("boom at row 7");
    });
    const err = await client.getProject({ id: "x" }, { headers: { [REQUEST_ID_HEADER]: "req-44" } }).then(
      () => assert.fail("expected an error"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(err.code, Code.Internal);
    assert.equal(err.rawMessage, "internal error");
    assert.equal(logger.records.length, 1);
    const [entry] = logger.records;
    assert.equal(entry.msg, "rpc failed");
    assert.equal(entry.fields.requestId, "req-44");
    assert.equal(entry.fields.method, "GetProject");
    assert.match(String((entry.fields.error as Error).message), /boom at row 7/);
  });

  it("does not log domain errors: they are answers, not failures", async () => {
    const logger = recordingLogger();
    const client = serve(logger, () => {
      throw new admin.StaleRevisionError("routing rule", "r1", 1, 2);
    });
    const err = await client.getProject({ id: "x" }).then(
      () => assert.fail("expected an error"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(err.code, Code.Aborted);
    assert.deepEqual(logger.records, []);
  });
});
