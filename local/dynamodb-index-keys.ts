/**
 * An empty string (or binary) as a secondary index's key value, refused as DynamoDB refuses it and
 * dynalite 4 does not (dynalite accepts it, then lists the item under '': architect/dynalite#184).
 * DynamoDB developer guide, "Supported data types and naming rules" (String and Binary key
 * attributes of a table or index must have a length greater than zero). DynamoDB answers HTTP 400
 * ValidationException, the whole request refused (a transaction too, before any reason per
 * action), with the message
 *
 *   One or more parameter values are not valid. A value specified for a secondary index key is not
 *   supported. The AttributeValue for a key attribute cannot contain an empty string value.
 *   IndexName: folder-key, IndexKey: folder
 *
 * for a PutItem, BatchWriteItem or TransactWriteItems item and for a Query of the index alike.
 * Part of local/dynamodb-layer.ts.
 */

type Json = Record<string, unknown>;
type AttributeValue = Record<string, unknown>;

/** One secondary index of a table: its name and key attributes (hash first). */
export interface IndexSchema {
  readonly name: string;
  readonly keys: readonly string[];
}

/** The operations whose requests carry index key values. */
export const INDEX_KEY_OPERATIONS: ReadonlySet<string> = new Set(['PutItem', 'BatchWriteItem', 'TransactWriteItems', 'Query']);

/** The tables a request of `op` writes or queries (whose indexes the check needs). */
export function tablesOf(op: string, request: Json): string[] {
  if (op === 'BatchWriteItem') return Object.keys((request.RequestItems as Json | undefined) ?? {});
  if (op === 'TransactWriteItems') return putsOf(op, request).map((p) => p.table);
  return typeof request.TableName === 'string' ? [request.TableName] : [];
}

/** The ValidationException message for an empty index key value in the request, or undefined. */
export function emptyIndexKeyMessage(op: string, request: Json, indexesOf: (table: string) => readonly IndexSchema[]): string | undefined {
  if (op === 'Query') return emptyInQuery(request, indexesOf(String(request.TableName)));
  for (const { table, item } of putsOf(op, request)) {
    for (const index of indexesOf(table)) {
      const key = index.keys.find((k) => isEmpty(item[k] as AttributeValue | undefined));
      if (key !== undefined) return message(index.name, key, item[key] as AttributeValue);
    }
  }
  return undefined;
}

/** The items a request puts, with their tables. */
function putsOf(op: string, request: Json): { table: string; item: Json }[] {
  if (op === 'PutItem') return [{ table: String(request.TableName), item: (request.Item as Json | undefined) ?? {} }];
  if (op === 'BatchWriteItem') {
    return Object.entries((request.RequestItems as Record<string, Json[]> | undefined) ?? {}).flatMap(([table, writes]) =>
      (Array.isArray(writes) ? writes : []).flatMap((w) => ((w.PutRequest as Json | undefined)?.Item ? [{ table, item: (w.PutRequest as Json).Item as Json }] : [])),
    );
  }
  if (op === 'TransactWriteItems') {
    return (Array.isArray(request.TransactItems) ? (request.TransactItems as Json[]) : []).flatMap((t) => {
      const put = t.Put as Json | undefined;
      return put?.Item ? [{ table: String(put.TableName), item: put.Item as Json }] : [];
    });
  }
  return [];
}

/** A Query of an index whose key condition compares an index key with an empty value. */
function emptyInQuery(request: Json, indexes: readonly IndexSchema[]): string | undefined {
  const index = indexes.find((i) => i.name === request.IndexName);
  const condition = request.KeyConditionExpression;
  if (!index || typeof condition !== 'string') return undefined;
  const names = (request.ExpressionAttributeNames as Record<string, string> | undefined) ?? {};
  const values = (request.ExpressionAttributeValues as Record<string, AttributeValue> | undefined) ?? {};
  // `name <op> :value` and `begins_with(name, :value)`, the forms a key condition takes.
  for (const m of condition.matchAll(/([#\w.]+)\s*(?:=|<=|>=|<|>|,)\s*(:\w+)/g)) {
    const attribute = names[m[1]!] ?? m[1]!;
    const value = values[m[2]!];
    if (index.keys.includes(attribute) && isEmpty(value)) return message(index.name, attribute, value!);
  }
  return undefined;
}

function isEmpty(value: AttributeValue | undefined): boolean {
  return value !== undefined && (value.S === '' || value.B === '');
}

const message = (index: string, key: string, value: AttributeValue) =>
  `One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty ${value.S === '' ? 'string' : 'binary'} value. IndexName: ${index}, IndexKey: ${key}`;

/** The check with each table's indexes as DescribeTable gives them, remembered until a table changes. */
export class IndexKeys {
  private readonly schemas = new Map<string, IndexSchema[]>();

  /** `describe`: DescribeTable's `Table`, or undefined when there is none (dynalite then answers the request itself). */
  constructor(private readonly describe: (table: string) => Promise<Json | undefined>) {}

  /** After CreateTable, DeleteTable or UpdateTable. */
  forget(): void {
    this.schemas.clear();
  }

  /** The ValidationException message for an empty index key value in the request, or undefined. */
  async refusal(op: string, request: Json): Promise<string | undefined> {
    const known = new Map<string, IndexSchema[]>();
    for (const table of tablesOf(op, request)) known.set(table, await this.indexesOf(table));
    return emptyIndexKeyMessage(op, request, (table) => known.get(table) ?? []);
  }

  private async indexesOf(table: string): Promise<IndexSchema[]> {
    const cached = this.schemas.get(table);
    if (cached) return cached;
    const t = (await this.describe(table)) as { GlobalSecondaryIndexes?: Json[]; LocalSecondaryIndexes?: Json[] } | undefined;
    if (!t) return [];
    const indexes = [...(t.GlobalSecondaryIndexes ?? []), ...(t.LocalSecondaryIndexes ?? [])].map((i) => ({
      name: String(i.IndexName),
      keys: (i.KeySchema as { AttributeName: string }[]).map((k) => k.AttributeName),
    }));
    this.schemas.set(table, indexes);
    return indexes;
  }
}
