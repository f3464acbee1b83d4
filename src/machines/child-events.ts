/**
 * The events XState sends a parent about its children, as types a machine can add to its event
 * union: then an `'xstate.error.actor.*'` / `'xstate.done.actor.*'` handler is typed like any other
 * (XState types only the `onDone` / `onError` of an invoke, not these wildcards).
 */

/** A child actor failed (XState's ErrorActorEvent). */
export type ChildErrorEvent = { type: `xstate.error.actor.${string}`; error: unknown; actorId: string };

/** A child actor finished with its output (XState's DoneActorEvent). */
export type ChildDoneEvent = { type: `xstate.done.actor.${string}`; output: unknown; actorId: string };

/** Params of an action or guard that reads the error of an invoked or child actor. */
export const errorOf = ({ event }: { event: { error: unknown } }) => ({ error: event.error });
