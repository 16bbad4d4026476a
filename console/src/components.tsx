// Small building blocks shared by the pages.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiError } from './api';
import { ago, dateTime } from './format';
import { onLinkClick } from './router';
import type { Tags } from './types';

export function Link(props: { href: string; children: ComponentChildren; class?: string; testid?: string; title?: string; count?: number }) {
  return (
    <a href={props.href} onClick={onLinkClick} class={props.class} data-testid={props.testid} title={props.title} data-count={props.count}>
      {props.children}
    </a>
  );
}

export function ErrorBanner({ error, onRetry }: { error?: ApiError | Error | string | null; onRetry?: () => void }) {
  if (!error) return null;
  const text = typeof error === 'string' ? error : error.message;
  const code = typeof error === 'object' && 'code' in error ? (error as ApiError).code : undefined;
  return (
    <div class="error-banner" role="alert" data-testid="error-banner">
      <span>
        {text}
        {code && !code.startsWith('HTTP_') && code !== 'NETWORK' ? <span class="muted"> ({code})</span> : null}
      </span>
      {onRetry ? (
        <button type="button" class="btn small" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="muted loading" aria-live="polite">
      {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function StatusBadge({ status, testid }: { status: string; testid?: string }) {
  return (
    <span class={`badge s-${status.toLowerCase()}`} data-testid={testid}>
      {status}
    </span>
  );
}

export function TagList({ tags }: { tags: Tags | undefined }) {
  const entries = Object.entries(tags ?? {});
  if (!entries.length) return <span class="muted">none</span>;
  return (
    <span class="tags">
      {entries.map(([k, v]) => (
        <span class="tag" key={k}>
          {k}={v}
        </span>
      ))}
    </span>
  );
}

export function Time({ iso, now }: { iso?: string | null; now?: number }) {
  if (!iso) return <span class="muted">–</span>;
  return (
    <time dateTime={iso} title={dateTime(iso)}>
      {ago(iso, now)}
    </time>
  );
}

/**
 * A button that asks before it acts: a modal dialog (Escape or Cancel closes it) that exists only
 * while open, so the page has one `confirm-yes` at a time.
 */
export function ConfirmButton(props: {
  label: string;
  question: string;
  detail?: string;
  confirmLabel?: string;
  danger?: boolean;
  small?: boolean;
  disabled?: boolean;
  testid?: string;
  onConfirm: () => void;
}) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    if (open && ref.current && !ref.current.open) ref.current.showModal();
  }, [open]);
  return (
    <>
      <button
        type="button"
        class={`btn${props.danger ? ' danger' : ''}${props.small ? ' small' : ''}`}
        disabled={props.disabled}
        data-testid={props.testid}
        onClick={() => setOpen(true)}
      >
        {props.label}
      </button>
      {open ? (
        <dialog ref={ref} class="confirm" aria-label={props.question} onClose={() => setOpen(false)}>
          <h2>{props.question}</h2>
          {props.detail ? <p>{props.detail}</p> : null}
          <div class="actions">
            <button type="button" class="btn" data-testid="confirm-cancel" onClick={() => ref.current?.close()}>
              Cancel
            </button>
            <button
              type="button"
              class={`btn ${props.danger ? 'danger' : 'primary'}`}
              data-testid="confirm-yes"
              onClick={() => {
                ref.current?.close();
                props.onConfirm();
              }}
            >
              {props.confirmLabel ?? props.label}
            </button>
          </div>
        </dialog>
      ) : null}
    </>
  );
}

/** A section with a heading and optional actions on the right. */
export function Section(props: { title: string; actions?: ComponentChildren; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" id={props.id} aria-labelledby={props.id ? `${props.id}-h` : undefined}>
      <div class="card-head">
        <h2 id={props.id ? `${props.id}-h` : undefined}>{props.title}</h2>
        {props.actions ? <div class="actions">{props.actions}</div> : null}
      </div>
      {props.children}
    </section>
  );
}

/** Sets the document title for the page shown. */
export function useTitle(title: string) {
  useEffect(() => {
    document.title = title ? `${title} · edgefleet` : 'edgefleet';
  }, [title]);
}

/** Runs an action, keeping its error and whether it runs, for buttons. */
export function useAction(): [boolean, Error | null, (f: () => Promise<unknown>) => Promise<void>, () => void] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const run = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return [busy, error, run, () => setError(null)];
}
