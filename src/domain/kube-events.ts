/**
 * Kubernetes events of a RayCluster, RayJob or RayService and of their pods, as a compact list:
 * deduplicated by reason and object (counts summed, the last time kept), Warnings first, at most
 * a few, each with a hint for the common reasons. Pure. Event messages come from the API server
 * and the controllers and are untrusted: bounded, redacted and quoted before they are shown.
 */
import { z } from 'zod';
import { type SecretSink, untrustedText } from './redact.js';

export const MAX_EVENTS = 10;

export const KubeEventSchema = z.object({
  reason: z.string(),
  type: z.string(),
  object: z.string(),
  message: z.string(),
  count: z.number(),
  last_seen: z.string().optional(),
  hint: z.string().optional(),
});
export type KubeEventView = z.infer<typeof KubeEventSchema>;

export const KubeEventsSchema = z
  .array(KubeEventSchema)
  .max(MAX_EVENTS)
  .describe('KubeRay: Kubernetes events of it and its pods');

/** What reading the events gave: the list, and why it may be incomplete. */
export interface KubeEventsRead {
  events: KubeEventView[];
  /** e.g. "events not readable (RBAC: list events)". */
  note?: string;
}

/** One event as the API server gives it (core v1; events.k8s.io/v1 fields also read). */
export interface RawKubeEvent {
  reason?: string;
  type?: string;
  message?: string;
  note?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string };
  regarding?: { kind?: string; name?: string };
  lastTimestamp?: string;
  eventTime?: string;
  firstTimestamp?: string;
  series?: { count?: number; lastObservedTime?: string };
  deprecatedCount?: number;
  deprecatedLastTimestamp?: string;
  metadata?: { creationTimestamp?: string };
}

/** A pod as far as its container terminations go (for OOMKilled, which is no event). */
export interface RawPodStatus {
  metadata: { name: string };
  status?: {
    containerStatuses?: {
      name?: string;
      restartCount?: number;
      state?: { terminated?: { reason?: string; exitCode?: number; finishedAt?: string } };
      lastState?: { terminated?: { reason?: string; exitCode?: number; finishedAt?: string } };
    }[];
  };
}

interface Hint {
  reason: RegExp;
  message?: RegExp;
  hint: string;
}

const HINTS: Hint[] = [
  {
    reason: /^FailedScheduling$/,
    message: /Insufficient (?:nvidia\.com\/gpu|amd\.com\/gpu|[\w.-]*gpu)/i,
    hint: 'no node has the requested GPU: lower the GPU request or add a GPU node pool',
  },
  {
    reason: /^FailedScheduling$/,
    message: /Insufficient cpu/i,
    hint: 'no node has that much free CPU: lower num_cpus of the pod or add nodes',
  },
  {
    reason: /^FailedScheduling$/,
    message: /Insufficient memory/i,
    hint: 'no node has that much free memory: lower the memory request or add nodes',
  },
  {
    reason: /^FailedScheduling$/,
    message: /taint|node affinity|node selector|didn't match/i,
    hint: "no node matches the pod's node selector, affinity or tolerations: fix them or add matching nodes",
  },
  {
    reason: /^FailedScheduling$/,
    message: /persistentvolumeclaim|unbound/i,
    hint: 'a volume claim is not bound: check the PVC and its storage class',
  },
  {
    reason: /^FailedScheduling$/,
    hint: 'the scheduler found no node for the pod: check its resource requests against the nodes',
  },
  {
    reason: /^OOMKilled$/,
    hint: 'the container ran out of memory: raise the pod memory limit or use less memory per worker',
  },
  {
    reason: /^(?:BackOff|CrashLoopBackOff)$/,
    message: /pull/i,
    hint: 'the image cannot be pulled: check the image name and tag and the registry credentials',
  },
  {
    reason: /^(?:BackOff|CrashLoopBackOff)$/,
    hint: 'the container keeps exiting: read its log (kubectl logs --previous) for the cause',
  },
  {
    reason: /^(?:Failed|ErrImagePull|ImagePullBackOff|InspectFailed)$/,
    message: /pull|image/i,
    hint: 'the image cannot be pulled: check the image name and tag and the registry credentials',
  },
  {
    reason: /^Unhealthy$/,
    hint: 'a probe fails: the Ray process in the pod is not answering (often still starting, or short of memory)',
  },
  {
    reason: /^(?:FailedMount|FailedAttachVolume)$/,
    hint: 'a volume cannot be mounted: check that the Secret, ConfigMap or PVC it names exists',
  },
  {
    reason: /^FailedCreate/,
    message: /quota/i,
    hint: 'a resource quota refuses the pod: lower the requests or raise the namespace quota',
  },
  {
    reason: /^FailedCreate/,
    hint: 'the controller could not create the pod: the message says why (quota, admission, invalid spec)',
  },
  {
    reason: /^Evicted$/,
    hint: 'the node ran short of a resource and evicted the pod: raise its requests or add nodes',
  },
];

