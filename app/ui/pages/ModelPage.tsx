/** Placeholder: the Model page is written next. */
export function ModelPage() {
  return (
    <section className="panel" aria-labelledby="model-title">
      <h2 id="model-title">Model</h2>
    </section>
  );
}
