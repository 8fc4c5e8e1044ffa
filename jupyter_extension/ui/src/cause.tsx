/**
 * Why a node failed, where the eye lands: the first lines of its error (dbt's
 * node message, e.g. `Parser Error: syntax error at or near ","`, or the
 * notebook's cell and Python exception) as the server cuts them for
 * `orchestrate show`, and an "Open log" button beside them that opens the
 * try's whole log in a tab.
 */
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { OrchestrateClient } from './api';
import { LogActions } from './logs';
import { shortName } from './status';

export function ErrorCause(props: {
  client: OrchestrateClient;
  openLog?: LogActions['openLog'];
  lines: string[];
  runId: string;
  nodeId: string;
  tryNumber?: number;
  tone?: 'failed' | 'warned';
}): JSX.Element | null {
  const [error, setError] = React.useState<string | null>(null);
  if (!props.lines.length) {
    return null;
  }
  const openLog = props.openLog;
  const open = async () => {
    if (!openLog) {
      return;
    }
    try {
      const logs = await props.client.logs(props.runId, props.nodeId, props.tryNumber);
      const entry = logs.attempts[logs.attempts.length - 1];
      if (!entry || entry.log === null) {
        setError('This try left no log.');
        return;
      }
      setError(null);
      openLog(`${shortName(props.nodeId)} · try ${entry.try_number} · ${props.runId}`, entry.log);
    } catch (reason) {
      setError(reason instanceof Error ? reason.message : String(reason));
    }
  };
  return (
    <div className="jp-Orchestrate-cause" data-tone={props.tone ?? 'failed'}>
      <pre className="jp-Orchestrate-causeText" aria-label={`why ${shortName(props.nodeId)} failed`}>
        {props.lines.join('\n')}
      </pre>
      {openLog ? (
        <Button small minimal className="jp-Orchestrate-openLog" title={`Open the whole log of ${shortName(props.nodeId)} in a tab`} onClick={() => void open()}>
          Open log
        </Button>
      ) : null}
      {error ? <div className="jp-Orchestrate-muted">{error}</div> : null}
    </div>
  );
}
