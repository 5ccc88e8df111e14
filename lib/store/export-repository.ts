/**
 * The {@link ExportStore} on DynamoDB: an export's compressed document in
 * chunk items beside its watch, in the same partition (`pk` = `T#<tenant>`,
 * `sk` = `E#<task_id>#0000`, ...; an import result's lists `R#<task_id>#0000`). No `due_shard` or `created_key`: chunks
 * enter neither index. `expires_at` is the watch's own, so DynamoDB TTL
 * removes both after the retention, whatever deleted the watch first.
 */
import { BatchGetCommand, type DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { StoreError } from "../domain/errors";
import type { ExportStore, PartKind } from "../app/exports";
import type { Watch } from "../domain/watch";
import { expiresAtOf, pkOf } from "./item-codec";

/** `E`: an export's document; `R`: an import result's lists (`app/import-lists.ts`). */
const skOf = (taskId: string, i: number, kind: PartKind = "E") => `${kind}#${taskId}#${String(i).padStart(4, "0")}`;

/** Export chunks in the watches' table. The client is passed in, never built here. */
export class DynamoExportStore implements ExportStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly opts: { tableName: string; retentionDays: number },
  ) {}

  expiresAt(w: Pick<Watch, "finished_at" | "updated_at">): number {
    return expiresAtOf(w, this.opts.retentionDays);
  }

  /** Plain puts: writing the same chunks again (a writer that lost the race) changes nothing. */
  async put(w: Pick<Watch, "tenant" | "task_id" | "finished_at" | "updated_at">, chunks: readonly Uint8Array[], kind?: PartKind): Promise<void> {
    const expires_at = expiresAtOf(w, this.opts.retentionDays);
    await Promise.all(
      chunks.map((data, i) =>
        this.db.send(
          new PutCommand({
            TableName: this.opts.tableName,
            Item: { pk: pkOf(w.tenant), sk: skOf(w.task_id, i, kind), part: i, data, expires_at },
          }),
        ),
      ),
    );
  }

  /**
   * The chunks of a watch's document, by their exact keys (BatchGetItem,
   * consistent: both roles already hold it, and no Query reaches a tenant's
   * partition). Missing ones are absent from the answer.
   */
  async get(tenant: string, taskId: string, chunks: number, kind?: PartKind): Promise<Array<{ index: number; data: Uint8Array }>> {
    const out: Array<{ index: number; data: Uint8Array }> = [];
    const keys = Array.from({ length: chunks }, (_, i) => ({ pk: pkOf(tenant), sk: skOf(taskId, i, kind) }));
    // 40 chunks of 256 KiB stay below BatchGetItem's 16 MB answer.
    for (let at = 0; at < keys.length; at += 40) {
      let pending: Array<Record<string, unknown>> = keys.slice(at, at + 40);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 6) throw new StoreError(`BatchGetItem left ${pending.length} export chunks unprocessed`);
        if (attempt > 0) await new Promise((ok) => setTimeout(ok, Math.min(1_000, 25 * 2 ** attempt)));
        const res = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.opts.tableName]: { Keys: pending, ConsistentRead: true } } }),
        );
        for (const it of res.Responses?.[this.opts.tableName] ?? []) {
          // Anything else under the key is not a chunk: the reader's check of the whole finds what is missing.
          if (typeof it.part === "number" && it.data instanceof Uint8Array) out.push({ index: it.part, data: it.data });
        }
        pending = res.UnprocessedKeys?.[this.opts.tableName]?.Keys ?? [];
      }
    }
    return out;
  }
}
