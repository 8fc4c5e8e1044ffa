/**
 * Logs as an analyst reads them: without terminal colour codes, lines kept
 * whole (scroll sideways, never wrapped at the sidebar's width), and a log can
 * be opened in a tab of its own, copied or downloaded.
 */
import { Button, copyIcon, downloadIcon, launchIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { logFileName, stripAnsi } from './viewModel';

/** Save `text` as a file through the browser. */
export function download(text: string, name: string, type = 'text/plain'): void {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function copy(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement('textarea');
  area.value = text;
  document.body.appendChild(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}

export interface LogActions {
  /** Open the log in a main-area tab. */
  openLog: (title: string, text: string) => void;
}

/** One try's log with its buttons. */
export function LogView(props: {
  actions: LogActions;
  nodeId: string;
  tryNumber: number;
  log: string | null;
  truncated: boolean;
}): JSX.Element {
  const text = React.useMemo(() => (props.log === null ? null : stripAnsi(props.log)), [props.log]);
  const [copied, setCopied] = React.useState(false);
  const name = logFileName(props.nodeId, props.tryNumber);
  if (text === null) {
    return <div className="jp-Orchestrate-muted">(no log file)</div>;
  }
  return (
    <div className="jp-Orchestrate-logBox">
      <div className="jp-Orchestrate-toolbar">
        <Button small minimal title="Open the log in a tab of its own" aria-label="Open log in a tab" onClick={() => props.actions.openLog(name, text)}>
          <launchIcon.react tag="span" /> Tab
        </Button>
        <Button
          small
          minimal
          title="Copy the log"
          aria-label="Copy log"
          onClick={async () => {
            await copy(text);
            setCopied(true);
            setTimeout(() => setCopied(false), 1500);
          }}
        >
          <copyIcon.react tag="span" /> {copied ? 'Copied' : 'Copy'}
        </Button>
        <Button small minimal title={`Download ${name}`} aria-label="Download log" onClick={() => download(text, name)}>
          <downloadIcon.react tag="span" /> Download
        </Button>
        {props.truncated ? <span className="jp-Orchestrate-muted">last 512 KiB</span> : null}
      </div>
      <pre className="jp-Orchestrate-log" tabIndex={0} aria-label={`log of try ${props.tryNumber}`}>
        {text}
      </pre>
    </div>
  );
}
