/**
 * Cost per million watches, DynamoDB + Lambda, on-demand prices of
 * eu-central-1, against a Step Functions wait loop doing the same polling.
 * Every price is a constant below, to check against the current price list.
 */
import { cadenceDelayMs, DEFAULT_CADENCE } from "../../lib/domain/cadence";

/** USD, eu-central-1, on-demand (published list prices; check before quoting). */
export const PRICES = {
  dynamoWriteUnit: 0.7625 / 1e6,
  dynamoReadUnit: 0.1525 / 1e6,
  lambdaGbSecondArm: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  sfnStandardTransition: 0.025 / 1000,
  sfnExpressRequest: 1.0 / 1e6,
  sfnExpressGbSecond: 0.00001667,
} as const;

/** APIG queries a task of `seconds` gets at our cadence (a healthy watch). */
export function pollsPerLife(seconds: number): number {
  let t = 0;
  let polls = 1; // the registration's own query
  while (t < seconds * 1000) {
    t += cadenceDelayMs(t, DEFAULT_CADENCE);
    polls++;
  }
  return polls;
}

export interface CostInput {
  taskSeconds: number;
  writeUnitsPerLife: number;
  /** Read units per life, already scaled to `taskSeconds`. */
  readUnitsPerLife: number;
  /** APIG queries per second one poller invocation sustains (512 MB). */
  pollerPollsPerS: number;
  pollerMemoryGb: number;
  /** The API Lambda's time for one registration (one APIG query, two DynamoDB calls). */
  registrationS: number;
  apiMemoryGb: number;
}

export interface CostLine {
  name: string;
  perMillion: number;
  detail: string;
}

export function costPerMillion(c: CostInput): { ours: CostLine[]; total: number; stepFunctions: CostLine[] } {
  const polls = pollsPerLife(c.taskSeconds);
  const m = 1e6;
  const ours: CostLine[] = [
    { name: "DynamoDB writes", perMillion: m * c.writeUnitsPerLife * PRICES.dynamoWriteUnit, detail: `${c.writeUnitsPerLife.toFixed(1)} WRU a life` },
    { name: "DynamoDB reads", perMillion: m * c.readUnitsPerLife * PRICES.dynamoReadUnit, detail: `${c.readUnitsPerLife.toFixed(2)} RRU a life` },
    {
      name: "Lambda poller",
      perMillion: m * (polls / c.pollerPollsPerS) * c.pollerMemoryGb * PRICES.lambdaGbSecondArm,
      detail: `${polls} polls a life at ${Math.round(c.pollerPollsPerS)} polls/s per ${c.pollerMemoryGb * 1024} MB invocation`,
    },
    {
      name: "Lambda API (registration)",
      perMillion: m * (PRICES.lambdaRequest + c.registrationS * c.apiMemoryGb * PRICES.lambdaGbSecondArm),
      detail: `1 request, ${c.registrationS} s at ${c.apiMemoryGb * 1024} MB`,
    },
  ];
  const total = ours.reduce((n, l) => n + l.perMillion, 0);
  // A Lambda task that asks APIG once: 128 MB for 200 ms, like ours.
  const taskLambda = PRICES.lambdaRequest + 0.2 * 0.125 * PRICES.lambdaGbSecondArm;
  const minuteIterations = Math.ceil(c.taskSeconds / 60);
  const stepFunctions: CostLine[] = [
    {
      name: "Step Functions Standard, once a minute",
      // Wait -> Task -> Choice per iteration, plus the start, the final Choice and the notify Task.
      perMillion: m * ((3 * minuteIterations + 3) * PRICES.sfnStandardTransition + (minuteIterations + 1) * taskLambda),
      detail: `${3 * minuteIterations + 3} transitions, ${minuteIterations + 1} Lambda tasks; the issue counts $309`,
    },
    {
      name: "Step Functions Standard, our cadence",
      perMillion: m * ((3 * polls + 3) * PRICES.sfnStandardTransition + (polls + 1) * taskLambda),
      detail: `${3 * polls + 3} transitions for the same ${polls} polls`,
    },
    {
      name: "Step Functions Express, our cadence",
      // Express runs at most 5 minutes; billed for the whole wait at 64 MB.
      perMillion: m * (PRICES.sfnExpressRequest + c.taskSeconds * 0.0625 * PRICES.sfnExpressGbSecond + (polls + 1) * taskLambda),
      detail: `1 request, ${c.taskSeconds} s at 64 MB, ${polls + 1} Lambda tasks`,
    },
  ];
  return { ours, total, stepFunctions };
}
