/**
 * The base class of every flotctl command: global flags, settings resolution (flag, then
 * environment, then config file, then default), the admin client, output in table/json/yaml
 * and the conversion of RPC failures into {@link CliError}s.
 */
import { Command, type Interfaces } from "@oclif/core";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { configPath, DEFAULT_ADMIN_URL, loadConfig, type CliConfig } from "./config.js";
import { MissingSettingError } from "./errors.js";
import { globalFlags } from "./flags.js";
import { commandMessages } from "./messages.js";
import { renderTable, type Column } from "./output/table.js";
import { getRuntime, type CliRuntime } from "./runtime.js";
import type { AdminClient } from "./client.js";

/** The parsed flags of a command class, global flags included. */
export type FlagsOf<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof FlotctlCommand)["baseFlags"] & T["flags"]
>;
/** The parsed arguments of a command class. */
export type ArgsOf<T extends typeof Command> = Interfaces.InferredArgs<T["args"]>;

/** What a command prints: the machine form (json/yaml) and the human form (table). */
export interface Printable {
  /** Plain JSON-compatible value for `-o json` / `-o yaml`. */
  data: unknown;
  /** Human text for `-o table` (and formats the command adds, e.g. dot). */
  table: () => string;
  /** Extra formats (e.g. `dot`) by name. */
  formats?: Record<string, () => string>;
}

/** Base class of flotctl commands. */
export abstract class FlotctlCommand<T extends typeof Command = typeof Command> extends Command {
  static override baseFlags = globalFlags;

  /**
   * The oclif command id (`get:workflows`); undefined until oclif has loaded the class.
   */
  static override get id(): string {
    return undefined as unknown as string;
  }

  /**
   * oclif assigns every command class its id when it loads it (`cmd.id = id`), before it reads
   * the class's `summary`, `description` and `examples` for the manifest, `--help` or a run.
   * This takes that assignment to give the class those three as its own enumerable properties,
   * read lazily from its messages file (`messages/get/workflows.md`): oclif builds the manifest
   * from a copy of the class's own enumerable statics, so getters inherited from this class
   * would be lost there. Throws (when read) a MessagesError naming a missing or bad file.
   */
  static override set id(id: string) {
    const own = (get: () => unknown) => ({ get, enumerable: true, configurable: true });
    Object.defineProperties(this, {
      id: { value: id, writable: true, enumerable: true, configurable: true },
      summary: own(() => commandMessages(id).summary),
      description: own(() => commandMessages(id).description),
      examples: own(() => commandMessages(id).examples),
    });
  }

  /** Parsed flags (global flags included), set before `run`. */
  protected flags!: FlagsOf<T>;
  /** Parsed arguments, set before `run`. */
  protected args!: ArgsOf<T>;

  /** Parses the command line once for every subclass. */
  public override async init(): Promise<void> {
    await super.init();
    const ctor = this.ctor as unknown as typeof FlotctlCommand;
    const { flags, args } = await this.parse({
      flags: ctor.flags,
      baseFlags: ctor.baseFlags,
      args: ctor.args,
      strict: ctor.strict,
    });
    this.flags = flags as FlagsOf<T>;
    this.args = args as ArgsOf<T>;
  }

  /** The process surroundings (stdout, env, home, injected transport). */
  protected get runtime(): CliRuntime {
    return getRuntime();
  }

  private configCache: CliConfig | undefined;
  private clientCache: AdminClient | undefined;

  /** Path of the config file in use. */
  protected get configFile(): string {
    return configPath(this.runtime.env, this.runtime.homeDir);
  }

  /** The config file contents (cached). Throws ConfigError when malformed. */
  protected async fileConfig(): Promise<CliConfig> {
    this.configCache ??= await loadConfig(this.configFile);
    return this.configCache;
  }

  /** Resolves a setting: flag, then `FLOTILLA_<NAME>` env var, then config file. */
  protected async setting(name: "project" | "domain" | "admin" | "output"): Promise<string | undefined> {
    const flag = (this.flags as Record<string, unknown> | undefined)?.[name];
    if (typeof flag === "string" && flag) return flag;
    const env = this.runtime.env[`FLOTILLA_${name.toUpperCase()}`];
    if (env) return env;
    return (await this.fileConfig())[name];
  }

