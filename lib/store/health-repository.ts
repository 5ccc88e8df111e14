/**
 * The {@link HealthStore} on the watch table: `health` items (pk `health`),
 * one per region (`sk` = `region#<id>`) and one for the poller's last run.
 * They carry no index keys, so the poller and listings never see them.
 */
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import * as z from "../domain/zod";
import type { HealthStore, RegionHealthRecord } from "../app/ports";

export const HEALTH_PK = "health";

const regionItem = z.object({
  region: z.string(),
  credential_set: z.optional(z.string()),
  last_ok_at: z.nullable(z.string()),
  last_fault_at: z.nullable(z.string()),
  last_code: z.nullable(z.string()),
  last_http_status: z.nullable(z.number()),
  updated_at: z.string(),
});
const pollerItem = z.object({ run_at: z.string() });

export class DynamoHealthStore implements HealthStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async putRegion(r: RegionHealthRecord): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: { pk: HEALTH_PK, sk: `region#${r.region}${r.credential_set === undefined ? "" : `#${r.credential_set}`}`, ...r } }));
  }

  async putPollerRun(at: string): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: { pk: HEALTH_PK, sk: "poller", run_at: at } }));
  }

  async read(): Promise<{ pollerRunAt: string | null; regions: RegionHealthRecord[] }> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": HEALTH_PK },
        ConsistentRead: true,
      }),
    );
    let pollerRunAt: string | null = null;
    const regions: RegionHealthRecord[] = [];
    for (const it of out.Items ?? []) {
      if (it.sk === "poller") {
        const p = pollerItem.safeParse(it);
        if (p.success) pollerRunAt = p.data.run_at;
      } else {
        const r = regionItem.safeParse(it);
        if (r.success) regions.push(r.data);
      }
    }
    return { pollerRunAt, regions };
  }
}
