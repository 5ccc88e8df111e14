/** The error module: every error has a stable code and its own name, and keeps its cause. */
import { describe, expect, it } from "vitest";
import * as errors from "../../lib/domain/errors";

describe("lib/domain/errors", () => {
  const made: Array<[string, errors.TaskwatchError]> = [
    ["ConfigError", new errors.ConfigError("bad", [{ variable: "X", message: "m" }])],
    ["SecretsError", new errors.SecretsError("dup")],
    ["ResponseTooLargeError", new errors.ResponseTooLargeError(200, 8)],
    ["SsrfBlockedError", new errors.SsrfBlockedError("no", { cause: new Error("c") })],
    ["WebhookSignatureError", new errors.WebhookSignatureError("sig")],
    ["MalformedItemError", new errors.MalformedItemError("item")],
    ["StoreError", new errors.StoreError("store")],
    ["IamAuthError", new errors.IamAuthError("iam_throttled", "429")],
    ["DataDirInUseError", new errors.DataDirInUseError("/d", 1)],
    ["LambdaInvokeError", new errors.LambdaInvokeError("503", 503)],
    ["SubscriptionBusyError", new errors.SubscriptionBusyError("busy")],
    ["MalformedWatchError", new errors.MalformedWatchError("bad")],
    ["ExportUnreadableError", new errors.ExportUnreadableError("1 of 2 chunks missing")],
  ];

  it.each(made)("%s has a stable snake_case code and its own name", (name, e) => {
    expect(e).toBeInstanceOf(errors.TaskwatchError);
    expect(e.name).toBe(name);
    expect(e.code).toMatch(/^[A-Za-z_]+$/);
  });

  it("covers every error class the module exports", () => {
    const classes = Object.entries(errors).filter(([k, v]) => typeof v === "function" && k !== "TaskwatchError").map(([k]) => k);
    expect(classes.sort()).toEqual(made.map(([n]) => n).sort());
  });

  it("keeps the cause", () => {
    const cause = new Error("root");
    expect(new errors.SsrfBlockedError("no", { cause }).cause).toBe(cause);
  });
});
