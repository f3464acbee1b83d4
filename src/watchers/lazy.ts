import type { Observable } from 'rxjs';
import type { Subscribable } from 'xstate';

/** A subscribable whose source is loaded on subscribe. */
export function lazy<T>(load: () => Promise<Observable<T>>): Subscribable<T> {
  return {
    // biome-ignore lint/suspicious/noExplicitAny: XState passes an observer object
    subscribe(observer: any) {
      let closed = false;
      let inner: { unsubscribe(): void } | undefined;
      load().then(
        (source) => {
          if (!closed) inner = source.subscribe(observer);
        },
        (err) => observer.error?.(err),
      );
      return {
        unsubscribe() {
          closed = true;
          inner?.unsubscribe();
        },
      };
    },
  } as Subscribable<T>;
}
