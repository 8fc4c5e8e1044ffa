/**
 * The Run… dialog's preview of the run: what it will run, what it will
 * reuse (and from which run) and what it leaves out, each with why, from
 * `GET /plan` (the rule the run itself applies; nothing is written). It asks
 * again, after a short pause, whenever the selection, the logical date or
 * "Only what changed" changes.
 */
import * as React from 'react';

import { OrchestrateClient, RunPlan } from './api';
import { PLAN_LABELS as LABELS, planSummary } from './runRecords';
import { shortName } from './status';

const DELAY_MS = 500;

export function PlanPreview(props: { client: OrchestrateClient; selection: string; onlyChanged: boolean; logicalDate: string | null }): JSX.Element {
  const [plan, setPlan] = React.useState<RunPlan | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(true);
  React.useEffect(() => {
    let current = true;
    setLoading(true);
    const timer = setTimeout(() => {
      props.client
        .plan(props.selection.trim() || null, props.onlyChanged, props.logicalDate)
        .then(found => {
          if (current) {
            setPlan(found);
            setError(null);
          }
        })
        .catch(reason => {
          if (current) {
            setPlan(null);
            setError(reason instanceof Error ? reason.message : String(reason));
          }
        })
        .finally(() => {
          if (current) {
            setLoading(false);
          }
        });
    }, DELAY_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [props.selection, props.onlyChanged, props.logicalDate]);
  const nodes = (plan?.nodes ?? []).filter(node => !node.id.startsWith('test.'));
  const tests = (plan?.nodes ?? []).length - nodes.length;
  return (
    <div className="jp-Orchestrate-planPreview" aria-live="polite" aria-busy={loading}>
      {error ? <div className="jp-Orchestrate-fieldError">{error}</div> : null}
      {!plan && !error ? <div className="jp-Orchestrate-muted">Working out what would run…</div> : null}
      {plan ? (
        <details>
          <summary>
            <span className="jp-Orchestrate-planSummary">{planSummary(plan)}</span>
            {tests ? <span className="jp-Orchestrate-muted"> (with {tests} dbt tests)</span> : null}
            {loading ? <span className="jp-Orchestrate-muted"> · updating…</span> : null}
          </summary>
          <ul className="jp-Orchestrate-planList" aria-label="what the run would do">
            {nodes.map(node => (
              <li key={node.id} data-node-id={node.id} data-action={node.action}>
                <span className="jp-Orchestrate-badge" data-status={node.action === 'run' ? 'pending' : node.action === 'reused' ? 'reused' : 'broken'}>
                  {LABELS[node.action] ?? node.action}
                </span>{' '}
                <span title={node.id}>{shortName(node.id)}</span>
                {node.reason ? <span className="jp-Orchestrate-muted">: {node.reason}</span> : null}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </div>
  );
}
