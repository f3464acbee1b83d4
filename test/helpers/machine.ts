/**
 * One harness for driving a machine in a unit test: start it (alone, or as the child of a small
 * parent that runs stand-ins next to it in the same system), send it commands with a generated
 * requestId, collect the `answer` events it emits, wait for an answer or a state, read its state,
 * context and children. Every actor `drive` starts is stopped after the test (vitest `afterEach`).
 *
 * The fakes a machine's invoked actors are swapped for stay in its test file: this knows nothing of
 * any one machine.
 */
import { afterEach } from 'vitest';
import {
  type ActorRefFrom,
  type AnyActorLogic,
  type AnyActorRef,
  type AnyEventObject,
  type AnyStateMachine,
  type ContextFrom,
  createActor,
  type EventFromLogic,
  type EventObject,
  fromCallback,
  type InputFrom,
  type InspectionEvent,
  type SnapshotFrom,
  setup,
  waitFor,
} from 'xstate';
import type { Answer } from '../../src/domain/commands.js';

/** How long `answered` and `until` wait before they fail the test, unless told otherwise. */
const DEFAULT_TIMEOUT_MS = 5000;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The commands a machine takes (its events that carry a requestId), as a test writes them: without
 * the requestId, nor the fields `stamp` fills in.
 */
export type CommandOf<TLogic extends AnyActorLogic, TStamped extends PropertyKey = never> = DistributiveOmit<
  Extract<EventFromLogic<TLogic>, { requestId: string }>,
  'requestId' | TStamped
>;

/** An actor the parent runs next to the machine under test. */
export interface Sibling {
  logic: AnyActorLogic;
  /** Registers it in the system, so the machine reaches it as it reaches its peers in ray-mcp. */
  systemId?: string;
  input?: unknown;
}

export interface DriveOptions<TLogic extends AnyStateMachine, TStamp extends object, TState> {
  input?: InputFrom<TLogic>;
  /** The machine's systemId (as the supervisor gives it), so `system.get` finds it. */
  systemId?: string;
  /**
   * Run the machine as the child of a parent that records every event it is sent (`toParent`), and
   * first starts the `siblings` (by invoke id) in the same system.
   */
  parent?: true | { siblings?: Record<string, Sibling> };
  /** Fields every command `send` sends gets, so a test need not write them (e.g. a dashboard). */
  stamp?: TStamp;
  /** What `state()` answers: the machine's own status of a snapshot; its state value otherwise. */
  stateOf?: (snapshot: SnapshotFrom<TLogic>) => TState;
  /** Passed to createActor: sees every event, actor and transition in the system. */
  inspect?: (event: InspectionEvent) => void;
  /** What `answered` and `until` wait at the most (ms). */
  timeout?: number;
}

export interface Driven<
  TLogic extends AnyStateMachine,
  TStamp extends object = Record<never, never>,
  TState = SnapshotFrom<TLogic>['value'],
> {
  /** The machine under test. */
  actor: ActorRefFrom<TLogic>;
  /** The actor `drive` started: the parent, or the machine itself when it runs alone. */
  root: AnyActorRef;
  /** Every answer the machine emitted, in order. */
  answers: Answer[];
  /** Every event the parent was sent (with `parent`), in order: sendParent's, done and error events. */
  toParent: AnyEventObject[];
  /** Sends a command with a fresh requestId (`<type>#<n>`) and returns that id. */
  send(command: CommandOf<TLogic, keyof TStamp>): string;
  /** Sends a command and resolves with its answer. */
  ask(command: CommandOf<TLogic, keyof TStamp>): Promise<Answer>;
  /** The answer to a request so far, if any. */
  answerTo(requestId: string): Answer | undefined;
  /** Resolves with the answer to a request, at once if it is in; fails after `timeout` ms. */
  answered(requestId: string, timeout?: number): Promise<Answer>;
  /** Resolves with the first snapshot (the current one included) that satisfies `predicate`. */
  until(
    predicate: (snapshot: SnapshotFrom<TLogic>) => boolean,
    timeout?: number,
  ): Promise<SnapshotFrom<TLogic>>;
  snapshot(): SnapshotFrom<TLogic>;
  /** `stateOf(snapshot)`, or the snapshot's state value. */
  state(): TState;
  context(): ContextFrom<TLogic>;
  /** The machine's children now, by id (a stopped child is gone from it). */
  children(): Record<string, AnyActorRef | undefined>;
  /** The actor registered under `systemId` in the machine's system. */
  lookup(systemId: string): AnyActorRef | undefined;
  /** Lets pending promises and timers of 0 ms run. */
  settle(): Promise<void>;
}

