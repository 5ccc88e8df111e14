/**
 * The monthly bill's arithmetic (scripts/bench/cost.ts), so what `npm run
 * bench` prints counts what the deployment pays even with no watch at all:
 * the schedule's invocations and their DynamoDB units, alarms and dashboard.
 */
import { describe, expect, it } from "vitest";
import { type BillInput, monthlyBill, PRICE_LISTS } from "../../scripts/bench/cost";

const p = PRICE_LISTS["eu-central-1"]!;
const input: BillInput = {
  taskSeconds: 180,
  writeUnitsPerLife: 8,
  readUnitsPerLife: 2,
  busyMinuteWriteUnits: 20,
  busyMinuteReadUnits: 150,
  idleWriteUnits: 2,
  idleReadUnits: 17,
  waitedReadsPerLife: 60,
  waitedMarksPerLife: 1,
  readUnitsPerWaitedRead: 0.5,
  writeUnitsPerMark: 3,
  pollerLogBytesPerLife: 2_000,
  platformLogBytesPerInvocation: 350,
  accessLogBytesPerRequest: 330,
  waitedReadsVia: "function-url",
  egressBytesPerPoll: 1_000,
  pollerMemoryGb: 0.25,
  busyS: 61,
  idleS: 0.2,
  registrationS: 0.3,
  apiMemoryGb: 0.5,
  readS: 0.01,
  readMemoryGb: 0.25,
  metricSeries: 12,
  alarms: 6,
  dashboards: 1,
};
const line = (b: ReturnType<typeof monthlyBill>, name: string) => b.lines.find((l) => l.name === name)!.usd;
const MINUTES = 43_200;

describe("monthly bill", () => {
  it("with no watch, charges every idle invocation's Lambda time and DynamoDB units, the alarms and the dashboard, and nothing per watch", () => {
    const b = monthlyBill(0, false, input, p);
    expect(line(b, "Lambda poller")).toBeCloseTo(MINUTES * (0.2 * 0.25 * p.lambdaGbSecondArm + p.lambdaRequest), 6);
    expect(line(b, "DynamoDB writes")).toBeCloseTo(MINUTES * 2 * p.dynamoWriteUnit, 6);
    expect(line(b, "DynamoDB reads")).toBeCloseTo(MINUTES * 17 * p.dynamoReadUnit, 6);
    expect(line(b, "alarms + dashboard")).toBeCloseTo(6 * 0.1 + 3, 6);
    expect(line(b, "Lambda api + read") + line(b, "API Gateway requests") + line(b, "egress to APIG") + line(b, "custom metrics")).toBe(0);
  });

  it("at a volume where every minute has an open watch, charges the busy minute's units every minute", () => {
    const b = monthlyBill(10_000_000, false, input, p);
    const perLife = 10_000_000 * 8 * p.dynamoWriteUnit;
    expect(line(b, "DynamoDB writes") - perLife).toBeCloseTo(MINUTES * 20 * p.dynamoWriteUnit, 2);
  });

  it("a waiting client's reads are charged at their read units (eventually consistent: half)", () => {
    const strong = monthlyBill(1_000_000, true, { ...input, readUnitsPerWaitedRead: 1 }, p);
    const eventual = monthlyBill(1_000_000, true, input, p);
    expect(line(strong, "DynamoDB reads") - line(eventual, "DynamoDB reads")).toBeCloseTo(1_000_000 * 60 * 0.5 * p.dynamoReadUnit, 6);
  });
});
