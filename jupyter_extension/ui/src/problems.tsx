/**
 * The panel's Problems view, its "Set up this folder" for a folder without
 * orchestrate.yaml, and the line that says dbt is parsing while the graph loads.
 *
 * The problems are the server's (`GET problems`: the checks `orchestrate
 * validate` runs and the scheduler's `config_error` problems); each offers the
 * action that fixes it: a one-click fix of a plugin (e.g. add
 * `.ipynb_checkpoints/` to `.dbtignore`), the Schedule dialog of a broken
 * notebook, or the file to edit.
 */
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { OrchestrateClient } from './api';
import { Problem, ProblemsList, SetupResult } from './documents';
import { useAction, usePoll } from './hooks';

export interface ProblemActions {
  client: OrchestrateClient;
  openFile: (labPath: string) => void;
  scheduleNotebook: (labPath: string) => void;
}

const KIND_LABELS: Record<string, string> = {
  broken: 'broken node',
  left_out: 'left out',
  schedule: 'broken schedule',
  plugin: 'part of the project',
  warning: 'warning',
  project: 'project'
};

/** The action that fixes one problem: its one-click fix, the notebook's dialog, or its file. */
function FixAction(props: { actions: ProblemActions; problem: Problem; onFixed: (done: string) => void }): JSX.Element | null {
  const { actions, problem } = props;
  const action = useAction();
  if (problem.fix) {
    const fix = problem.fix;
    return (
      <>
        <Button
          small
          disabled={action.busy}
          onClick={() => void action.run(async () => props.onFixed((await actions.client.fixProblem(fix)).done))}
        >
          {problem.fix_label ?? 'Fix'}
        </Button>
        {action.error ? <div className="jp-Orchestrate-serverError">{action.error}</div> : null}
      </>
    );
  }
  if (!problem.lab_path) {
    return null;
  }
  const path = problem.lab_path;
  if (problem.node_kind === 'notebook' && problem.kind === 'broken') {
    return (
      <Button small title="Open its Schedule dialog to fix it" onClick={() => actions.scheduleNotebook(path)}>
        Fix…
      </Button>
    );
  }
  return (
    <Button small title={`Open ${path}`} onClick={() => actions.openFile(path)}>
      Open {path.split('/').pop()}
    </Button>
  );
}

