/**
 * The confirmation of destructive and billed calls, as a layer around the tools that declare a
 * `confirm` spec (tool.ts). Before such a call runs, its preview reads the target's current state
 * through the port; then:
 *
 * - a protected target (`ray-mcp/protected`, or a local cluster started with protected) is refused
 *   for stop and delete, whatever the policy or the confirmation;
 * - `--confirm never` goes ahead; `destructive` asks when the preview is risky (deletes, stops
 *   running work, bills); `always` asks whenever there is a preview;
 * - asking: a client that declared form elicitation gets `inputRequired` (the SDK turns it into
 *   elicitation/create for 2025 clients; 2026-07-28 clients answer on their retry); decline or
 *   cancel means nothing happens. Any other client gets the preview and a `confirm_token`; the same
 *   call with that token does it.
 *
 * The token (and the input-required request state) is an HMAC, with a per-process secret, over
 * the tool, its normalized arguments, the preview's state and an expiry: a token for a target
 * that changed since is refused with the new preview.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { ConfirmPolicy } from '../config.js';
import { RayMcpError } from '../domain/errors.js';
import type { Confirmation } from '../domain/tools/confirm.js';
import type { AnyToolDefinition, Preview, ToolContext } from './tools/tool.js';

/** How long a confirm_token stays good. */
export const TOKEN_TTL_SECONDS = 600;
/** Per process: tokens do not survive a restart, and every server of this process (HTTP included) shares it. */
const SECRET = randomBytes(32);

/** What the layer decided: run the handler, or answer with this result (and audit it as refused). */
export type Gate =
  | { go: true }
  | {
      go: false;
      result: CallToolResult | InputRequiredResult;
      /** Absent for an input-required answer: the call is still going on. */
      audit?: { code: 'unconfirmed' | 'declined'; message: string };
    };

const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  ) ?? 'null';

function mac(tool: string, args: unknown, state: unknown, exp: string): string {
  return createHmac('sha256', SECRET)
    .update(`${tool}\n${canonical(args)}\n${canonical(state)}\n${exp}`)
    .digest('base64url')
    .slice(0, 32);
}

export function mintToken(tool: string, args: unknown, state: unknown, now = Date.now()): string {
  const exp = Math.floor(now / 1000 + TOKEN_TTL_SECONDS).toString(36);
  return `${exp}.${mac(tool, args, state, exp)}`;
}

/** 'ok', or why not: malformed or forged ('invalid'), too old ('expired'), or for another state ('changed'). */
export function checkToken(
  token: string,
  tool: string,
  args: unknown,
  state: unknown,
  now = Date.now(),
): 'ok' | 'invalid' | 'expired' | 'changed' {
  const m = /^([0-9a-z]{1,10})\.([A-Za-z0-9_-]{32})$/.exec(token);
  if (!m) return 'invalid';
  const [, exp, given] = m as unknown as [string, string, string];
  const want = mac(tool, args, state, exp);
  if (!timingSafeEqual(Buffer.from(given), Buffer.from(want))) return 'changed';
  if (Number.parseInt(exp, 36) * 1000 < now) return 'expired';
  return 'ok';
}

/** Whether the client can answer a form elicitation: per request (2026-07-28) or from initialize (2025). */
export function canElicit(mcp: ServerContext, initialized: ClientCapabilities | undefined): boolean {
  const perRequest = (mcp.mcpReq.envelope as Record<string, unknown> | undefined)?.[
    CLIENT_CAPABILITIES_META_KEY
  ] as ClientCapabilities | undefined;
  const e = (perRequest ?? initialized)?.elicitation as Record<string, unknown> | undefined;
  // An empty elicitation capability means form (the 2025-06-18 shape).
  return e !== undefined && (e.form !== undefined || e.url === undefined);
}

const ELICIT_SCHEMA = {
  type: 'object' as const,
  properties: {
    confirm: { type: 'boolean' as const, title: 'Go ahead', description: 'Yes: do it. No: nothing happens.' },
  },
  required: ['confirm'],
};

function describe(p: Preview<unknown>): string {
  return (
    `${p.action}.` +
    (p.running?.length ? ` Running there: ${p.running.join('; ')}.` : '') +
    (p.cost ? ` Cost: ${p.cost}.` : '')
  );
}

