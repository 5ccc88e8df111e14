/**
 * The full monthly bill of one deployment at a given volume of watches a
 * month, with and without a CLI waiting on each, against a Step Functions
 * Standard wait loop doing the polling, once a minute and at our cadence.
 *
 * Price lists: AWS public on-demand list prices as known on 2026-12-03 for
 * eu-central-1 (the stack's default region) and us-east-1, copied by hand
 * (this machine has no internet to re-check them): check before quoting.
 * Free tiers are left out (they favour small volumes, for both designs).
 */
import { cadenceDelayMs, DEFAULT_CADENCE } from "../../lib/domain/cadence";

export interface PriceList {
  region: string;
  dynamoWriteUnit: number;
  dynamoReadUnit: number;
  lambdaGbSecondArm: number;
  lambdaRequest: number;
  /** HTTP API, per request (first 300 million a month). */
  httpApiRequest: number;
  /** CloudWatch Logs ingestion per GB (standard class); storage is a few % of it and left out. */
  logsIngestGb: number;
  /** Per custom metric (series) and month, prorated by the hour it receives data. */
  metricMonth: number;
  /** Per standard-resolution alarm and month. */
  alarmMonth: number;
  /** Per dashboard and month (3 per account are free). */
  dashboardMonth: number;
  /** Data transfer out to the internet, per GB (first 10 TB). */
  egressGb: number;
  sfnStandardTransition: number;
}

export const PRICE_LISTS: Record<string, PriceList> = {
  "eu-central-1": {
    region: "eu-central-1",
    dynamoWriteUnit: 0.7625 / 1e6,
    dynamoReadUnit: 0.1525 / 1e6,
    lambdaGbSecondArm: 0.0000133334,
    lambdaRequest: 0.2 / 1e6,
    httpApiRequest: 1.2 / 1e6,
    logsIngestGb: 0.63,
    metricMonth: 0.3,
    alarmMonth: 0.1,
    dashboardMonth: 3,
    egressGb: 0.09,
    sfnStandardTransition: 0.025 / 1000,
  },
  "us-east-1": {
    region: "us-east-1",
    dynamoWriteUnit: 0.625 / 1e6,
    dynamoReadUnit: 0.125 / 1e6,
    lambdaGbSecondArm: 0.0000133334,
    lambdaRequest: 0.2 / 1e6,
    httpApiRequest: 1.0 / 1e6,
    logsIngestGb: 0.5,
    metricMonth: 0.3,
    alarmMonth: 0.1,
    dashboardMonth: 3,
    egressGb: 0.09,
    sfnStandardTransition: 0.025 / 1000,
  },
};

/** APIG queries a task of `seconds` gets at our cadence (a healthy watch), with the registration's own. */
export function pollsPerLife(seconds: number, waited = false): number {
  let t = 0;
  let polls = 1;
  while (t < seconds * 1000) {
    t += waited ? DEFAULT_CADENCE.minMs : cadenceDelayMs(t, DEFAULT_CADENCE);
    polls++;
  }
  return polls;
}

/** What the bill is computed from: measured figures (by `npm run bench`) and the named assumptions. */
export interface BillInput {
  taskSeconds: number;
  /** Measured on the wire (capacity proxy): write / read units of one life, no client waiting. */
  writeUnitsPerLife: number;
  readUnitsPerLife: number;
  /**
   * Measured on the wire (fixed-units.ts): units that belong to no watch,
   * per minute with an open watch (round, sweep and health records, due-index
   * pickups) and per idle invocation (one a minute otherwise).
   */
  busyMinuteWriteUnits: number;
  busyMinuteReadUnits: number;
  idleWriteUnits: number;
  idleReadUnits: number;
  /** Measured (virtual time): a waiting CLI's reads and waited-mark writes per life of `taskSeconds`. */
  waitedReadsPerLife: number;
  waitedMarksPerLife: number;
  /** Read units of one waiting client's read: 0.5, an eventually consistent GetItem of an item under 4 KB (read-watch.ts). */
  readUnitsPerWaitedRead: number;
  /** Write units of one waited mark: the item (1 KB) and the due index's key moving (2): capacity-proxy.test.ts. */
  writeUnitsPerMark: number;
  /** Poller log bytes per life (measured, virtual time), plus the platform's lines per invocation below. */
  pollerLogBytesPerLife: number;
  /** Assumed: Lambda START/END/REPORT lines per invocation, and one HTTP API access-log line per request. */
  platformLogBytesPerInvocation: number;
  accessLogBytesPerRequest: number;
  /**
   * Where a waiting client's reads go: the read function's URL (`Link:
   * rel="monitor"`, what the CLI follows), with no API Gateway request, no
   * access-log line and no platform lines (systemLogLevel WARN); or through
   * the HTTP API, as a client that ignores the link does.
   */
  waitedReadsVia: "function-url" | "http-api";
  /** Assumed: bytes sent to APIG per query (a SigV4-signed GET over a kept-alive TLS connection; ~10 KB with an IAM token). */
  egressBytesPerPoll: number;
  /** Poller memory (serverless.yml `pollerMemory`); a minute with an open watch runs the loop `busyS`; an idle invocation `idleS` (ends at once). */
  pollerMemoryGb: number;
  busyS: number;
  idleS: number;
  /** API: a registration (one APIG query, two DynamoDB calls) on the 512 MB api function; a read on the 256 MB read function. */
  registrationS: number;
  apiMemoryGb: number;
  readS: number;
  readMemoryGb: number;
  /** Custom metric series a busy hour publishes; alarms and dashboards in serverless.yml. */
  metricSeries: number;
  alarms: number;
  dashboards: number;
}

