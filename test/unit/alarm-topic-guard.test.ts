import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

// The osls plugin is CommonJS (osls loads plugins with require()).
const AlarmTopicGuard = createRequire(import.meta.url)("../../infra/alarm-topic-guard.cjs") as new (sls: unknown) => {
  hooks: Record<string, () => void>;
};

/** Just enough of osls for the plugin: the stage and the resolved `custom.alarms`. */
function packageStage(stage: string, alarms: { topicArn?: string; disabled?: string }): () => void {
  class ServerlessError extends Error {}
  const guard = new AlarmTopicGuard({
    getProvider: () => ({ getStage: () => stage }),
    service: { custom: { alarms } },
    classes: { Error: ServerlessError },
  });
  return () => guard.hooks["before:package:cleanup"]!();
}

describe("alarm-topic-guard", () => {
  const TOPIC = "arn:aws:sns:eu-central-1:123456789012:oncall";
  it("lets dev through without a topic, and any stage with one", () => {
    expect(packageStage("dev", { topicArn: "", disabled: "false" })).not.toThrow();
    expect(packageStage("prod", { topicArn: TOPIC, disabled: "false" })).not.toThrow();
    expect(packageStage("staging", { topicArn: "arn:aws-cn:sns:cn-north-1:123456789012:ops" })).not.toThrow();
  });

  it("stops another stage without a topic, naming both ways out", () => {
    expect(packageStage("prod", { topicArn: "", disabled: "false" })).toThrow(/Stage "prod" has no alarm topic.*alarmTopicArn=.*alarmsDisabled=true/s);
    expect(packageStage("qa", { topicArn: "  " })).toThrow(/Stage "qa" has no alarm topic/);
  });

  it("accepts an explicit opt-out", () => {
    for (const disabled of ["true", "TRUE", "1", "yes"]) expect(packageStage("sandbox", { topicArn: "", disabled })).not.toThrow();
    expect(packageStage("sandbox", { topicArn: "", disabled: "no" })).toThrow(/no alarm topic/);
  });

  it("refuses something that is not an SNS topic ARN, on any stage", () => {
    expect(packageStage("dev", { topicArn: "ops@example.com" })).toThrow(/not an SNS topic ARN/);
    expect(packageStage("prod", { topicArn: "arn:aws:sqs:eu-central-1:123456789012:q" })).toThrow(/not an SNS topic ARN/);
  });
});
