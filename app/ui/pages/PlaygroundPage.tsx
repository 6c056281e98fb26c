/** Placeholder: the Playground page is written next. */
export function PlaygroundPage() {
  return (
    <section className="panel" aria-labelledby="playground-title">
      <h2 id="playground-title">Playground</h2>
    </section>
  );
}