export interface BillLine {
  name: string;
  usd: number;
}

export interface Bill {
  watchesPerMonth: number;
  waited: boolean;
  lines: BillLine[];
  total: number;
  sfnMinute: number;
  sfnCadence: number;
}

const MINUTES = 43_200;
const HOURS = 720;

/** The month's bill at `watchesPerMonth`, arriving uniformly (Poisson) over the month. */
export function monthlyBill(watchesPerMonth: number, waited: boolean, c: BillInput, p: PriceList): Bill {
  const v = watchesPerMonth;
  const polls = pollsPerLife(c.taskSeconds, waited);
  // A minute (hour) costs the busy loop when at least one watch is open in it: its life plus the invocation it ends in.
  const busyMinutes = MINUTES * (1 - Math.exp(-(v / MINUTES) * (c.taskSeconds / 60 + 1)));
  const busyHours = HOURS * (1 - Math.exp(-(v / HOURS) * (c.taskSeconds / 3600 + 1)));
  const reads = waited ? c.waitedReadsPerLife : 0;
  const marks = waited ? c.waitedMarksPerLife : 0;
  // Lambda invocations of the api and read functions; those of them through API Gateway.
  const apiRequests = v * (1 + reads);
  const viaUrl = c.waitedReadsVia === "function-url";
  const gatewayRequests = viaUrl ? v : apiRequests;
  const pollerGbS = (busyMinutes * c.busyS + (MINUTES - busyMinutes) * c.idleS) * c.pollerMemoryGb;
  const apiGbS = v * (c.registrationS * c.apiMemoryGb + reads * c.readS * c.readMemoryGb);
  const platformLines = MINUTES + (viaUrl ? v : apiRequests);
  const logBytes = v * c.pollerLogBytesPerLife + platformLines * c.platformLogBytesPerInvocation + gatewayRequests * c.accessLogBytesPerRequest;
  const lines: BillLine[] = [
    {
      name: "DynamoDB writes",
      usd: (v * (c.writeUnitsPerLife + marks * c.writeUnitsPerMark) + busyMinutes * c.busyMinuteWriteUnits + (MINUTES - busyMinutes) * c.idleWriteUnits) * p.dynamoWriteUnit,
    },
    {
      name: "DynamoDB reads",
      usd: (v * (c.readUnitsPerLife + reads * c.readUnitsPerWaitedRead) + busyMinutes * c.busyMinuteReadUnits + (MINUTES - busyMinutes) * c.idleReadUnits) * p.dynamoReadUnit,
    },
    { name: "Lambda poller", usd: pollerGbS * p.lambdaGbSecondArm + MINUTES * p.lambdaRequest },
    { name: "Lambda api + read", usd: apiGbS * p.lambdaGbSecondArm + apiRequests * p.lambdaRequest },
    { name: "API Gateway requests", usd: gatewayRequests * p.httpApiRequest },
    { name: "CloudWatch Logs", usd: (logBytes / 1e9) * p.logsIngestGb },
    { name: "custom metrics", usd: c.metricSeries * p.metricMonth * (busyHours / HOURS) },
    { name: "alarms + dashboard", usd: c.alarms * p.alarmMonth + c.dashboards * p.dashboardMonth },
    { name: "egress to APIG", usd: (v * polls * c.egressBytesPerPoll * p.egressGb) / 1e9 },
  ];
  const total = lines.reduce((n, l) => n + l.usd, 0);
  // Step Functions Standard: Wait -> Task -> Choice per iteration, plus the start, a final
  // Choice and the notify Task; each Task a 128 MB Lambda of 200 ms. Its own API, logs and
  // alarms are left out, which favours it.
  const task = p.lambdaRequest + 0.2 * 0.125 * p.lambdaGbSecondArm;
  const sfn = (iterations: number) => v * ((3 * iterations + 3) * p.sfnStandardTransition + (iterations + 1) * task);
  return { watchesPerMonth: v, waited, lines, total, sfnMinute: sfn(Math.ceil(c.taskSeconds / 60)), sfnCadence: sfn(polls) };
}
