/**
 * Putting the Run Completed event (core/run-event.ts) on the default EventBridge bus, or, in a
 * local run, recording the exact PutEvents request in `<NIGHTSHIFT_LOCAL_EVENTS>/<runId>.json`.
 *
 * The AWS side goes through a PutEventsApi, so tests can answer as EventBridge does (failed entries
 * in a 200 answer) without an account.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { LOCAL_EVENTS_ENV, type PutEventsRequestEntry, type RunCompletedDetail } from '../core/run-event';

/** PutEvents' request and response, with the members the EventBridge API reference names. */
export interface PutEventsRequest {
  readonly Entries: readonly PutEventsRequestEntry[];
}

export interface PutEventsResponse {
  readonly FailedEntryCount?: number;
  /** One per request entry, in order: an EventId, or an ErrorCode and ErrorMessage. */
  readonly Entries?: readonly { readonly EventId?: string; readonly ErrorCode?: string; readonly ErrorMessage?: string }[];
}

export interface PutEventsApi {
  putEvents(request: PutEventsRequest): Promise<PutEventsResponse>;
}

/** An entry EventBridge did not accept (FailedEntryCount > 0), or no way to reach it. */
export class EventNotPut extends Error {
  override readonly name = 'EventNotPut';
}

/**
 * Puts the entries and returns their event ids. PutEvents answers 200 even when entries fail:
 * each failed entry carries ErrorCode and ErrorMessage, and FailedEntryCount counts them
 * (EventBridge user guide, "Sending events with PutEvents", Handling failures with PutEvents).
 */
export async function putEvents(api: PutEventsApi, entries: readonly PutEventsRequestEntry[]): Promise<string[]> {
  const response = await api.putEvents({ Entries: entries });
  const failed = (response.Entries ?? []).filter((e) => e.ErrorCode);
  if ((response.FailedEntryCount ?? 0) > 0 || failed.length > 0) {
    throw new EventNotPut(`PutEvents failed ${response.FailedEntryCount ?? failed.length} of ${entries.length} entries: ${failed.map((e) => `${e.ErrorCode}: ${e.ErrorMessage ?? ''}`).join('; ')}`);
  }
  return (response.Entries ?? []).map((e) => e.EventId ?? '');
}

/**
 * The local stand-in: writes the request, `{ "Entries": [...] }`, to `<dir>/<runId>.json` (the
 * run id read from the detail; written whole, then renamed into place) and answers as PutEvents
 * does for accepted entries.
 */
export function localEventsApi(dir: string): PutEventsApi {
  return {
    async putEvents(request) {
      mkdirSync(dir, { recursive: true });
      const runId = (JSON.parse(request.Entries[0]?.Detail ?? '{}') as Partial<RunCompletedDetail>).runId ?? 'unknown';
      const path = join(dir, `${runId}.json`);
      writeFileSync(`${path}.tmp`, `${JSON.stringify(request, null, 2)}\n`);
      renameSync(`${path}.tmp`, path);
      return { FailedEntryCount: 0, Entries: request.Entries.map((_, i) => ({ EventId: `local-${runId}-${i}` })) };
    },
  };
}

/** Where the functions put events: the local file when NIGHTSHIFT_LOCAL_EVENTS is set, else EventBridge. */
export function eventsApi(env: NodeJS.ProcessEnv): PutEventsApi {
  const local = env[LOCAL_EVENTS_ENV];
  if (local) return localEventsApi(local);
  const client = new EventBridgeClient({});
  // The wire form's Time is a timestamp; the SDK takes it as a Date.
  return { putEvents: (request) => client.send(new PutEventsCommand({ Entries: request.Entries.map(({ Time, ...entry }) => ({ ...entry, ...(Time ? { Time: new Date(Time) } : {}) })) })) };
}
