import assert from "node:assert/strict";
import { it } from "node:test";
import { startHttpRecorder } from "./http-recorder.js";

it("records each request with the status it chose by arrival index", async (t) => {
  const rec = await startHttpRecorder((req, index) => (index === 0 ? 503 : req.path === "/gone" ? 410 : 200));
  t.after(() => rec.close());
  const post = (path: string, body: string) =>
    fetch(`${rec.url}${path}`, { method: "POST", body, headers: { "X-Test": "yes" } });
  assert.equal((await post("/a", "one")).status, 503);
  assert.equal((await post("/a", "two")).status, 200);
  assert.equal((await post("/gone", "three")).status, 410);
  assert.deepEqual(
    rec.requests.map((r) => [r.method, r.path, r.body, r.status, r.headers["x-test"]]),
    [
      ["POST", "/a", "one", 503, "yes"],
      ["POST", "/a", "two", 200, "yes"],
      ["POST", "/gone", "three", 410, "yes"],
    ],
  );
});
