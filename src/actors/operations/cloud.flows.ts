import type { CloudOperations } from '../../domain/operations/cloud.js';
import type { FlowsOf } from './flow.js';

export const cloudFlows: FlowsOf<CloudOperations> = {};
