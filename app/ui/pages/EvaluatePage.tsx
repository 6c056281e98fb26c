/** Placeholder: the Evaluate page is written next. */
export function EvaluatePage() {
  return (
    <section className="panel" aria-labelledby="evaluate-title">
      <h2 id="evaluate-title">Evaluate</h2>
    </section>
  );
}
