/**
 * An APIG answer too large to read (over 8 MiB) ends the watch as `error`
 * with a clear last_error after a few tries, and is logged; one oversized
 * answer among good ones (a cut connection could look alike) does not.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, registration, startHarness } from "../support/harness";
import { TOO_LARGE_TRIES } from "../../lib/otc/apig-client";

const huge = JSON.stringify({ task_status: "succeed", task_type: "import_api", task_result: "x".repeat(9 * 1024 * 1024) });
const tooLarge = { status: 200, body: huge, headers: { "content-type": "application/json" } };

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

describe("an APIG answer over 8 MiB", () => {
  it("ends the watch as error with last_error response_too_large after a few tries, logged once", async () => {
    h.task("huge-1", ["succeed"]);
    h.sim.script("huge-1", Array.from({ length: TOO_LARGE_TRIES }, () => tooLarge));
    const r = await h.call("POST", "/tasks", { body: registration("huge-1") });
    expect(r.status).toBe(201);
    expect(r.json.status).toBe("error");
    expect(r.json.last_error).toMatchObject({ code: "response_too_large", message: expect.stringContaining("over 8 MiB"), http_status: 200 });
    const queries = h.sim.requests.filter((q) => q.path.endsWith("/async-tasks/huge-1"));
    expect(queries).toHaveLength(TOO_LARGE_TRIES);
    const lines = h.logs.filter((l) => l.includes("apig_answer_too_large") && l.includes("huge-1"));
    expect(lines).toHaveLength(1);
  });

  it("one oversized answer, then a readable one: the watch follows the task as usual", async () => {
    h.task("huge-2", ["succeed"]);
    h.sim.script("huge-2", [tooLarge]);
    const r = await h.call("POST", "/tasks", { body: registration("huge-2") });
    expect(r.json.status).toBe("succeed");
  });
});
