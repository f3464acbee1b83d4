/**
 * What a tool is: a name, a description written for a model, zod input and output schemas,
 * annotations, and a handler that sends one operation to the actor system (`run`) and maps its
 * answer to a compact result. Handlers throw RayMcpError for anything the user can act on.
 */
import type { ToolAnnotations } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import type { RunOptions, ToolPort } from '../../actors/port.js';
import type { Toolset } from '../../config.js';
import type { OperationInput, OperationOutput, OperationType } from '../../domain/operations.js';
import type { Logger } from '../../logger.js';

export interface ToolResult<T> {
  structured: T;
  /** One short line for the model; the structured result carries the detail. */
  text: string;
}

export interface ToolContext {
  /** Runs one operation with the call's signal, its progress going to the client. */
  run<K extends OperationType>(
    type: K,
    input: OperationInput<K>,
    options?: Pick<RunOptions, 'timeoutMs'>,
  ): Promise<OperationOutput<K>>;
  port: ToolPort;
  log: Logger;
  /** Sends a progress notification when the client asked for them; a no-op otherwise. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  signal: AbortSignal;
}

export interface ToolDefinition<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  /** The groups (--toolsets) that serve this tool: it is listed when any of them is selected. */
  toolsets: readonly Toolset[];
  annotations: Required<
    Pick<ToolAnnotations, 'readOnlyHint' | 'destructiveHint' | 'idempotentHint' | 'openWorldHint'>
  >;
  handler(args: z.infer<I>, ctx: ToolContext): Promise<ToolResult<z.infer<O>>>;
  /** Calls that may need a yes first (src/mcp/confirm.ts runs the policy). */
  confirm?: ConfirmSpec<z.infer<I>, z.infer<O>>;
}

/** What a call would do to what, read through the port before it is done. */
export interface Preview<O> {
  /** The target's current state in the tool's own output shape. */
  structured: O;
  /** What the call would do, one sentence. */
  action: string;
  /** What runs there now (jobs, tasks), short lines. */
  running?: string[];
  cost?: string;
  /** --confirm destructive asks only when this is set (deletes, stops running work, bills); `always` asks for any preview. */
  risky: boolean;
  /** Identifies the target and its state: a token is good only while this is unchanged. */
  state: unknown;
  /** Set when the call would stop or delete a protected target: refused whatever the confirmation. */
  protectedBy?: string;
}

export interface ConfirmSpec<I, O> {
  /** Preview even with --confirm never: the call stops or deletes, so protection is checked. */
  guards: boolean;
  /** undefined: nothing to confirm (nothing would change, or the call itself will explain why not). */
  preview(args: I, ctx: ToolContext): Promise<Preview<O> | undefined>;
}

/** Identity, for inference: the handler's args and result follow the schemas. */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(
  def: ToolDefinition<I, O>,
): ToolDefinition<I, O> {
  return def;
}

// biome-ignore lint/suspicious/noExplicitAny: a list of tools with different schemas
export type AnyToolDefinition = ToolDefinition<any, any>;