function confirmation(p: Preview<unknown>, status: Confirmation['status'], token?: string): Confirmation {
  return {
    status,
    action: p.action,
    running: p.running?.length ? p.running : undefined,
    cost: p.cost,
    confirm_token: token,
    expires_in_seconds: token ? TOKEN_TTL_SECONDS : undefined,
  };
}

function previewResult(tool: string, args: unknown, p: Preview<unknown>): CallToolResult {
  const token = mintToken(tool, args, p.state);
  return {
    content: [
      {
        type: 'text',
        text:
          `Not done yet: ${describe(p)} Ask the user; to go ahead call ${tool} again with the same arguments ` +
          `and confirm_token="${token}" (good for ${TOKEN_TTL_SECONDS / 60} min, while nothing there changes).`,
      },
    ],
    structuredContent: { ...(p.structured as object), confirmation: confirmation(p, 'needed', token) },
  };
}

/**
 * Runs the policy for one call of a tool with a confirm spec. `args` are the call's arguments
 * without confirm_token. Throws RayMcpError for a protected target or a bad or stale token.
 */
export async function confirmGate(
  tool: AnyToolDefinition,
  args: Record<string, unknown>,
  token: string | undefined,
  ctx: ToolContext,
  mcp: ServerContext,
  policy: ConfirmPolicy,
  initialized: () => ClientCapabilities | undefined,
): Promise<Gate> {
  const spec = tool.confirm!;
  if (policy === 'never' && !spec.guards) return { go: true };
  const preview = await spec.preview(args, ctx);
  if (!preview) return { go: true };
  if (preview.protectedBy) {
    throw new RayMcpError(
      'forbidden',
      `${preview.action}: refused, it is protected (${preview.protectedBy}).`,
      'Nothing was done. Remove the protection first if it really should go (the ray-mcp/protected label or annotation; a local cluster started with protected ends when ray-mcp exits).',
    );
  }
  const asks = policy === 'always' || (policy === 'destructive' && preview.risky);
  if (!asks) return { go: true };

  // The answer to an elicitation (2026-07-28 retry, or the SDK's 2025 shim calling again).
  const answer = inputResponse(mcp.mcpReq.inputResponses, 'confirm');
  const state = mcp.mcpReq.requestState<string>();
  if (answer.kind === 'elicit') {
    if (answer.action !== 'accept' || answer.content?.confirm !== true) {
      return {
        go: false,
        result: {
          content: [{ type: 'text', text: `Nothing was done: the user declined. ${describe(preview)}` }],
          structuredContent: {
            ...(preview.structured as object),
            confirmation: confirmation(preview, 'declined'),
          },
        },
        audit: { code: 'declined', message: `declined: ${preview.action}` },
      };
    }
    token = typeof state === 'string' ? state : '';
  }

  if (token !== undefined) {
    const verdict = checkToken(token, tool.name, args, preview.state);
    if (verdict === 'ok') return { go: true };
    const fresh = mintToken(tool.name, args, preview.state);
    const why =
      verdict === 'invalid'
        ? 'confirm_token is not one ray-mcp issued'
        : verdict === 'expired'
          ? 'confirm_token has expired'
          : 'the target changed since the preview (or the token is for other arguments)';
    throw new RayMcpError(
      verdict === 'invalid' ? 'invalid_input' : 'conflict',
      `Nothing was done: ${why}. Now: ${describe(preview)}`,
      `Ask the user again; to go ahead call ${tool.name} with the same arguments and confirm_token="${fresh}".`,
    );
  }

  if (canElicit(mcp, initialized())) {
    return {
      go: false,
      result: inputRequired({
        inputRequests: {
          confirm: inputRequired.elicit({
            mode: 'form',
            message: `${tool.title}? ${describe(preview)}`,
            requestedSchema: ELICIT_SCHEMA,
          }),
        },
        requestState: mintToken(tool.name, args, preview.state),
      }),
    };
  }
  return {
    go: false,
    result: previewResult(tool.name, args, preview),
    audit: { code: 'unconfirmed', message: `preview: ${preview.action}` },
  };
}
