/**
 * The {@link SubscriptionRepository} on the watch table: one item per
 * subscription (pk `SUB#<tenant>`, sk `SUB#<name>`), written with a single
 * conditional put or delete (dynalite has no transactions, and none is
 * needed). The items carry no index keys, so the poller and `GET /tasks`
 * never see them.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, QueryCommand, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { SubscriptionRepository } from "../app/subscriptions";
import { labelPairs } from "../domain/labels";
import { Subscription } from "../domain/subscription";

const pkOf = (tenant: string) => `SUB#${tenant}`;
const skOf = (name: string) => `SUB#${name}`;

/** A subscription as an item: labels as pairs, since label names may be anything (see `domain/labels.ts`). */
function toItem(s: Subscription): Record<string, unknown> {
  const { labels, ...match } = s.match;
  return {
    pk: pkOf(s.tenant),
    sk: skOf(s.name),
    ...s,
    match: { ...match, ...(labels !== undefined ? { labels: labelPairs(labels) } : {}) },
  };
}

function fromItem(item: Record<string, unknown>): Subscription {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return Subscription.parse(rest);
}

export class DynamoSubscriptionRepository implements SubscriptionRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Told about stored items that do not parse (skipped, never a 500). */
    private readonly onMalformed?: (key: string, problem: string) => void,
  ) {}

  async create(sub: Subscription): Promise<{ created: true } | { created: false; existing: Subscription }> {
    try {
      await this.db.send(new PutCommand({ TableName: this.tableName, Item: toItem(sub), ConditionExpression: "attribute_not_exists(pk)" }));
      return { created: true };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    const out = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: pkOf(sub.tenant), sk: skOf(sub.name) }, ConsistentRead: true }),
    );
    // Deleted between the two calls: try once more as new.
    if (!out.Item) return this.create(sub);
    return { created: false, existing: fromItem(out.Item) };
  }

  async list(tenant: string): Promise<Subscription[]> {
    const subs: Subscription[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": pkOf(tenant) },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of out.Items ?? []) {
        try {
          subs.push(fromItem(item));
        } catch (err) {
          this.onMalformed?.(`${String(item.pk)}/${String(item.sk)}`, err instanceof Error ? err.message.slice(0, 300) : "unparsable");
        }
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return subs;
  }

  async delete(tenant: string, name: string): Promise<boolean> {
    try {
      await this.db.send(
        new DeleteCommand({ TableName: this.tableName, Key: { pk: pkOf(tenant), sk: skOf(name) }, ConditionExpression: "attribute_exists(pk)" }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}
