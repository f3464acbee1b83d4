/**
 * The Kubernetes test bed for e2e tests: one per test run, under the test root, started by the
 * first file that needs it and stopped by the global teardown (or by a file that restarts it).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { ensureTestbed, type TestbedState } from '../../scripts/testbed.js';

export function testbedDir(root = inject('testRoot')): string {
  return join(root, 'testbed');
}

export async function useTestbed(): Promise<TestbedState> {
  const dir = testbedDir();
  mkdirSync(dir, { recursive: true });
  return ensureTestbed(dir);
}

export {
  ADMIN_TOKEN,
  apply,
  kubeRequest,
  LIMITED_TOKEN,
  LIMITED_USER,
  restartApiserver,
  restartEtcd,
} from '../../scripts/testbed.js';