/** Every problem of the project with its fix; `onChanged` after a fix changed the project. */
export function ProblemsView(props: {
  actions: ProblemActions;
  problems: ProblemsList | null;
  error: string | null;
  onChanged: () => void;
}): JSX.Element {
  const [done, setDone] = React.useState<string | null>(null);
  const list = props.problems?.problems ?? [];
  return (
    <section className="jp-Orchestrate-problems" aria-label="problems">
      {props.error ? <div className="jp-Orchestrate-serverError">{props.error}</div> : null}
      {done ? (
        <div className="jp-Orchestrate-problemDone" role="status">
          {done}
        </div>
      ) : null}
      {!props.problems && !props.error ? <div className="jp-Orchestrate-muted jp-Orchestrate-empty">Checking the project…</div> : null}
      {props.problems && !list.length ? (
        <div className="jp-Orchestrate-muted jp-Orchestrate-empty">No problems: every node runs, and `orchestrate validate` has no warning.</div>
      ) : null}
      {list.length ? (
        <ul className="jp-Orchestrate-list" aria-label="problems of the project">
          {list.map(problem => (
            <li key={problem.key} className="jp-Orchestrate-problem" data-problem={problem.key} data-severity={problem.severity}>
              <div className="jp-Orchestrate-nodeLine">
                <span className="jp-Orchestrate-problemKind" data-severity={problem.severity}>
                  {KIND_LABELS[problem.kind] ?? problem.kind}
                </span>
                {problem.node_name ? <b>{problem.node_name}</b> : null}
              </div>
              <div className="jp-Orchestrate-problemMessage">{problem.message}</div>
              <div className="jp-Orchestrate-toolbar">
                <FixAction
                  actions={props.actions}
                  problem={problem}
                  onFixed={message => {
                    setDone(message);
                    props.onChanged();
                  }}
                />
              </div>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

/** For a folder with no orchestrate.yaml: "Set up this folder" (what `orchestrate init` does), then what it found. */
export function SetupView(props: { client: OrchestrateClient; project: string | null; onDone: () => void }): JSX.Element {
  const action = useAction();
  const [result, setResult] = React.useState<SetupResult | null>(null);
  if (result) {
    const found = Object.entries(result.nodes).map(([kind, count]) => `${count} ${kind}${count === 1 ? '' : 's'}`);
    return (
      <section className="jp-Orchestrate-setup" aria-label="set up">
        <div role="status">
          <b>Wrote {result.path}.</b> Found {found.length ? found.join(', ') : 'no nodes yet'}.
        </div>
        <ul className="jp-Orchestrate-setupNotes">
          {result.notes.map(note => (
            <li key={note}>{note}</li>
          ))}
        </ul>
        {result.problem ? <div className="jp-Orchestrate-serverError">{result.problem}</div> : null}
        <Button small onClick={props.onDone}>
          Show the pipeline
        </Button>
      </section>
    );
  }
  return (
    <section className="jp-Orchestrate-setup" aria-label="set up">
      <p>
        <b>This folder{props.project ? ` (${props.project || '/'})` : ''} has no orchestrate.yaml yet.</b> Set it up to see
        its dbt project and notebooks as one pipeline and to schedule notebooks.
      </p>
      <p className="jp-Orchestrate-muted">
        It writes orchestrate.yaml for the dbt project and notebooks found here (as <code>orchestrate init</code> does) and
        adds <code>.ipynb_checkpoints/</code> to the dbt project's <code>.dbtignore</code>.
      </p>
      <Button small disabled={action.busy} onClick={() => void action.run(async () => setResult(await props.client.setUp()))}>
        Set up this folder
      </Button>
      {action.error ? <div className="jp-Orchestrate-serverError">{action.error}</div> : null}
    </section>
  );
}

/** While the graph loads: "dbt is parsing the project (12 s)…", counting, rather than a bare loading line. */
export function LoadingLine(props: { client: OrchestrateClient }): JSX.Element {
  const state = usePoll(() => props.client.loading(), 1000, []);
  const data = state.data;
  const text =
    data?.loading && data.dbt
      ? `dbt is parsing the project (${data.seconds} s)…`
      : data?.loading
        ? `Loading the pipeline (${data.seconds} s)…`
        : 'Loading the pipeline…';
  return (
    <div className="jp-Orchestrate-muted jp-Orchestrate-empty" role="status" aria-label="loading">
      {text}
    </div>
  );
}

/**
 * Over a graph already shown: "dbt is parsing the project (12 s)…" while any new build of the graph parses
 * (after Reload, after a file change made the manifest stale), so the graph shown is known to be the last
 * one; `onDone` when the parse ends (load the graph again). Nothing when dbt is not parsing.
 */
export function ParseLine(props: { client: OrchestrateClient; active: boolean; onDone: () => void }): JSX.Element | null {
  const [parsing, setParsing] = React.useState(false);
  const state = usePoll(() => props.client.loading(), props.active ? (parsing ? 1000 : 2000) : null, []);
  const now = Boolean(state.data?.loading && state.data.dbt);
  const onDone = React.useRef(props.onDone);
  onDone.current = props.onDone;
  React.useEffect(() => {
    if (parsing && !now) {
      onDone.current();
    }
    setParsing(now);
  }, [now]);
  if (!now || !state.data) {
    return null;
  }
  return (
    <div className="jp-Orchestrate-muted jp-Orchestrate-parseLine" role="status" aria-label="loading">
      dbt is parsing the project ({state.data.seconds} s)…
    </div>
  );
}
