import { afterEach, describe, expect, it } from 'vitest';
import { createActor, emit, setup } from 'xstate';
import { RaySystem } from '../../src/actors/system.js';
import { loadConfig } from '../../src/config.js';
import { type Answer, answerError, answerOk } from '../../src/domain/commands.js';
import { RayMcpError } from '../../src/domain/errors.js';
import { createLogger } from '../../src/logger.js';

const config = loadConfig(
  { requestTimeout: '1', rayBin: '/nonexistent/ray', dataDir: '/nonexistent/ray-mcp-data' },
  { HOME: '/tmp', PATH: '' },
);
const log = createLogger({ logLevel: 'silent' });

type Cmd =
  | { type: 'ping'; requestId: string }
  | { type: 'refuse'; requestId: string }
  | { type: 'ignore'; requestId: string }
  | { type: 'quit'; requestId: string };

const target = setup({
  types: { events: {} as Cmd, emitted: {} as Answer, context: {} as { pings: number } },
}).createMachine({
  context: { pings: 0 },
  initial: 'on',
  states: {
    on: {
      on: {
        ping: {
          actions: [
            ({ context }) => {
              context.pings++;
            },
            emit(({ event }) => answerOk(event.requestId)),
          ],
        },
        refuse: {
          actions: emit(({ event }) =>
            answerError(event.requestId, { code: 'conflict', message: 'no', fix: 'ask nicely' }),
          ),
        },
        quit: 'off',
      },
    },
    off: { type: 'final' },
  },
});

let system: RaySystem;
afterEach(() => system?.shutdown('test'));

describe('RaySystem.ask', () => {
  it('resolves with the snapshot once the target answers its requestId', async () => {
    system = await RaySystem.create({ config, log });
    const actor = createActor(target).start();
    const snapshot = await system.ask(actor, { type: 'ping' });
    expect(snapshot.context.pings).toBe(1);
  });

  it('turns a refusal into a RayMcpError carrying the fix', async () => {
    system = await RaySystem.create({ config, log });
    const actor = createActor(target).start();
    const err = await system.ask(actor, { type: 'refuse' }).catch((e) => e);
    expect(err).toBeInstanceOf(RayMcpError);
    expect(err).toMatchObject({ code: 'conflict', message: 'no', fix: 'ask nicely' });
  });

  it('fails with a timeout error that says what to do', async () => {
    system = await RaySystem.create({ config, log });
    const actor = createActor(target).start();
    const err = await system.ask(actor, { type: 'ignore' }, { timeoutMs: 50 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'timeout' });
    expect(err.message).toMatch(/ignore got no answer/);
  });

  it('fails when the target stops before answering', async () => {
    system = await RaySystem.create({ config, log });
    const actor = createActor(target).start();
    const err = await system.ask(actor, { type: 'quit' }).catch((e) => e);
    expect(err).toMatchObject({ code: 'unavailable' });
  });

  it('refuses new requests once shutting down', async () => {
    system = await RaySystem.create({ config, log });
    await system.shutdown('test');
    const err = await system.ask(createActor(target).start(), { type: 'ping' }).catch((e) => e);
    expect(err).toMatchObject({ code: 'shutting_down' });
  });
});