/** A hint for an event reason (and message), if it is a common one. */
export function hintFor(reason: string, message = ''): string | undefined {
  for (const h of HINTS) if (h.reason.test(reason) && (!h.message || h.message.test(message))) return h.hint;
  return undefined;
}

const timeOf = (e: RawKubeEvent): string | undefined =>
  e.series?.lastObservedTime ??
  e.lastTimestamp ??
  e.deprecatedLastTimestamp ??
  e.eventTime ??
  e.firstTimestamp ??
  e.metadata?.creationTimestamp ??
  undefined;

const countOf = (e: RawKubeEvent): number =>
  Math.max(1, Number(e.series?.count ?? e.count ?? e.deprecatedCount ?? 1) || 1);

const plain = (s: string | undefined, max: number) => (s ?? '').replace(/[^\w./:-]/g, '').slice(0, max);

/**
 * The events to show: deduplicated by reason and object (the newest message kept), Warnings
 * first, then the newest; at most `max`.
 */
export function summarizeEvents(
  raw: readonly RawKubeEvent[],
  opts: { secrets?: Pick<SecretSink, 'text'>; max?: number } = {},
): KubeEventView[] {
  const byKey = new Map<string, { view: KubeEventView; at: number; rawMessage: string }>();
  for (const e of raw) {
    const obj = e.involvedObject ?? e.regarding ?? {};
    const reason = plain(e.reason, 60) || 'Unknown';
    const object = `${plain(obj.kind, 40) || 'Object'}/${plain(obj.name, 120)}`;
    const type = e.type === 'Warning' ? 'Warning' : plain(e.type, 20) || 'Normal';
    const when = timeOf(e);
    const at = when ? Date.parse(when) || 0 : 0;
    const rawMessage = String(e.message ?? e.note ?? '');
    const key = `${reason}\u0000${object}`;
    const seen = byKey.get(key);
    if (seen) {
      seen.view.count += countOf(e);
      if (at >= seen.at) {
        seen.at = at;
        seen.rawMessage = rawMessage;
        seen.view.last_seen = when ?? seen.view.last_seen;
        if (type === 'Warning') seen.view.type = type;
      }
      continue;
    }
    byKey.set(key, {
      view: { reason, type, object, message: '', count: countOf(e), last_seen: when },
      at,
      rawMessage,
    });
  }
  return [...byKey.values()]
    .sort((a, b) => {
      const w = Number(b.view.type === 'Warning') - Number(a.view.type === 'Warning');
      return w || b.at - a.at;
    })
    .slice(0, opts.max ?? MAX_EVENTS)
    .map(({ view, rawMessage }) => {
      const hint = hintFor(view.reason, rawMessage);
      return {
        ...view,
        message: untrustedText(rawMessage, 240, opts.secrets),
        ...(view.last_seen && { last_seen: new Date(Date.parse(view.last_seen) || 0).toISOString() }),
        ...(hint && { hint }),
      };
    });
}

/**
 * Container terminations that are no event but belong with them: OOMKilled (and Error with exit
 * code 137) from a pod's container state or last state, as Warning events of the pod.
 */
export function terminationEvents(pods: readonly RawPodStatus[]): RawKubeEvent[] {
  const out: RawKubeEvent[] = [];
  for (const pod of pods) {
    for (const cs of pod.status?.containerStatuses ?? []) {
      for (const t of [cs.state?.terminated, cs.lastState?.terminated]) {
        if (t?.reason !== 'OOMKilled') continue;
        out.push({
          reason: 'OOMKilled',
          type: 'Warning',
          message: `container ${cs.name ?? '?'} was killed for memory (exit code ${t.exitCode ?? 137}); restarts: ${cs.restartCount ?? 0}`,
          involvedObject: { kind: 'Pod', name: pod.metadata.name },
          lastTimestamp: t.finishedAt,
          count: 1,
        });
        break;
      }
    }
  }
  return out;
}

/** One line for a text summary: the first Warning, with its hint. */
export function eventsLine(events: readonly KubeEventView[] | undefined): string {
  const w = events?.find((e) => e.type === 'Warning');
  if (!w) return '';
  return ` Event: ${w.reason} on ${w.object}${w.count > 1 ? ` (x${w.count})` : ''}${w.hint ? ` — ${w.hint}` : ''}.`;
}
