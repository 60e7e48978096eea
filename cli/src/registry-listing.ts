/**
 * What `flotctl get tasks`, `get workflows` and `get launchplans` share: with a name and
 * `--version` they show that version, otherwise they list the latest version of every entity (or
 * the versions of one name) as a table or as proto-JSON. Each command describes what differs
 * (its API calls, its fields and its columns) in a {@link RegistryListing}.
 */
import type { Command } from "@oclif/core";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Identifier, LiteralType } from "@flotilla/proto";
import { FlotctlCommand, type Printable } from "./base-command.js";
import type { AdminClient } from "./client.js";
import { describeType } from "./literals.js";
import type { Column } from "./output/table.js";
import { entityId, readPages, type PageRequest } from "./resources.js";

/** One page of a registry list call: every name of a project and domain, or the versions of `name`. */
export interface RegistryListRequest extends PageRequest {
  id: { project: string; domain: string; name: string };
}

/** What one `get <entities>` command shows of its entity, described by its proto schema `D`. */
export interface RegistryListing<D extends DescMessage> {
  kind: "Task" | "Workflow" | "LaunchPlan";
  /** The entity message, for the proto-JSON of `-o json|yaml`. */
  schema: D;
  /** Fetches one version. */
  get(client: AdminClient, id: Identifier): Promise<MessageShape<D>>;
  /** Fetches one page of the list. */
  list(
    client: AdminClient,
    request: RegistryListRequest,
  ): Promise<{ items: MessageShape<D>[]; nextPageToken: string }>;
  /** The human forms of one version: its field block and any extra formats (e.g. dot). */
  show(entity: MessageShape<D>): Omit<Printable, "data">;
  /** Refuses a list request the command cannot serve (e.g. a format only one version has). */
  beforeList?(): void;
  /** The columns of the list table. */
  columns: Column<MessageShape<D>>[];
}

/** What the command line asked for. */
export interface RegistryQuery {
  name: string | undefined;
  version: string | undefined;
  /** Maximum rows to list. */
  limit: number;
}

/** Base class of the `get` commands of registered entities. */
export abstract class RegistryListingCommand<T extends typeof Command> extends FlotctlCommand<T> {
  /**
   * Prints the version `query.version` of `query.name` when both are given, else up to
   * `query.limit` entities (the versions of `query.name` when given), in the selected output
   * format. Project and domain come from the settings.
   */
  protected async showOrList<D extends DescMessage>(
    listing: RegistryListing<D>,
    query: RegistryQuery,
  ): Promise<void> {
    const client = await this.client();
    const project = await this.project();
    const domain = await this.domain();
    if (query.name && query.version) {
      const id = entityId(listing.kind, project, domain, query.name, query.version);
      const entity = await listing.get(client, id);
      await this.print({ data: await this.json(listing.schema, entity), ...listing.show(entity) });
      return;
    }
    listing.beforeList?.();
    const id = { project, domain, name: query.name ?? "" };
    const entities = await readPages(
      query.limit,
      (page) => listing.list(client, { id, ...page }),
      (r) => r.items,
    );
    await this.printList(listing.schema, entities, listing.columns);
  }
}

/** The variables of an interface as `name: type, ...`, or "-" when there are none. */
export function describeVariables(variables: Record<string, { type?: LiteralType }> | undefined): string {
  return (
    Object.entries(variables ?? {})
      .map(([k, v]) => `${k}: ${describeType(v.type)}`)
      .join(", ") || "-"
  );
}
