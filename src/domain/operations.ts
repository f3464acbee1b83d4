/**
 * Tool requests as the actors see them: each tool sends one operation (a type and the tool's
 * validated input) and gets one typed answer. The flows behind them live in src/actors/operations;
 * each family declares its own map here, and `Operations` is their union.
 */
import type { CloudOperations } from './operations/cloud.js';
import type { ClusterOperations } from './operations/clusters.js';
import type { JobOperations } from './operations/jobs.js';
import type { KubernetesOperations } from './operations/kubernetes.js';
import type { ServeOperations } from './operations/serve.js';

/** Operation type → { input; output }. */
export interface Operations
  extends ClusterOperations,
    JobOperations,
    KubernetesOperations,
    CloudOperations,
    ServeOperations {}

export type OperationType = keyof Operations;
export type OperationInput<K extends OperationType> = Operations[K]['input'];
export type OperationOutput<K extends OperationType> = Operations[K]['output'];

export type Operation = { [K in OperationType]: { type: K; input: OperationInput<K> } }[OperationType];

/** What a request reports while it runs (MCP progress notifications, when the client asked). */
export interface OperationProgress {
  progress: number;
  total?: number;
  message?: string;
}
