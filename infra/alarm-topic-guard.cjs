// osls plugin: packaging (and so deploying) any stage other than `dev`
// without an alarm topic fails, because its alarms would reach no one. An
// explicit `--param alarmsDisabled=true` opts out. Reads `custom.alarms` of
// serverless.yml. CommonJS because osls loads plugins with require().
"use strict";

const TRUE = new Set(["true", "1", "yes"]);

class AlarmTopicGuard {
  constructor(serverless) {
    this.serverless = serverless;
    // Before the cleanup, the first step of `package`: nothing is removed or
    // built when the check fails. `remove` and `info` are not held up.
    this.hooks = { "before:package:cleanup": () => this.check() };
  }

  check() {
    const stage = this.serverless.getProvider("aws").getStage();
    const alarms = (this.serverless.service.custom && this.serverless.service.custom.alarms) || {};
    const topic = String(alarms.topicArn ?? "").trim();
    const disabled = TRUE.has(String(alarms.disabled ?? "").trim().toLowerCase());
    if (topic !== "" && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$/.test(topic)) {
      throw new this.serverless.classes.Error(`alarmTopicArn "${topic}" is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME).`);
    }
    if (stage === "dev" || topic !== "" || disabled) return;
    throw new this.serverless.classes.Error(
      `Stage "${stage}" has no alarm topic, so its alarms would reach no one. ` +
        "Pass --param alarmTopicArn=arn:aws:sns:REGION:ACCOUNT:TOPIC (an SNS topic that notifies someone), " +
        "or --param alarmsDisabled=true to package it without alarm actions on purpose.",
    );
  }
}

module.exports = AlarmTopicGuard;
