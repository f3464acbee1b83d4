import { describe, expect, it } from 'vitest';
import {
  eventsLine,
  hintFor,
  type RawKubeEvent,
  summarizeEvents,
  terminationEvents,
} from '../../src/domain/kube-events.js';
import { Redactor } from '../../src/domain/redact.js';

const ev = (o: Partial<RawKubeEvent> & { name: string; kind?: string }): RawKubeEvent => ({
  reason: o.reason ?? 'Scheduled',
  type: o.type ?? 'Normal',
  message: o.message ?? 'ok',
  count: o.count,
  involvedObject: { kind: o.kind ?? 'Pod', name: o.name },
  lastTimestamp: o.lastTimestamp ?? '2026-01-01T00:00:00Z',
});

describe('Kubernetes events', () => {
  it('dedupes by reason and object, sums counts, keeps the newest message and time, Warnings first', () => {
    const out = summarizeEvents([
      ev({ name: 'rc-head-x', reason: 'Pulled', lastTimestamp: '2026-01-01T00:00:09Z' }),
      ev({
        name: 'rc-gpu-worker-a',
        reason: 'FailedScheduling',
        type: 'Warning',
        count: 3,
        message: '0/1 nodes are available: 1 Insufficient cpu.',
        lastTimestamp: '2026-01-01T00:00:01Z',
      }),
      ev({
        name: 'rc-gpu-worker-a',
        reason: 'FailedScheduling',
        type: 'Warning',
        message: '0/1 nodes are available: 1 Insufficient nvidia.com/gpu.',
        lastTimestamp: '2026-01-01T00:00:05Z',
      }),
    ]);
    expect(out).toHaveLength(2);
    expect(out[0]).toEqual({
      reason: 'FailedScheduling',
      type: 'Warning',
      object: 'Pod/rc-gpu-worker-a',
      message: '«0/1 nodes are available: 1 Insufficient nvidia.com/gpu.»',
      count: 4,
      last_seen: '2026-01-01T00:00:05.000Z',
      hint: 'no node has the requested GPU: lower the GPU request or add a GPU node pool',
    });
    expect(out[1]).toMatchObject({ reason: 'Pulled', type: 'Normal', count: 1 });
    expect(out[1]!.hint).toBeUndefined();
    expect(eventsLine(out)).toBe(
      ' Event: FailedScheduling on Pod/rc-gpu-worker-a (x4) — no node has the requested GPU: lower the GPU request or add a GPU node pool.',
    );
  });

  it('keeps at most ten, Warnings before newer Normal events', () => {
    const raw = Array.from({ length: 30 }, (_, i) =>
      ev({ name: `p${i}`, reason: 'Started', lastTimestamp: `2026-01-01T00:00:${String(10 + i)}Z` }),
    );
    raw.push(ev({ name: 'old', reason: 'BackOff', type: 'Warning', lastTimestamp: '2025-01-01T00:00:00Z' }));
    const out = summarizeEvents(raw);
    expect(out).toHaveLength(10);
    expect(out[0]).toMatchObject({ reason: 'BackOff', object: 'Pod/old' });
    expect(out[1]!.object).toBe('Pod/p29');
  });

  it('gives hints for the common reasons', () => {
    expect(hintFor('FailedScheduling', '0/3 nodes are available: 3 Insufficient memory.')).toMatch(/memory/);
    expect(hintFor('FailedScheduling', 'node(s) had untolerated taint {x: y}')).toMatch(
      /selector|tolerations/,
    );
    expect(hintFor('BackOff', 'Back-off pulling image "rayproject/ray:nope"')).toMatch(/image/);
    expect(hintFor('BackOff', 'Back-off restarting failed container')).toMatch(/keeps exiting/);
    expect(hintFor('Unhealthy', 'Liveness probe failed')).toMatch(/probe/);
    expect(hintFor('FailedMount', 'secret "x" not found')).toMatch(/volume/);
    expect(hintFor('FailedCreate', 'exceeded quota: compute')).toMatch(/quota/);
    expect(hintFor('OOMKilled')).toMatch(/memory/);
    expect(hintFor('Created')).toBeUndefined();
  });

  it('turns OOMKilled terminations of containers into Warning events of their pod', () => {
    const raw = terminationEvents([
      {
        metadata: { name: 'rc-worker-1' },
        status: {
          containerStatuses: [
            {
              name: 'ray-worker',
              restartCount: 2,
              state: {},
              lastState: {
                terminated: { reason: 'OOMKilled', exitCode: 137, finishedAt: '2026-01-01T00:00:00Z' },
              },
            },
          ],
        },
      },
      { metadata: { name: 'rc-head' }, status: { containerStatuses: [{ name: 'ray-head', state: {} }] } },
    ]);
    const out = summarizeEvents(raw);
    expect(out).toEqual([
      expect.objectContaining({
        reason: 'OOMKilled',
        type: 'Warning',
        object: 'Pod/rc-worker-1',
        hint: expect.stringMatching(/memory limit/),
      }),
    ]);
    expect(out[0]!.message).toMatch(/ray-worker was killed for memory \(exit code 137\); restarts: 2/);
  });

  it('treats messages as untrusted: bounded, control characters dropped, secrets redacted, quoted', () => {
    const redactor = new Redactor();
    redactor.add('s3cr3t-token-value');
    const [e] = summarizeEvents(
      [
        ev({
          name: 'x',
          reason: 'Failed\u001b[31m',
          type: 'Warning',
          message: `pull failed: token s3cr3t-token-value \u001b[2J${'a'.repeat(2000)}`,
        }),
      ],
      { secrets: redactor },
    );
    expect(e!.reason).toBe('Failed31m');
    expect(e!.message).not.toContain('s3cr3t-token-value');
    expect(e!.message).not.toContain('\u001b');
    expect(e!.message.length).toBeLessThanOrEqual(242);
    expect(e!.message.startsWith('«')).toBe(true);
  });
});
