/**
 * Which tool calls go to the audit log, and the line each becomes. A call is audited when its tool
 * changes something: every tool without readOnlyHint (start, stop, scale, submit, cancel, create,
 * connect), plus the tools that are read-only for the world but change what ray-mcp may do next
 * (authenticate and disconnect a cloud provider).
 */
import { type AuditOutcome, type AuditSink, auditTarget, outcomeOf, scrubArgs } from '../domain/audit.js';
import type { AnyToolDefinition } from './tools/tool.js';

/** Read-only by annotation, audited anyway: they change ray-mcp's own credentials. */
const AUDITED_READ_ONLY: readonly string[] = ['authenticate_cloud_provider', 'disconnect_cloud_provider'];

export const isAudited = (tool: Pick<AnyToolDefinition, 'name' | 'annotations'>): boolean =>
  !tool.annotations.readOnlyHint || AUDITED_READ_ONLY.includes(tool.name);

/** Records one finished call; `answer` (the structured result) completes the target. */
export function auditCall(
  sink: AuditSink | undefined,
  call: { tool: string; args: unknown; started: number },
  result: { answer: unknown } | { code: string; message: string },
): void {
  if (!sink) return;
  const outcome: AuditOutcome =
    'answer' in result ? { result: 'ok' } : outcomeOf(result.code, result.message);
  sink.record({
    time: new Date().toISOString(),
    tool: call.tool,
    target: auditTarget(call.args, 'answer' in result ? result.answer : undefined),
    args: scrubArgs(call.args),
    outcome,
    ms: Date.now() - call.started,
  });
}
