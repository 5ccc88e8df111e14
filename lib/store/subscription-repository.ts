/**
 * The {@link SubscriptionRepository} on the watch table: all of a tenant's
 * subscriptions in one item (pk `SUB#<tenant>`, sk `subscriptions`), so the
 * poller reads them with one GetItem when a watch ends, and every change is a
 * single conditional PutItem on the version read (dynalite has no
 * transactions, and none is needed). The roles need no grant beyond the
 * GetItem and PutItem they have; the item carries no index keys, so the due
 * index and `GET /tasks` never see it.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { MAX_SUBSCRIPTIONS, SubscriptionBusyError, type SubscriptionRepository } from "../app/subscriptions";
import { labelPairs } from "../domain/labels";
import { Subscription } from "../domain/subscription";
import * as z from "../domain/zod";

const pkOf = (tenant: string) => `SUB#${tenant}`;
const SK = "subscriptions";
/** Tries of a change that keeps losing to concurrent changes of the same tenant. */
const TRIES = 5;

const Item = z.object({ version: z.int(), subscriptions: z.array(z.unknown()) });

/** A subscription as stored: labels as pairs, since label names may be anything (see `domain/labels.ts`). */
function encode(s: Subscription): Record<string, unknown> {
  const { labels, ...match } = s.match;
  return { ...s, match: { ...match, ...(labels !== undefined ? { labels: labelPairs(labels) } : {}) } };
}

export class DynamoSubscriptionRepository implements SubscriptionRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Told about stored subscriptions that do not parse (skipped, never a 500). */
    private readonly onMalformed?: (key: string, problem: string) => void,
  ) {}

  /** The tenant's subscriptions and the version they were read at (0: no item yet). */
  private async read(tenant: string): Promise<{ version: number; subs: Subscription[] }> {
    const out = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { pk: pkOf(tenant), sk: SK }, ConsistentRead: true }));
    if (!out.Item) return { version: 0, subs: [] };
    const item = Item.parse(out.Item);
    const subs: Subscription[] = [];
    for (const raw of item.subscriptions) {
      const s = Subscription.safeParse(raw);
      if (s.success) subs.push(s.data);
      else this.onMalformed?.(`${pkOf(tenant)}/${SK}`, s.error.message.slice(0, 300));
    }
    return { version: item.version, subs };
  }

  /** Write the whole list if nobody changed it since `version`; false when someone did. */
  private async write(tenant: string, version: number, subs: Subscription[]): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: pkOf(tenant), sk: SK, version: version + 1, subscriptions: subs.map(encode) },
          ConditionExpression: version === 0 ? "attribute_not_exists(pk)" : "version = :v",
          ...(version === 0 ? {} : { ExpressionAttributeValues: { ":v": version } }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async create(sub: Subscription): Promise<{ created: true } | { created: false; existing: Subscription } | { created: false; full: true }> {
    for (let i = 0; i < TRIES; i++) {
      const { version, subs } = await this.read(sub.tenant);
      const existing = subs.find((s) => s.name === sub.name);
      if (existing) return { created: false, existing };
      if (subs.length >= MAX_SUBSCRIPTIONS) return { created: false, full: true };
      if (await this.write(sub.tenant, version, [...subs, sub].sort((a, b) => (a.name < b.name ? -1 : 1)))) return { created: true };
    }
    throw new SubscriptionBusyError("subscriptions kept changing; try again");
  }

  async list(tenant: string): Promise<Subscription[]> {
    return (await this.read(tenant)).subs;
  }

  async delete(tenant: string, name: string): Promise<boolean> {
    for (let i = 0; i < TRIES; i++) {
      const { version, subs } = await this.read(tenant);
      if (!subs.some((s) => s.name === name)) return false;
      if (await this.write(tenant, version, subs.filter((s) => s.name !== name))) return true;
    }
    throw new SubscriptionBusyError("subscriptions kept changing; try again");
  }
}
