/** Placeholder: the Mixture page is written next. */
export function MixturePage() {
  return (
    <section className="panel" aria-labelledby="mixture-title">
      <h2 id="mixture-title">Mixture</h2>
    </section>
  );
}
