/** The wait budget of one tool call: clients without progress get an answer in time. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ANSWER_MARGIN_MS, callAgain, waitBudgetMs, waitCapMs } from '../../src/domain/waits.js';

const env = { HOME: '/home/u', PATH: '/usr/bin' };

describe('wait budget', () => {
  it('by default, a call without a progressToken answers within 50 s, whatever it asked', () => {
    const { maxWaitMs } = loadConfig({}, env);
    const cap = waitCapMs(false, maxWaitMs);
    expect(cap).toBeDefined();
    for (const asked of [1_000, 45_000, 300_000, 3_600_000]) {
      const budget = waitBudgetMs(asked, cap);
      expect(budget).toBeLessThanOrEqual(asked);
      // The flow's budget plus the margin the port allows for its answer: the call's longest wait.
      expect(budget + ANSWER_MARGIN_MS).toBeLessThanOrEqual(50_000);
    }
  });

  it('with a progressToken, a call waits as long as asked', () => {
    const cap = waitCapMs(true, loadConfig({}, env).maxWaitMs);
    expect(cap).toBeUndefined();
    expect(waitBudgetMs(600_000, cap)).toBe(600_000);
  });

  it('spends one budget per call: what is left after earlier steps', () => {
    expect(waitBudgetMs(300_000, 45_000, 30_000)).toBe(15_000);
    expect(waitBudgetMs(300_000, 45_000, 60_000)).toBe(0);
    expect(waitBudgetMs(5_000, 45_000, 10_000)).toBe(5_000);
  });

  it('is set with --max-wait or RAY_MCP_MAX_WAIT, within bounds', () => {
    expect(loadConfig({ maxWait: '10' }, env).maxWaitMs).toBe(10_000);
    expect(loadConfig({}, { ...env, RAY_MCP_MAX_WAIT: '3' }).maxWaitMs).toBe(3_000);
    expect(() => loadConfig({ maxWait: '0' }, env)).toThrow(/--max-wait: max wait must be at least 1 s/);
  });

  it('says how to go on', () => {
    expect(callAgain('init_ray_cluster', 'cluster_name="a"')).toMatch(
      /goes on\. Call init_ray_cluster again with cluster_name="a"/,
    );
  });
});
