/**
 * The flows behind the tools, run as supervised request actors (`request:<id>`, children of the
 * supervisor): one per tool call, aborted when the caller gives up, its output the call's answer.
 */
import { fromPromise } from 'xstate';
import type { Config } from '../../config.js';
import type { Operation } from '../../domain/operations.js';
import { cloudFlows } from './cloud.flows.js';
import { clusterFlows } from './clusters.flows.js';
import type { Flow, Flows } from './flow.js';
import { jobFlows } from './jobs.flows.js';
import { kubernetesFlows } from './kubernetes.flows.js';
import { Ops } from './ops.js';
import { serveFlows } from './serve.flows.js';

export const FLOWS: Flows = {
  ...clusterFlows,
  ...jobFlows,
  ...kubernetesFlows,
  ...cloudFlows,
  ...serveFlows,
};

export function operationLogic(config: Config, flows: Flows = FLOWS) {
  return fromPromise<unknown, { requestId: string; operation: Operation; capMs?: number }>(
    async ({ input, system, signal }) => {
      const ops = new Ops(system, config, input.requestId, signal, input.capMs);
      const { type, input: args } = input.operation as { type: Operation['type']; input: never };
      return (flows[type] as Flow<Operation['type']>)(ops, args);
    },
  );
}
