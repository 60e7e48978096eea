import { FlotctlCommand } from "../base-command.js";
import { renderFields } from "../output/table.js";

/** `flotctl version`: client version and, when reachable, the admin's. */
export default class Version extends FlotctlCommand<typeof Version> {
  async run(): Promise<void> {
    const client = { version: this.config.version, node: process.version };
    let server: { version: string; commit: string; apiVersion: string } | { error: string };
    try {
      const r = await (await this.client()).getVersion({});
      server = { version: r.version, commit: r.commit, apiVersion: r.apiVersion };
    } catch (err) {
      const { rpcToCliError } = await import("../client.js");
      server = { error: (rpcToCliError(err, await this.adminUrl()) as Error).message };
    }
    await this.print({
      data: { client, server },
      table: () =>
        renderFields([
          ["Client", `flotctl ${client.version} (node ${client.node})`],
          [
            "Admin",
            "error" in server
              ? `unavailable (${server.error})`
              : `${server.version} (commit ${server.commit}, api ${server.apiVersion})`,
          ],
        ]),
    });
  }
}
