/**
 * The rehearsal's EventBridge stand-in (infra/dev/rehearsal/eventbridge-standin.ts)
 * on its own: the service's own PutEvents client against it, with roles
 * written here, so each refusal is seen to come from the signature or the
 * policy and not from the scenario around it.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { putEvent } from "../../lib/aws/eventbridge-put";
import { Agent } from "../../lib/net/undici";
import { type EventBridgeStandIn, startEventBridgeStandIn } from "../../infra/dev/rehearsal/eventbridge-standin";
import { createAuthorizer, credentialsFor } from "../../infra/dev/rehearsal/policy";
import type { RoleSpec, Stack } from "../../infra/dev/rehearsal/template";

const stack: Stack = { accountId: "123456789012", region: "eu-central-1", partition: "aws", parameters: {} };
const BUS = "arn:aws:events:eu-central-1:123456789012:event-bus/allowed";
const OTHER = "arn:aws:events:eu-central-1:123456789012:event-bus/other";
const role = (id: string, resources: string[]): RoleSpec => ({
  logicalId: id,
  arn: `arn:aws:iam::123456789012:role/${id}`,
  policies: resources.length ? [{ name: "p", policy: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["events:PutEvents"], Resource: resources }] } }] : [],
});
const granted = role("Granted", [BUS]);
const bare = role("Bare", []);

let eb: EventBridgeStandIn | undefined;
const dispatcher = new Agent();
afterEach(async () => {
  await eb?.close();
  eb = undefined;
});
afterAll(() => dispatcher.close());

async function start() {
  const auth = createAuthorizer(stack, [granted, bare]);
  const secretOf = (k: string) => [granted, bare].map(credentialsFor).find((c) => c.accessKeyId === k)?.secretAccessKey;
  eb = await startEventBridgeStandIn({ stack, auth, fnOfKey: (k) => auth.roleOfKey(k)?.logicalId ?? "?", secretOf });
  return { eb, auth };
}
const entry = (bus: string) => ({ EventBusName: bus, Source: "apig-taskwatch", DetailType: "task.test", Detail: JSON.stringify({ type: "task.test" }) });
const put = (bus: string, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
  putEvent(entry(bus), { credentials, dispatcher, endpoint: eb!.url, timeoutMs: 5000 });

describe("the rehearsal's EventBridge stand-in", () => {
  it("takes a signed put on a bus the role's policy allows, and records it with the role", async () => {
    const { eb } = await start();
    const r = await put(BUS, credentialsFor(granted));
    expect(r).toMatchObject({ status: 200, failed: null });
    expect(eb.events.map((e) => [e.role, e.bus, e.source, e.detailType])).toEqual([["Granted", BUS, "apig-taskwatch", "task.test"]]);
  });

  it("refuses the entry (HTTP 200, AccessDeniedException, FailedEntryCount 1) on a bus the policy does not allow, or for a role without the grant", async () => {
    const { eb, auth } = await start();
    const other = await put(OTHER, credentialsFor(granted));
    expect(other.status).toBe(200);
    expect(other.failed).toMatchObject({ code: "AccessDeniedException", message: expect.stringContaining(`events:PutEvents on resource: ${OTHER}`) });
    expect(JSON.parse(other.body).FailedEntryCount).toBe(1);
    expect((await put(BUS, credentialsFor(bare))).failed?.code).toBe("AccessDeniedException");
    expect(eb.events).toEqual([]);
    expect(auth.calls.map((c) => [c.role, c.resource, c.allowed])).toEqual([
      ["Granted", OTHER, false],
      ["Bare", BUS, false],
    ]);
  });

  it("fails the whole call when the signature is not the key's (400 UnrecognizedClientException), without evaluating any policy", async () => {
    const { eb, auth } = await start();
    const r = await put(BUS, { ...credentialsFor(granted), secretAccessKey: "not-the-secret" });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).__type).toBe("UnrecognizedClientException");
    expect(auth.calls).toEqual([]);
    expect(eb.events).toEqual([]);
  });
});
