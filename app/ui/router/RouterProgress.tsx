import { useStudio } from '../../state/store.ts';
import { waitingFor } from '../../studio/gpu-jobs.ts';
import { headEtaSeconds } from '../../studio/router-plan.ts';
import { ProgressBar } from '../components/ProgressBar.tsx';

const STAGES = {
  model: 'loading the base model',
  data: 'preparing the tasks',
  features: 'computing the base model’s features of the prompts',
  head: 'training the head',
  validate: 'routing the validation prompts',
  store: 'storing the router in the library',
} as const;

/** What the router's training is doing, its head's progress with an ETA, and Cancel. */
export function RouterProgress() {
  const training = useStudio((state) => state.routerTraining);
  if (training.status !== 'running') return null;
  const last = training.history.at(-1);
  return (
    <div className="router-progress">
      <p role="status" data-testid="router-status">
        {training.waitingBehind ? waitingFor(training.waitingBehind) : `Training the router: ${training.stage ? STAGES[training.stage] : 'starting'}${training.detail ? ` (${training.detail})` : ''}…`}
      </p>
      {training.stage === 'data' && training.prepare && <ProgressBar label={`Preparing ${training.prepare.task}`} value={training.prepare.done} max={training.prepare.total ?? null} />}
      {(training.stage === 'head' || last) && (
        <ProgressBar
          label="Router training progress"
          value={last?.step ?? 0}
          max={training.maxSteps}
          {...(headEtaSeconds(training.history, training.maxSteps) !== undefined ? { etaSeconds: headEtaSeconds(training.history, training.maxSteps)! } : {})}
          detail={last ? `step ${last.step} of at most ${training.maxSteps} (early stopping may end it sooner)` : undefined}
        />
      )}
      <button type="button" className="secondary" onClick={() => useStudio.getState().cancelRouterTraining()}>
        Cancel
      </button>
    </div>
  );
}