const roots: AnyActorRef[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) root.stop();
});

/** Starts `logic` (alone, or under a parent) and returns the handles to drive and read it. */
export function drive<
  TLogic extends AnyStateMachine,
  TStamp extends object = Record<never, never>,
  TState = SnapshotFrom<TLogic>['value'],
>(logic: TLogic, options: DriveOptions<TLogic, TStamp, TState> = {}): Driven<TLogic, TStamp, TState> {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  const toParent: AnyEventObject[] = [];
  let root: AnyActorRef;
  let actor: AnyActorRef;
  let answers: Answer[];
  if (options.parent) {
    const siblings = options.parent === true ? {} : (options.parent.siblings ?? {});
    const actors: Record<string, AnyActorLogic> = { subject: logic };
    for (const [id, sibling] of Object.entries(siblings)) actors[id] = sibling.logic;
    const host = setup({ actors }).createMachine({
      // The siblings first: the machine may reach them as soon as it starts.
      invoke: [
        ...Object.entries(siblings).map(([id, s]) => ({ id, src: id, systemId: s.systemId, input: s.input })),
        { id: 'subject', src: 'subject', systemId: options.systemId, input: options.input },
      ],
      on: { '*': { actions: ({ event }: { event: AnyEventObject }) => void toParent.push(event) } },
    });
    root = createActor(host, { inspect: options.inspect }).start();
    roots.push(root);
    actor = (root.getSnapshot() as { children: Record<string, AnyActorRef> }).children.subject!;
    answers = answersOf(actor);
  } else {
    root = createActor(logic, { input: options.input, systemId: options.systemId, inspect: options.inspect });
    roots.push(root);
    actor = root;
    answers = answersOf(actor);
    root.start();
  }

  let n = 0;
  const send = (command: CommandOf<TLogic, keyof TStamp>) => {
    const requestId = `${(command as unknown as { type: string }).type}#${++n}`;
    actor.send({ ...options.stamp, ...command, requestId });
    return requestId;
  };
  const answerTo = (requestId: string) => answers.find((a) => a.requestId === requestId);
  const answered = (requestId: string, ms = timeout) =>
    new Promise<Answer>((resolve, reject) => {
      const early = answerTo(requestId);
      if (early) return resolve(early);
      const sub = actor.on('answer', (a: Answer) => {
        if (a.requestId !== requestId) return;
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(a);
      });
      const timer = setTimeout(() => {
        sub.unsubscribe();
        const value = JSON.stringify((actor.getSnapshot() as { value?: unknown }).value);
        reject(new Error(`no answer to ${requestId} within ${ms} ms (the actor is in ${value})`));
      }, ms);
    });
  const snapshot = () => actor.getSnapshot() as SnapshotFrom<TLogic>;
  return {
    actor: actor as ActorRefFrom<TLogic>,
    root,
    answers,
    toParent,
    send,
    ask: (command) => answered(send(command)),
    answerTo,
    answered,
    until: (predicate, ms = timeout) =>
      waitFor(actor, (s) => predicate(s as SnapshotFrom<TLogic>), { timeout: ms }) as Promise<
        SnapshotFrom<TLogic>
      >,
    snapshot,
    state: () =>
      (options.stateOf ? options.stateOf(snapshot()) : (snapshot() as { value: unknown }).value) as TState,
    context: () => (snapshot() as { context: ContextFrom<TLogic> }).context,
    children: () => (snapshot() as { children: Record<string, AnyActorRef | undefined> }).children,
    lookup: (systemId) => actor.system.get(systemId),
    settle,
  };
}

/** Collects the answers an actor emits from now on (for actors a machine spawns). */
export function answersOf(actor: AnyActorRef): Answer[] {
  const answers: Answer[] = [];
  actor.on('answer', (a: Answer) => answers.push(a));
  return answers;
}

/** A stand-in actor that records every event it is sent, in order. */
export function recorder<E extends EventObject>() {
  const heard: E[] = [];
  const logic = fromCallback<E>(({ receive }) => {
    receive((event) => heard.push(event));
  });
  return { logic, heard };
}

/** Lets pending promises and timers of 0 ms run. */
export const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The ok answer to a command that answers no data. */
export const ok = (requestId: string): Answer => ({ type: 'answer', requestId, ok: true });

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A promise the test settles when it wants to. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
