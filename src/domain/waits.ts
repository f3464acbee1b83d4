/**
 * How long one tool call may wait. Some clients cut every call at about 60 s (Claude Desktop) and
 * most send no progress; a call whose client sent a progressToken gets progress at least every few
 * seconds and may wait as long as it asked. Decided once per call at the MCP edge.
 */

/** Longest wait of a call: unbounded (as asked) with a progressToken, else at most `maxWaitMs`. */
export function waitCapMs(hasProgressToken: boolean, maxWaitMs: number): number | undefined {
  return hasProgressToken ? undefined : maxWaitMs;
}

/** What a flow may wait for something it would wait `askedMs` for, `elapsedMs` into the call. */
export function waitBudgetMs(askedMs: number, capMs: number | undefined, elapsedMs = 0): number {
  if (capMs === undefined) return askedMs;
  return Math.max(0, Math.min(askedMs, capMs - elapsedMs));
}

/** Past the flow's budget, the answer may take this long before the call itself gives up. */
export const ANSWER_MARGIN_MS = 5000;

/** The note of an init_ray_cluster call that found its cluster already started by an earlier call. */
export const ALREADY_STARTED = 'Already started by an earlier call with this name; nothing new was started.';

/** What a result says when its wait ended before the work did: how to go on. */
export function callAgain(tool: string, args: string): string {
  return `Still in progress; the work goes on. Call ${tool} again with ${args} to keep waiting.`;
}
