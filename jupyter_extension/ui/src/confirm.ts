/**
 * Asking before acting: Run now of the whole pipeline, Cancel run, Unschedule
 * and Delete runs each ask in a JupyterLab dialog; the button that acts names
 * the action, the other one keeps things as they are.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

export interface Confirmation {
  title: string;
  body: string;
  /** The label of the button that acts, e.g. "Unschedule". */
  accept: string;
  /** The label of the button that does nothing (default: Cancel). */
  reject?: string;
  /** A destructive action gets the warning style. */
  danger?: boolean;
}

/** True when the user chose to act. */
export async function confirm(options: Confirmation): Promise<boolean> {
  const accept = options.danger
    ? Dialog.warnButton({ label: options.accept })
    : Dialog.okButton({ label: options.accept });
  const result = await showDialog({
    title: options.title,
    body: options.body,
    buttons: [Dialog.cancelButton({ label: options.reject ?? 'Cancel' }), accept],
    defaultButton: 0
  });
  return result.button.accept;
}
