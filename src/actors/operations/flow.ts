import type { OperationInput, OperationOutput, Operations, OperationType } from '../../domain/operations.js';
import type { Ops } from './ops.js';

/** The flow of one operation: the steps a tool call takes, across actors. */
export type Flow<K extends OperationType> = (
  ops: Ops,
  input: OperationInput<K>,
) => Promise<OperationOutput<K>>;

export type FlowsOf<T extends Partial<Operations>> = { [K in keyof T & OperationType]: Flow<K> };
export type Flows = FlowsOf<Operations>;