  /** The project (required); throws MissingSettingError with a hint. */
  protected async project(): Promise<string> {
    return this.requiredSetting("project");
  }

  /** The domain (required); throws MissingSettingError with a hint. */
  protected async domain(): Promise<string> {
    return this.requiredSetting("domain");
  }

  /** A setting that must be given; throws MissingSettingError naming every way to give it. */
  private async requiredSetting(name: "project" | "domain"): Promise<string> {
    const value = await this.setting(name);
    if (!value)
      throw new MissingSettingError(
        name,
        `pass -${globalFlags[name].char}/--${name}, set FLOTILLA_${name.toUpperCase()} or add \`${name}:\` to the config file`,
      );
    return value;
  }

  /** The admin URL (default http://127.0.0.1:8088). */
  protected async adminUrl(): Promise<string> {
    const url = (await this.setting("admin")) ?? DEFAULT_ADMIN_URL;
    if (!/^https?:\/\/[^\s/]+/.test(url)) {
      const { UsageError } = await import("./errors.js");
      throw new UsageError(`admin URL "${url}" must start with http:// or https://`);
    }
    return url;
  }

  /** The output format (default table). */
  protected async outputFormat(): Promise<string> {
    return (await this.setting("output")) ?? "table";
  }

  /** The AdminService client (created once per command run). */
  protected async client(): Promise<AdminClient> {
    if (!this.clientCache) {
      const { createAdminClient } = await import("./client.js");
      this.clientCache = await createAdminClient(await this.adminUrl(), this.runtime.transport);
    }
    return this.clientCache;
  }

  /** Whether colours may be used on stdout. */
  protected get color(): boolean {
    return Boolean(this.runtime.stdout.isTTY) && !this.runtime.env.NO_COLOR;
  }

  /** Writes text to stdout (a newline is added when missing). */
  protected out(text: string): void {
    this.runtime.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  /** Writes a progress/notice line to stderr (never mixed into machine output). */
  protected note(text: string): void {
    this.runtime.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  /** Prints `p` in the selected output format. */
  protected async print(p: Printable): Promise<void> {
    const format = await this.outputFormat();
    if (format === "json") return this.out(JSON.stringify(p.data, null, 2));
    if (format === "yaml") {
      const { stringify } = await import("yaml");
      return this.out(stringify(p.data, { aliasDuplicateObjects: false }));
    }
    const extra = p.formats?.[format];
    if (extra) return this.out(extra());
    if (format !== "table") {
      const { UsageError } = await import("./errors.js");
      throw new UsageError(`output format "${format}" is not supported by this command`);
    }
    this.out(p.table());
  }

  /** Renders `rows` as an aligned table of `columns`, in colour when stdout is a terminal. */
  protected table<R>(columns: Column<R>[], rows: R[]): string {
    return renderTable(columns, rows, { color: this.color });
  }

  /** Prints a list of messages: their proto-JSON under `-o json|yaml`, else a table of `columns`. */
  protected async printList<D extends DescMessage>(
    schema: D,
    rows: MessageShape<D>[],
    columns: Column<MessageShape<D>>[],
  ): Promise<void> {
    const data = [];
    for (const row of rows) data.push(await this.json(schema, row));
    await this.print({ data, table: () => this.table(columns, rows) });
  }

  /** proto-JSON of a message (enum names, int64 as strings). */
  protected async json<D extends DescMessage>(schema: D, message: MessageShape<D>): Promise<unknown> {
    const { toJson } = await import("@bufbuild/protobuf");
    return toJson(schema, message);
  }

  /** Converts RPC errors to CliErrors naming the admin, then rethrows for the entry point to report. */
  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    const { rpcToCliError } = await import("./client.js");
    throw rpcToCliError(err, await this.adminUrl().catch(() => DEFAULT_ADMIN_URL));
  }

  /** No oclif-level teardown output. */
  protected override async finally(_: Error | undefined): Promise<unknown> {
    return undefined;
  }
}
