import type { MixtureEpochs } from '../../studio/mixture-preview.ts';

/** How many change steps are listed by number; more are summarised. */
const LISTED_CHANGES = 8;

/**
 * Annealed strategies change the task probabilities only when a new mixture epoch (every task's
 * examples once) starts. Says where that happens, and why the chart is flat when the run is
 * shorter than one mixture epoch.
 */
export function AnnealingNote({ strategy, epochs, optimizerSteps }: { strategy: 'annealed' | 'reverse_annealed'; epochs: MixtureEpochs; optimizerSteps: number }) {
  const firstEpoch = strategy === 'annealed' ? 'proportional to task size' : 'pᵢ ∝ nᵢ^0.2, close to uniform';
  if (epochs.count === 1) {
    return (
      <p className="banner warn" role="note" data-testid="annealing-note">
        This run ({optimizerSteps} steps) is shorter than one mixture epoch ({epochs.stepsPerEpoch} steps, every task’s examples once), so the schedule never changes: the
        probabilities stay at the first epoch’s ({firstEpoch}) and the chart is flat. The schedule would first change at step {epochs.stepsPerEpoch + 1}; a run of at least{' '}
        {2 * epochs.stepsPerEpoch} steps (2 epochs) anneals.
      </p>
    );
  }
  const listed = epochs.changeSteps.slice(0, LISTED_CHANGES).join(', ');
  const more = epochs.changeSteps.length - LISTED_CHANGES;
  return (
    <p className="muted" role="note" data-testid="annealing-note">
      {epochs.count} mixture epochs of {epochs.stepsPerEpoch} steps: the probabilities start {firstEpoch} and change at the start of each epoch, at step{' '}
      {listed}
      {more > 0 ? ` and ${more} more` : ''} (dashed lines on the chart).
    </p>
  );
}
