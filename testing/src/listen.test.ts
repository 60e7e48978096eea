import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { connect, createServer as createHttp2Server } from "node:http2";
import { createServer as createNetServer } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { freePort, listen } from "./listen.js";
import { tempDir } from "./temp-dir.js";

describe("listen", () => {
  it("serves HTTP on 127.0.0.1 and closes despite keep-alive connections", async () => {
    const server = createServer((_req, res) => res.end("pong"));
    const { url, port, close } = await listen(server);
    assert.equal(url, `http://127.0.0.1:${port}`);
    assert.ok(port > 0);
    const res = await fetch(`${url}/ping`, { headers: { connection: "keep-alive" } });
    assert.equal(await res.text(), "pong");
    await close();
    await close();
    assert.equal(server.listening, false);
    await assert.rejects(fetch(`${url}/ping`));
  });

  it("serves HTTP/2 and closes with a session still open", async () => {
    const server = createHttp2Server();
    server.on("stream", (stream) => {
      stream.respond({ ":status": 200 });
      stream.end("h2");
    });
    const { url, close } = await listen(server);
    const session = connect(url);
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ":path": "/" });
      let data = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (data += chunk));
      req.on("end", () => resolve(data));
      req.on("error", reject);
    });
    assert.equal(body, "h2");
    await close();
    assert.equal(server.listening, false);
    session.destroy();
  });
});

describe("freePort", () => {
  it("returns a port that can be listened on", async () => {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536);
    const server = createNetServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});

describe("tempDir", () => {
  it("creates a directory and removes it with its contents on cleanup", async () => {
    const dir = tempDir({ prefix: "flotilla-tempdir-test-" });
    assert.match(dir.path, /flotilla-tempdir-test-/);
    writeFileSync(join(dir.path, "file.txt"), "x");
    await dir.cleanup();
    assert.equal(existsSync(dir.path), false);
    await dir.cleanup();
  });

  it("removes the directory when the test ends", async (t) => {
    let path = "";
    await t.test("inner", (inner) => {
      path = tempDir({ t: inner }).path;
      assert.ok(existsSync(path));
    });
    assert.equal(existsSync(path), false);
  });
});
