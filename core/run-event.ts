/**
 * The event every run ends with (issue 28, "Change feed"): put on the account's default
 * EventBridge bus so that an application can subscribe to what changed last night with a rule
 * matching `{ "source": ["nightshift"], "detail-type": ["Run Completed"] }`.
 */

/** `Source` and `DetailType` of the PutEvents entry. The stack scopes the emitting role's events:PutEvents to exactly these. */
export const RUN_COMPLETED_EVENT = { source: 'nightshift', detailType: 'Run Completed' } as const;

/** The event's `detail` (JSON): what the run was, how it ended, and where its change feed is. */
export interface RunCompletedDetail {
  readonly runId: string;
  /** The report's status, or `FAILED` when the run ended in NotifyFailure. */
  readonly status: 'SUCCEEDED' | 'COMPLETED_WITH_FAILURES' | 'NOTHING_TO_DO' | 'FAILED';
  /** Originals whose record changed, by change (`added`, `updated`, `removed`, `failed`), as the feed counts them. */
  readonly counts: Readonly<Record<string, number>>;
  /** The change feed, `runs/<runId>/changes.jsonl` in the work bucket; absent when the run wrote none. */
  readonly changes?: { readonly bucket: string; readonly key: string };
}
