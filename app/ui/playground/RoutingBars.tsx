import type { RoutedPrompt } from '../../route/router.ts';

/**
 * The router's probability for each expert as a bar, most probable first, and who answered: the top
 * expert, the fallback when the top probability was under the threshold, or the experts mixed.
 */
export function RoutingBars({ routing }: { routing: RoutedPrompt }) {
  const ranked = Object.entries(routing.probabilities).sort((a, b) => b[1] - a[1]);
  return (
    <div className="routing" data-testid="routing">
      <ul className="routing-bars" aria-label="Router probabilities">
        {ranked.map(([expert, p]) => (
          <li key={expert} className={expert === routing.chosen ? 'chosen' : undefined}>
            <span className="routing-expert">{expert}</span>
            <span className="routing-bar" aria-hidden="true">
              <span style={{ width: `${(100 * p).toFixed(1)}%` }} />
            </span>
            <span className="routing-p">{(100 * p).toFixed(1)}%</span>
          </li>
        ))}
      </ul>
      <p className="routing-choice" data-testid="routed-expert">
        {routing.mixture
          ? `Answered by a mixture: ${routing.mixture.map(({ expert, weight }) => `${expert} ${(100 * weight).toFixed(0)}%`).join(', ')}`
          : routing.fellBack
            ? `Answered by the fallback “${routing.chosen}”: no expert reached the router’s confidence threshold`
            : `Answered by “${routing.chosen}”${routing.chosen === 'base' ? ' (the base model, no adapter)' : ''}`}
      </p>
      {routing.notice && (
        <p className="muted" role="note">
          {routing.notice}
        </p>
      )}
    </div>
  );
}
